"""Truncated or corrupt weights: loading names the file and says what is wrong, before safetensors or torch fail
(or, for a flipped byte, instead of loading silently: `save_pretrained` writes a sha256 manifest that loading checks)."""

from __future__ import annotations

import json
import re
import struct

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModel

from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking
from geohub.utils import WEIGHT_CHECKSUMS_FILE, CorruptWeightsError, check_safetensors, check_weights


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3))
    model.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def test_save_writes_a_manifest_that_matches(saved):
    manifest = json.loads((saved / WEIGHT_CHECKSUMS_FILE).read_text())
    assert list(manifest["sha256"]) == ["model.safetensors"]
    assert type(AutoModel.from_pretrained(saved)).__name__ == "SeismicPickerForPhasePicking"


def test_flipped_last_bytes_are_refused_naming_the_file(saved):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:]))  # same size, header intact
    check_safetensors(weights)  # the structure alone cannot tell
    for load in (SeismicPickerForPhasePicking.from_pretrained, AutoModel.from_pretrained):
        with pytest.raises(CorruptWeightsError) as info:
            load(saved)
        assert str(info.value).startswith(f"{weights}: sha256 differs") and "re-download or re-save" in str(info.value)


@pytest.mark.parametrize("cut", [0.5, 0.999, 4])
def test_truncated_file_is_refused_naming_the_file(saved, cut):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * cut)] if cut < 1 else data[:cut])
    (saved / WEIGHT_CHECKSUMS_FILE).unlink()  # structure check alone, as for a folder saved before the manifest
    with pytest.raises(CorruptWeightsError) as info:
        AutoModel.from_pretrained(saved)
    assert str(info.value).startswith(f"{weights}: truncated")


def test_corrupt_headers(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(4)}, path)
    good = path.read_bytes()
    (header_len,) = struct.unpack("<Q", good[:8])
    cases = {
        "trailing bytes": good + b"\0" * 16,
        "corrupt safetensors header (JSONDecodeError)": good[:8] + b"{" * header_len + good[8 + header_len :],
        "truncated or corrupt safetensors header (declares": struct.pack("<Q", 10**12) + good[8:],
    }
    for expected, content in cases.items():
        path.write_bytes(content)
        with pytest.raises(CorruptWeightsError, match=re.escape(expected)):
            check_safetensors(path)
    path.write_bytes(good)
    check_safetensors(path)


def test_a_folder_without_manifest_still_loads(saved):
    (saved / WEIGHT_CHECKSUMS_FILE).unlink()
    check_weights(saved)
    assert SeismicPickerForPhasePicking.from_pretrained(saved) is not None


def test_cli_names_the_file_in_one_line(saved, capsys):
    """The CLI's error line for a corrupt model folder (OSError subclass with a filename: a user error, exit 2)."""
    from geohub.cli import _report

    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    try:
        check_weights(saved)
    except CorruptWeightsError as err:
        with pytest.raises(SystemExit) as exit_:
            _report(err)
    assert exit_.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"geohub: error: {weights}: truncated") and "\n" not in line


def test_only_the_files_the_model_reads_are_checked(saved):
    """A stray `*.safetensors` beside the model (not in the index, not model.safetensors) does not block loading."""
    (saved / "extra_weights.safetensors").write_bytes(b"\xff" * 64)
    check_weights(saved)
    assert SeismicPickerForPhasePicking.from_pretrained(saved) is not None
