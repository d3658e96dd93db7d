"""`geohub push` / `pull` / `models` mistakes against the server: one line saying what, where and what to do."""

from __future__ import annotations

from pathlib import Path

import torch

from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking

from .conftest import USERS


def _one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("geohub: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


def _model(folder: Path) -> Path:
    torch.manual_seed(0)
    SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3)).save_pretrained(folder)
    return folder


def test_push_with_a_wrong_token(geohub_cli_at, hub_server, tmp_path):
    folder = _model(tmp_path / "model")
    line = _one_error_line(geohub_cli_at("push", str(folder), "alice/wrong-token", token="hf_not_a_real_token"))
    assert f"push {folder} to alice/wrong-token" in line and hub_server.endpoint in line
    assert "refused the token (HTTP 401)" in line or "HTTP 401" in line
    assert "set a valid HF_TOKEN" in line and "hf_not_a_real_token" not in line


def test_push_into_someone_elses_namespace(geohub_cli_at, tmp_path):
    folder = _model(tmp_path / "model")
    line = _one_error_line(geohub_cli_at("push", str(folder), "alice/by-bob-cli", token=USERS["bob"]))
    assert "HTTP 403" in line and "use your own namespace" in line


def test_pull_of_a_missing_or_private_repo(geohub_cli_at, tmp_path):
    line = _one_error_line(geohub_cli_at("pull", "alice/does-not-exist", "--local-dir", str(tmp_path / "x")))
    assert "model repository 'alice/does-not-exist' (or its revision) not found" in line and "HF_TOKEN" in line
    assert not (tmp_path / "x").exists()
