"""Export folders carry the sha256 of their files and every tampered `export.json` or model file is a clear
`ExportError` (issue #21 case 6): before, 200 flipped bytes in model.int8.safetensors loaded and predicted, and 14
tampered folders were raw exceptions from `load_exported`."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from geohub.cli import app
from geohub.export import ExportError, export_model, load_exported


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A tiny magnitude model (it has an LSTM, so int8 applies) exported to onnx and int8."""
    from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
    from geohub.models.seismic_picker import SeismicFeatureExtractor

    root = tmp_path_factory.mktemp("exports")
    torch.manual_seed(0)
    model = SeismicMagnitudeForRegression(SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6,
                                                                 window_length=1000))  # fmt: skip
    model.save_pretrained(root / "model")
    SeismicFeatureExtractor(window_length=1000, return_amplitude=True).save_pretrained(root / "model")
    return {fmt: (export_model(root / "model", fmt, root / fmt), root / fmt) for fmt in ("onnx", "int8")} | {
        "model": (None, root / "model")
    }


def _copy(exports, fmt, tmp_path):
    folder = tmp_path / fmt
    shutil.copytree(exports[fmt][1], folder)
    return folder


@pytest.mark.parametrize("fmt", ["onnx", "int8"])
def test_export_json_lists_the_sha256_of_every_file_and_loads(exports, fmt):
    info, folder = exports[fmt]
    assert set(info["sha256"]) == {p.name for p in folder.iterdir() if p.name != "export.json"}
    assert json.loads((folder / "export.json").read_text())["sha256"] == info["sha256"]
    load_exported(folder)


@pytest.mark.parametrize("fmt,name", [("int8", "model.int8.safetensors"), ("onnx", "model.onnx"),
                                      ("onnx", "config.json")])  # fmt: skip
def test_flipped_bytes_are_refused_naming_the_file(exports, tmp_path, fmt, name):
    folder = _copy(exports, fmt, tmp_path)
    data = bytearray((folder / name).read_bytes())
    for k in range(200 if len(data) > 400 else 2):
        data[len(data) // 2 + k] ^= 0xFF
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ExportError, match=rf"{name}.*sha256 .* differs"):
        load_exported(folder)


TAMPERED_INFO = {
    "architecture pipeline": lambda i: {**i, "architecture": "pipeline"},
    "architecture AutoModel": lambda i: {**i, "architecture": "AutoModel"},
    "architecture Trainer": lambda i: {**i, "architecture": "Trainer"},
    "architecture number": lambda i: {**i, "architecture": 3},
    "architecture path": lambda i: {**i, "architecture": "os.system"},
    "bogus quantized_modules": lambda i: {**i, "quantized_modules": ["no such module"]},
    "quantized_modules a string": lambda i: {**i, "quantized_modules": "encoder"},
    "quantized_modules unknown": lambda i: {**i, "quantized_modules": ["nothing.here"]},
    "format unknown": lambda i: {**i, "format": "tflite"},
    "format missing": lambda i: {k: v for k, v in i.items() if k != "format"},
    "sha256 a list": lambda i: {**i, "sha256": ["x"]},
    "sha256 outside": lambda i: {**i, "sha256": {"../model/config.json": "0" * 64}},
}


@pytest.mark.parametrize("case", sorted(TAMPERED_INFO))
def test_every_tampered_export_json_is_a_clear_error(exports, tmp_path, case):
    folder = _copy(exports, "int8", tmp_path)
    info = json.loads((folder / "export.json").read_text())
    (folder / "export.json").write_text(json.dumps(TAMPERED_INFO[case](info)))
    with pytest.raises(ExportError):
        load_exported(folder)


@pytest.mark.parametrize("content", [b"[1, 2]", b'{"format": "onnx", "sha', b"", b"\xff\xfe", b"[" * 100_000])
def test_export_json_that_is_not_an_object_is_a_clear_error(exports, tmp_path, content):
    folder = _copy(exports, "onnx", tmp_path)
    (folder / "export.json").write_bytes(content)
    with pytest.raises(ExportError, match="export.json"):
        load_exported(folder)


@pytest.mark.parametrize("cut", ["missing", "truncated", "truncated-unhashed"])
def test_missing_or_truncated_model_onnx_is_a_clear_error(exports, tmp_path, cut):
    folder = _copy(exports, "onnx", tmp_path)
    onnx = folder / "model.onnx"
    if cut == "missing":
        onnx.unlink()
    else:
        onnx.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 2])
    if cut == "truncated-unhashed":  # an export from before the hashes: onnxruntime's own error, wrapped
        info = json.loads((folder / "export.json").read_text())
        (folder / "export.json").write_text(json.dumps({k: v for k, v in info.items() if k != "sha256"}))
    with pytest.raises(ExportError, match="model.onnx"):
        load_exported(folder)


def test_exporting_an_export_folder_is_a_one_line_error(exports, tmp_path):
    result = CliRunner().invoke(app, ["export", str(exports["onnx"][1]), "--format", "onnx", "--output",
                                      str(tmp_path / "again")])  # fmt: skip
    assert result.exit_code == 2 and "already an export folder" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
