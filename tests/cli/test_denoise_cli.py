"""`geohub denoise INPUT --model M --output OUT.mseed`: the same samples as `denoise()`, miniSEED out, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import obspy
import pytest
from typer.testing import CliRunner

from geohub.cli import app
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.inference.denoise import denoise

runner = CliRunner()


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    stream, _ = synthetic_stream(20.0, [{"time_s": 8.0, "magnitude": 2.0, "distance_km": 20.0}], seed=1)
    path = tmp_path_factory.mktemp("record") / "record.mseed"
    stream.write(str(path), format="MSEED")
    return path


def _error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("geohub: error: "), result.output
    return lines[0]


def test_denoise_writes_the_denoised_stream(denoiser_dir, record, tmp_path):
    output = tmp_path / "out" / "clean.mseed"
    result = runner.invoke(app, ["denoise", str(record), "--model", str(denoiser_dir), "--output", str(output),
                                 "--overlap", "0.25", "--batch-size", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(output)
    written = obspy.read(str(output))
    assert written[0].stats._format == "MSEED"
    expected = denoise(obspy.read(str(record)), denoiser_dir, overlap=0.25, batch_size=2)
    assert (
        sorted(t.id for t in written)
        == sorted(t.id for t in expected)
        == sorted(t.id for t in obspy.read(str(record)))
    )
    for trace in expected:
        got = written.select(id=trace.id)[0]
        assert got.stats.starttime == trace.stats.starttime and got.stats.npts == trace.stats.npts
        np.testing.assert_allclose(got.data, trace.data, rtol=1e-6, atol=1e-9)
    original = obspy.read(str(record))
    assert not np.allclose(written.select(component="Z")[0].data, original.select(component="Z")[0].data)
    assert [p.name for p in output.parent.iterdir()] == ["clean.mseed"]  # no temporary file left


def test_missing_input_file(denoiser_dir, tmp_path):
    line = _error(runner.invoke(app, ["denoise", str(tmp_path / "nope.mseed"), "--model", str(denoiser_dir),
                                      "--output", str(tmp_path / "o.mseed")]))  # fmt: skip
    assert "nope.mseed" in line and "not found" in line


def test_not_a_denoiser_model(record, tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "geohub_phasenet"}))
    line = _error(
        runner.invoke(app, ["denoise", str(record), "--model", str(folder), "--output", str(tmp_path / "o.mseed")])
    )
    assert "not a seismic denoiser" in line and "geohub_phasenet" in line
    line = _error(runner.invoke(app, ["denoise", str(record), "--model", str(tmp_path / "missing"),
                                      "--output", str(tmp_path / "o.mseed")]))  # fmt: skip
    assert "missing" in line and "config.json" in line
    assert not (tmp_path / "o.mseed").exists()


def test_unreadable_input_and_bad_overlap(denoiser_dir, record, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a seismogram\n")
    line = _error(
        runner.invoke(app, ["denoise", str(text), "--model", str(denoiser_dir), "--output", str(tmp_path / "o.mseed")])
    )
    assert "notes.txt" in line and "ObsPy" in line
    line = _error(runner.invoke(app, ["denoise", str(record), "--model", str(denoiser_dir), "--output",
                                      str(tmp_path / "o.mseed"), "--overlap", "1.5"]))  # fmt: skip
    assert "--overlap" in line
    assert not (tmp_path / "o.mseed").exists()


def test_denoise_with_an_onnx_export(denoiser_dir, record, tmp_path):
    pytest.importorskip("onnxruntime")
    exported = tmp_path / "onnx"
    result = runner.invoke(app, ["export", str(denoiser_dir), "--format", "onnx", "--output", str(exported)])
    assert result.exit_code == 0, result.output
    output = tmp_path / "clean_onnx.mseed"
    result = runner.invoke(app, ["denoise", str(record), "--model", str(exported), "--output", str(output)])
    assert result.exit_code == 0, result.output
    expected = denoise(obspy.read(str(record)), denoiser_dir)
    written = obspy.read(str(output))
    assert len(written) == len(expected) == 3
    for trace in expected:
        got = written.select(id=trace.id)[0].data
        assert np.abs(got - trace.data).max() <= 1e-3 * np.abs(trace.data).max()  # export.json's rtol
