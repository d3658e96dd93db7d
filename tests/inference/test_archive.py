"""`geohub annotate` in one process: chunking, boundaries, gap merge, outputs, bad files, resume, probabilities."""

from __future__ import annotations

import csv
import json
import shutil
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from geohub.cli import app
from geohub.inference.archive_sources import NS, Chunk, ChunkWindow, make_chunks, merge_to_grid, open_source

from .archive_fixtures import END, START, THRESHOLDS, save_tiny_magnitude_model, save_tiny_picker, write_sds


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    return {"sds": write_sds(root / "sds"), "picker": save_tiny_picker(root / "picker"), "root": root}


def _annotate(archive, output, *extra, source=None, select=True):
    args = ["annotate", str(source or archive["sds"]), "--model", str(archive["picker"]), "--output", str(output),
            *(["--start", START, "--end", END] if select else []), "--chunk-seconds", "3600", *THRESHOLDS, *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory):
    output = tmp_path_factory.mktemp("reference") / "out"
    result = _annotate(archive, output)
    return output, result.output


def _segments(values, gaps, missing=50, rate=100.0):
    from obspy import Trace, UTCDateTime

    edges = np.linspace(0, len(values), gaps + 2).astype(int)
    return [Trace(values[a : b - missing], header={"sampling_rate": rate, "starttime": UTCDateTime(0) + a / rate})
            for a, b in zip(edges[:-1], edges[1:])]  # fmt: skip


def test_merge_to_grid_is_linear_and_fast_with_500_gaps():
    day = 86400 * 100  # one day at 100 Hz
    values = np.arange(day, dtype=np.float64)
    many, one = _segments(values, 500), _segments(values, 1)
    times = {500: [], 1: []}
    for _ in range(4):  # interleaved, best of 4: the machine is shared
        for gaps, traces in ((500, many), (1, one)):
            began = time.perf_counter()
            data, covered = merge_to_grid(traces, 0, day, 100.0)
            times[gaps].append(time.perf_counter() - began)
            if gaps == 500:
                assert len(traces) - 1 == 500 and covered.sum() == day - 501 * 50
                np.testing.assert_allclose(data[: day - 50], values[: day - 50])  # a ramp interpolates onto itself
                assert (data[day - 50 :] == values[day - 51]).all()  # after the last sample: its value
    # the cost does not grow with the number of gaps
    assert min(times[500]) < 4 * min(times[1]) + 1.0, times


def test_chunks_cover_the_selection_and_windows_align(archive):
    from obspy import UTCDateTime

    source = open_source(archive["sds"], start=UTCDateTime(START), end=UTCDateTime(END), stations=["GH.AAA"])
    assert source.kind == "sds" and list(source.spans) == ["GH.AAA..HH"]
    chunks = make_chunks(source, 3600)
    assert [c.chunk_id for c in chunks] == ["GH.AAA..HH.20240101T000000", "GH.AAA..HH.20240101T010000"]
    window = ChunkWindow.around(chunks[1], pad_s=11.0, grid_s=5.0)
    assert window.start_ns % (5 * NS) == 0 and window.start_ns <= chunks[1].start_ns - 11 * NS
    assert window.end_ns >= chunks[1].end_ns + 11 * NS
    assert make_chunks(open_source(archive["sds"], stations=["NOPE"])) == []
    assert Chunk("X", 0, 1) < Chunk("X", 1, 2)


