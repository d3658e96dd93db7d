"""The seismic recipes end to end through the real launchers (`geohub train` and `accelerate launch`), tiny."""

from __future__ import annotations

import json
import sys

import pytest
from transformers import AutoModel, pipeline

import geohub  # noqa: F401
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.errors import ConfigError
from geohub.training.arguments import parse_recipe
from geohub.training.launch import run_recipe
from geohub.training.seismic import SEISMIC_PICKING, SeismicDataArguments
from tests.conftest import REPO_ROOT, run_command

CPU = str(REPO_ROOT / "recipes" / "accelerate_configs" / "cpu.yaml")
TINY = ["--window_length", "1000", "--num_train_windows", "48", "--num_eval_windows", "16", "--num_train_epochs", "1",
        "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "16", "--eval_strategy", "no",
        "--save_strategy", "no", "--logging_steps", "1"]  # fmt: skip


def _results(output_dir) -> dict:
    return json.loads((output_dir / "all_results.json").read_text())


@pytest.mark.slow
def test_picking_recipe_through_geohub_train(tmp_path):
    output_dir = tmp_path / "picker"
    result = run_command(
        [sys.executable, "-m", "geohub.cli", "train", "recipes/seismic_picking/config_synthetic.yaml",
         "--config_file", CPU, "--output_dir", str(output_dir), "--hidden_sizes", "4,8,12", *TINY],
        timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "accelerate launch" in result.stdout
    for name in (
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "all_results.json",
        "test_results.json",
    ):
        assert (output_dir / name).is_file(), name
    metrics = _results(output_dir)
    assert 0.0 <= metrics["eval_detection_f1"] <= 1.0 and "eval_p_mae_s" in metrics
    assert "test_p_recall" in json.loads((output_dir / "test_results.json").read_text())
    picker = pipeline("seismic-phase-picking", model=str(output_dir))
    stream, _ = synthetic_stream(20.0)
    assert set(picker(stream)) == {"picks", "detections"}


def test_magnitude_recipe_in_process(tmp_path, monkeypatch):
    """The same entry point `accelerate launch -m geohub.training.launch` runs, called in this process."""
    monkeypatch.chdir(REPO_ROOT)
    output_dir = tmp_path / "magnitude"
    metrics = run_recipe("recipes/seismic_magnitude/config_synthetic.yaml",
                         ["--output_dir", str(output_dir), "--conv_channels", "4,8", "--lstm_hidden_size", "6", *TINY])  # fmt: skip
    assert metrics["eval_magnitude_mae"] > 0
    metrics = _results(output_dir)
    assert metrics["eval_magnitude_mae"] > 0 and "eval_magnitude_residual_std" in metrics
    model = AutoModel.from_pretrained(output_dir)
    assert type(model).__name__ == "SeismicMagnitudeForRegression"
    assert json.loads((output_dir / "preprocessor_config.json").read_text())["return_amplitude"] is True


def test_phasenet_recipe_splits_by_station(tmp_path, shared_data, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    output_dir = tmp_path / "phasenet"
    run_recipe("recipes/seismic_picking/config_phasenet.yaml",
               ["--model_name_or_path", "", "--dataset_dir", str(shared_data / "phasenet-ncedc"), "--output_dir",
                str(output_dir), "--hidden_sizes", "4,8,12", "--train_repeats", "1", "--eval_repeats", "1",
                "--max_steps", "2", "--per_device_train_batch_size", "8", "--eval_strategy", "no",
                "--save_strategy", "no", "--load_best_model_at_end", "false"])  # fmt: skip
    metrics = _results(output_dir)
    assert "eval_detection_f1" in metrics and "test_p_mae_s" in json.loads(
        (output_dir / "test_results.json").read_text()
    )


def test_bad_recipe_values_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="dataset_dir"):
        SeismicDataArguments(dataset="phasenet")
    with pytest.raises(ConfigError, match="split_by"):
        SeismicDataArguments(split_by="window")
    with pytest.raises(ConfigError, match="window_length"):
        parse_recipe(SEISMIC_PICKING.argument_types, REPO_ROOT / "recipes/seismic_picking/config_synthetic.yaml",
                     ["--windw_length", "10"])  # fmt: skip
