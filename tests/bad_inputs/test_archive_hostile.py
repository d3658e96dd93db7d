"""Hostile archives for `geohub annotate` (issue #21 cases 1 and 3): station codes from file headers that try to
name paths outside the output folder, and truncated or corrupt miniSEED files that must be listed in errors.csv
with what was lost (never a silent "ok")."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from geohub.cli import app
from geohub.inference.archive_sources import unsafe_code
from tests.inference.archive_fixtures import save_tiny_picker

HOSTILE = {
    "network": ["../../..", "..", "/../../.", "/tmp", "a/b", "A\x00B", "É", "é", "X" * 9, " ", "a.b", "*"],
    "station": ["/../../.", "../..", "", "..", "STA/..", "ÄÖÜ"],
    "location": ["..", "/", "\\x"],
}


@pytest.fixture(scope="module")
def picker(tmp_path_factory):
    return save_tiny_picker(tmp_path_factory.mktemp("picker") / "picker")


def _trace(network="GH", station="AAA", location="", channel="HHZ", n=6000, seed=0):
    from obspy import Trace, UTCDateTime

    data = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    return Trace(data, header={"network": network, "station": station, "location": location, "channel": channel,
                               "sampling_rate": 100.0, "starttime": UTCDateTime("2024-01-01")})  # fmt: skip


def _annotate(picker, source, output, *extra):
    args = ["annotate", str(source), "--model", str(picker), "--output", str(output), "--chunk-seconds", "3600",
            "--no-plot", "--no-progress", *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    with open(output / "errors.csv", newline="") as handle:
        return result, list(csv.DictReader(handle))


def _files_under(folder):
    return {os.path.join(d, f) for d, _, files in os.walk(folder) for f in files}


@pytest.mark.parametrize("field,value", [(f, v) for f, values in HOSTILE.items() for v in values])
def test_unsafe_codes_are_recognised(field, value):
    assert unsafe_code({"network": "GH", "station": "AAA", "location": "", "channel": "HHZ", field: value})


@pytest.mark.parametrize("codes", [{}, {"location": "00"}, {"network": "", "location": "--"}, {"station": "A_1-b"}])
def test_ordinary_codes_are_accepted(codes):
    assert unsafe_code({"network": "GH", "station": "AAA", "location": "", "channel": "HHZ", **codes}) is None


@pytest.mark.parametrize("fmt", ["SAC", "MSEED"])
def test_hostile_header_codes_never_write_outside_the_output_folder(picker, tmp_path, fmt):
    """Each hostile code in a file header: the file is refused in errors.csv, nothing is written outside `out`
    (a sandbox a few levels deep, so "../../.." would land inside it and be seen), and a good file still runs."""
    sandbox = tmp_path / "a" / "b" / "c"
    wav = tmp_path / "wav"
    wav.mkdir()
    sandbox.mkdir(parents=True)
    written = 0
    for k, (field, value) in enumerate((f, v) for f, values in HOSTILE.items() for v in values):
        trace = _trace(**{field: value})
        try:  # some codes cannot be stored in a given format at all (SAC's 8-byte fields, ASCII-only miniSEED)
            trace.write(str(wav / f"evil{k}.{fmt.lower()}"), format=fmt)
            written += 1
        except Exception:  # noqa: BLE001
            continue
    _trace().write(str(wav / "good.mseed"), format="MSEED")
    assert written >= 8
    before = _files_under(tmp_path) - _files_under(sandbox)
    cwd = os.getcwd()
    os.chdir(sandbox)
    try:
        result, errors = _annotate(picker, wav, sandbox / "out", "--save-probabilities")
    finally:
        os.chdir(cwd)
    outside = (_files_under(tmp_path) - before) - _files_under(sandbox / "out")
    assert not outside, sorted(outside)
    assert all(p.startswith(str(sandbox / "out")) for p in _files_under(sandbox / "out"))
    refused = [e for e in errors if "refused" in e["reason"] and "code" in e["reason"]]
    names = {e["path"].rsplit("/", 1)[-1].split(".")[0] for e in refused}
    assert {"evil0", "evil2"} <= names  # "../../.." and "/../../." (others may be changed by the format: SAC
    assert len(names) >= written - 4  # cuts codes to 8 characters and strips spaces, which makes them safe)
    assert (sandbox / "out" / "chunks" / "GH.AAA..HH.20240101T000000.json").is_file()


def _mseed_bytes(tmp_path, n=172800):
    path = tmp_path / "full.mseed"
    _trace(n=n).write(str(path), format="MSEED", encoding="FLOAT32", reclen=4096)
    return path.read_bytes()


def test_truncated_mseed_is_listed_with_what_was_lost(picker, tmp_path):
    """The issue's file cut at half + 100 bytes: ObsPy reads the first half and drops the incomplete record; the
    run must keep the half it read and list the file (before: status ok, 0 h, 0 picks, errors.csv empty)."""
    data = _mseed_bytes(tmp_path)
    source = tmp_path / "wav"
    source.mkdir()
    (source / "cut.mseed").write_bytes(data[: len(data) // 2 + 100])
    result, errors = _annotate(picker, source, tmp_path / "out")
    assert len(errors) == 1 and errors[0]["path"].endswith("cut.mseed"), errors
    assert "incomplete last record (100 bytes)" in errors[0]["reason"]
    assert "data ends at 2024-01-01T00:14" in errors[0]["reason"]
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert "hours of data             0.00" not in summary  # the half that was read was annotated


def test_flipped_header_bytes_are_listed_with_the_samples_lost(picker, tmp_path):
    """Bytes flipped in 4 record headers: ObsPy skips them as "Not a SEED record" and returns two segments; the
    gap (4040 samples) must be reported, not interpolated over in silence."""
    data = bytearray(_mseed_bytes(tmp_path))
    for record in range(50, 54):
        for i in range(16):
            data[record * 4096 + i] ^= 0xFF
    source = tmp_path / "wav"
    source.mkdir()
    (source / "flipped.mseed").write_bytes(bytes(data))
    result, errors = _annotate(picker, source, tmp_path / "out")
    assert len(errors) == 1 and errors[0]["path"].endswith("flipped.mseed"), errors
    assert "16384 bytes skipped" in errors[0]["reason"]
    assert "4040 samples missing inside the file" in errors[0]["reason"]


def test_a_file_that_leaves_a_chunk_empty_is_still_listed(picker, tmp_path):
    source = tmp_path / "wav"
    source.mkdir()
    data = _mseed_bytes(tmp_path, n=6000)
    (source / "good.mseed").write_bytes(data[:300])  # less than one record: nothing decodes
    result, errors = _annotate(picker, source, tmp_path / "out")
    assert [e["path"].rsplit("/", 1)[-1] for e in errors] == ["good.mseed"], errors