def test_outputs(reference):
    from obspy import read_events

    output, printed = reference
    with open(output / "picks.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["trace_id", "phase", "time", "probability", "model"]
    assert 20 < len(rows) < 5000 and {r["trace_id"] for r in rows} == {"GH.AAA.", "GH.BBB."}
    assert {r["phase"] for r in rows} <= {"P", "S"} and all(r["model"] == "picker" for r in rows)
    assert all(START <= r["time"][:19] < END and r["time"].endswith("Z") for r in rows)
    keys = [(r["time"], r["trace_id"], r["phase"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    catalog = read_events(str(output / "picks.xml"))
    assert sum(len(e.picks) for e in catalog) == len(rows)
    assert str(catalog[0].picks[0].time).startswith(rows[0]["time"][:19])
    summary = json.loads((output / "summary.json").read_text())
    assert summary["chunks"] == 4 and summary["chunks_run"] == 4 and summary["picks"] == len(rows)
    assert summary["hours_of_data"] == pytest.approx(4.0, abs=0.02)  # 2 stations x 2 h minus 3 gaps of 2 s
    assert "hours of data" in printed and (output / "picks_per_hour.png").stat().st_size > 1000
    assert (output / "errors.csv").read_text() == "path,chunk,reason\n"
    assert (output / "detections.csv").read_text().startswith("trace_id,start,end,probability,model\n")


def test_boundary_picks_neither_lost_nor_doubled(archive, reference, tmp_path):
    """One-hour chunks give exactly the picks of one two-hour chunk (the boundary at 01:00 has an event), and of a
    one-day chunk (cut to the two hours of data it holds)."""
    for seconds in ("7200", "86400"):
        output = tmp_path / seconds
        _annotate(archive, output, "--chunk-seconds", seconds, select=seconds == "7200")
        assert (output / "picks.csv").read_bytes() == (reference[0] / "picks.csv").read_bytes(), seconds
    with open(output / "picks.csv", newline="") as handle:
        near = [r for r in csv.DictReader(handle) if "T00:59:5" in r["time"] or "T01:00:0" in r["time"]]
    assert near, "no pick near the chunk boundary: the test would not test the boundary"


def test_blocks_inside_a_chunk_give_the_same_picks(archive, reference, tmp_path, monkeypatch):
    """A chunk is annotated in blocks (3 h by default); 20-minute blocks give the bytes of whole 1-hour chunks."""
    import geohub.inference.archive as archive_module

    monkeypatch.setattr(archive_module, "BLOCK_SECONDS", 1200.0)
    output = tmp_path / "blocks"
    _annotate(archive, output)
    for name in ("picks.csv", "detections.csv"):
        assert (output / name).read_bytes() == (reference[0] / name).read_bytes(), name


def test_resume_runs_only_missing_chunks(archive, reference, tmp_path):
    output = tmp_path / "resumed"
    shutil.copytree(reference[0], output)
    for name in ("picks.csv", "picks.xml", "summary.json"):
        (output / name).unlink()
    (output / "chunks" / "GH.BBB..HH.20240101T010000.json").unlink()  # as if killed during that chunk
    _annotate(archive, output)
    summary = json.loads((output / "summary.json").read_text())
    assert summary["chunks_run"] == 1 and summary["chunks_resumed"] == 3
    assert (output / "picks.csv").read_bytes() == (reference[0] / "picks.csv").read_bytes()
    result = CliRunner().invoke(app, ["annotate", str(archive["sds"]), "--model", str(archive["picker"]),
                                      "--output", str(output), "--chunk-seconds", "600"])  # fmt: skip
    assert result.exit_code == 2 and "other settings (chunk_seconds" in result.output


def test_unreadable_files_are_reported_and_the_run_goes_on(archive, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for path in sorted(archive["sds"].rglob("GH.AAA..HH?.D.*")):
        shutil.copy(path, folder / path.name)
    (folder / "broken.mseed").write_bytes(b"\x00garbage" * 100)
    (folder / "GH.AAA..HHZ.D.2024.001").write_bytes(b"not miniseed at all" * 10)  # corrupt one component
    output = tmp_path / "out"
    result = _annotate(archive, output, source=folder)
    with open(output / "errors.csv", newline="") as handle:
        errors = list(csv.DictReader(handle))
    assert {e["path"].rsplit("/", 1)[-1] for e in errors} == {"broken.mseed", "GH.AAA..HHZ.D.2024.001"}
    assert all("cannot read" in e["reason"] for e in errors)
    assert "errors (errors.csv)       2" in result.output
    assert json.loads((output / "summary.json").read_text())["chunks"] == 2  # the N and E files still ran


def test_corrupt_sds_day_file_is_reported(archive, tmp_path):
    sds = tmp_path / "sds"
    shutil.copytree(archive["sds"], sds)
    bad = next(sds.rglob("GH.BBB..HHN.D.2024.001"))
    bad.write_bytes(bad.read_bytes()[:700] + b"\xff" * 300)  # truncated mid-record
    output = tmp_path / "out"
    _annotate(archive, output, source=sds)
    errors = (output / "errors.csv").read_text()
    assert str(bad) in errors or "GH.BBB" in errors
    rows = (output / "picks.csv").read_text()
    assert "GH.AAA." in rows  # the other station is annotated


def test_probabilities_and_magnitudes(archive, tmp_path):
    from obspy import read

    magnitude = save_tiny_magnitude_model(tmp_path / "magnitude")
    output = tmp_path / "out"
    _annotate(archive, output, "--model", str(magnitude), "--save-probabilities", "--stations", "AAA",
              "--detection-threshold", "0.3")  # fmt: skip
    files = sorted((output / "probabilities" / "picker" / "GH.AAA..HH").glob("*.mseed"))
    assert [f.name for f in files] == ["GH.AAA..HH.20240101T000000.mseed", "GH.AAA..HH.20240101T010000.mseed"]
    stream = read(str(files[1]))
    assert sorted(tr.stats.channel for tr in stream) == ["PRD", "PRP", "PRS"]
    assert str(stream[0].stats.starttime) == "2024-01-01T01:00:00.000000Z" and stream[0].stats.npts == 360000
    assert 0.0 <= stream[0].data.min() and stream[0].data.max() <= 1.0
    detections = (output / "detections.csv").read_text().splitlines()
    magnitudes = (output / "magnitudes.csv").read_text().splitlines()
    assert len(detections) > 1 and len(magnitudes) == len(detections)
    assert magnitudes[0] == "trace_id,time,magnitude,uncertainty,model,magnitude_model"
    assert magnitudes[1].endswith(",picker,magnitude")


def test_bad_model_fails_before_work(archive, tmp_path):
    result = CliRunner().invoke(app, ["annotate", str(archive["sds"]), "--model", str(tmp_path), "--output",
                                      str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2 and "cannot load the model" in result.output and "config.json" in result.output
    assert not (tmp_path / "out").exists()


def test_gap_fill_matches_numpy_interp_at_edges_and_in_float32():
    from obspy import Trace, UTCDateTime

    rng = np.random.default_rng(0)
    for _ in range(50):  # random coverage, including runs missing at the start and at the end
        n = int(rng.integers(5, 80))
        values = rng.standard_normal(n).astype(np.float32)
        kept = rng.random(n) < 0.6
        runs = np.split(np.arange(n), np.flatnonzero(np.diff(kept.astype(int))) + 1)
        traces = [Trace(values[r].copy(), header={"sampling_rate": 100.0, "starttime": UTCDateTime(0) + r[0] / 100})
                  for r in runs if kept[r[0]]]  # fmt: skip
        if not traces:
            continue
        for dtype in (np.float64, np.float32):
            data, covered = merge_to_grid(traces, 0, n, 100.0, dtype=dtype)
            assert data.dtype == dtype and (covered == kept).all()
            expected = np.interp(np.arange(n), np.flatnonzero(kept), values[kept].astype(np.float64))
            np.testing.assert_allclose(data, expected.astype(dtype), rtol=1e-6, atol=1e-6)


def test_vectorised_windows_and_blending_equal_the_per_window_loop():
    from geohub.inference.waveform import WaveformSpec, _taper, assemble, sliding_windows, window_starts

    rng = np.random.default_rng(1)
    spec = WaveformSpec("UNET", 100.0, 301, "ZNE", "samples", ("N", "P", "S", "D"), stride=150, taper=30)
    for length in (301, 1000, 4321):
        data = rng.standard_normal((3, length)).astype(np.float32)
        starts = window_starts(length, 301, 150)
        windows = sliding_windows(data, starts, 301)
        np.testing.assert_array_equal(windows, np.stack([data[:, s : s + 301] for s in starts]))
        outputs = rng.random((len(starts), 4, 301)).astype(np.float32)
        total, weight, taper = np.zeros((4, length)), np.zeros(length), _taper(301, 30)
        for start, out in zip(starts, outputs):  # the reference: float64, one window at a time
            total[:, start : start + 301] += out * taper
            weight[start : start + 301] += taper
        series, offset = assemble(outputs, starts, length, spec)
        assert series.dtype == np.float32 and series.shape == (4, length) and offset == 0.0
        np.testing.assert_allclose(series, total / weight, rtol=1e-5, atol=1e-6)


def test_bf16_precision_picks_agree_with_fp32(archive, reference, tmp_path):
    output = tmp_path / "bf16"
    _annotate(archive, output, "--precision", "bf16")
    assert json.loads((output / "run.json").read_text())["precision"] == "bf16"

    def picks(folder):
        with open(folder / "picks.csv", newline="") as handle:
            return [(r["trace_id"], r["phase"], np.datetime64(r["time"].rstrip("Z"))) for r in csv.DictReader(handle)]

    fp32, bf16 = picks(reference[0]), picks(output)
    assert len(fp32) > 5

    def found(pick, others):
        return any(o[:2] == pick[:2] and abs((o[2] - pick[2]) / np.timedelta64(1, "ms")) <= 100 for o in others)

    assert sum(found(p, bf16) for p in fp32) >= 0.9 * len(fp32)
    assert sum(found(p, fp32) for p in bf16) >= 0.9 * len(bf16)


def test_unknown_precision_is_refused_before_work(archive, tmp_path):
    result = CliRunner().invoke(app, ["annotate", str(archive["sds"]), "--model", str(archive["picker"]), "--output",
                                      str(tmp_path / "out"), "--precision", "fp8"])  # fmt: skip
    assert result.exit_code == 2 and "--precision" in result.output and "fp32 or bf16" in result.output
    assert not (tmp_path / "out").exists()
