"""Issue 2, tests a) and b), through the real launcher (`geohub train` -> `accelerate launch`) on the Trainer path.

a) two CPU processes (recipes/accelerate_configs/multi_cpu.yaml, per-device batch 8) reach the same final weights
   as one process (cpu.yaml, per-device batch 16): same global batch, same data order;
b) a run SIGKILLed mid-training and resumed from its last checkpoint (`resume_from_checkpoint: last`) ends with the
   same weights and the same logged metrics as an uninterrupted run.
The model is the landform CNN on a small set of real DEM tiles (GroupNorm, no dropout: nothing depends on the split).
The adversarial loop has its own resume and 2-process tests in tests/training/test_adversarial.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "recipes" / "accelerate_configs"
MAX_STEPS = 40
SAVE_STEPS = 4

RECIPE = f"""\
task: landform
# model
hidden_sizes: "4,8"
layers_per_stage: 1
classifier_dropout: 0.0
# data: Jacksboro tiles (coarse strides: a small set)
patch_size: 16
train_stride: 8
eval_stride: 16
augment_copies: 1
# training
max_steps: {MAX_STEPS}
per_device_train_batch_size: 16
per_device_eval_batch_size: 24
learning_rate: 1.0e-2
lr_scheduler_type: linear
logging_steps: 1
save_strategy: steps
save_steps: {SAVE_STEPS}
save_total_limit: 2
eval_strategy: "no"
dataloader_drop_last: true
seed: 7
report_to: none
disable_tqdm: true
resume_from_checkpoint: last
"""


def _train_command(recipe: Path, config: str, output_dir: Path, *overrides: str) -> list[str]:
    return [
        sys.executable, "-m", "geohub.cli", "train", str(recipe), "--config_file", str(CONFIGS / config),
        "--output_dir", str(output_dir), *overrides,
    ]  # fmt: skip


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _train(recipe: Path, config: str, output_dir: Path, *overrides: str) -> None:
    result = subprocess.run(
        _train_command(recipe, config, output_dir, *overrides), env=_env(), capture_output=True, text=True,
        timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "accelerate launch --config_file" in result.stdout  # geohub train prints the line it runs


def _weights(output_dir: Path) -> dict:
    return load_file(str(output_dir / "model.safetensors"))


def _log_history(output_dir: Path) -> list[dict]:
    state = json.loads((output_dir / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    return [{k: v for k, v in entry.items() if k in {"step", "loss", "grad_norm", "learning_rate"}}
            for entry in state["log_history"] if "loss" in entry]  # fmt: skip


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "landform_tiny.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture(scope="module")
def reference_run(recipe, tmp_path_factory) -> Path:
    """One process, per-device batch 16, never interrupted."""
    output_dir = tmp_path_factory.mktemp("reference")
    _train(recipe, "cpu.yaml", output_dir)
    return output_dir


def _assert_same_weights(actual: dict, expected: dict, atol: float) -> None:
    import torch

    assert actual.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.allclose(actual[name], tensor, rtol=0, atol=atol), (
            f"{name}: max diff {(actual[name] - tensor).abs().max().item():.3g}"
        )


@pytest.mark.slow
def test_two_processes_match_one_process(recipe, reference_run, tmp_path):
    output_dir = tmp_path / "ddp"
    _train(recipe, "multi_cpu.yaml", output_dir, "--per_device_train_batch_size", "8")
    reference = _weights(reference_run)
    two = _weights(output_dir)
    assert any((t != 0).any() for t in reference.values())
    _assert_same_weights(two, reference, atol=2e-5)
    # and the per-step losses logged by both runs agree (averaged over the same global batch)
    for left, right in zip(_log_history(output_dir), _log_history(reference_run), strict=True):
        assert left["step"] == right["step"]
        assert left["loss"] == pytest.approx(right["loss"], abs=1e-4)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_identical_weights_and_logs(recipe, reference_run, tmp_path):
    output_dir = tmp_path / "killed"
    process = subprocess.Popen(
        _train_command(recipe, "cpu.yaml", output_dir), env=_env(), cwd=REPO, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first_checkpoint = output_dir / f"checkpoint-{2 * SAVE_STEPS}"
    deadline = time.monotonic() + 300
    try:
        while not first_checkpoint.exists():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert not (output_dir / f"checkpoint-{MAX_STEPS}").exists(), "killed too late: the run had finished"
    assert not (output_dir / "all_results.json").exists()

    _train(recipe, "cpu.yaml", output_dir)  # same command: resume_from_checkpoint: last picks the newest checkpoint

    _assert_same_weights(_weights(output_dir), _weights(reference_run), atol=1e-6)
    for resumed, uninterrupted in zip(_log_history(output_dir), _log_history(reference_run), strict=True):
        assert resumed["step"] == uninterrupted["step"]
        assert resumed["loss"] == pytest.approx(uninterrupted["loss"], abs=1e-6)
        assert resumed["grad_norm"] == pytest.approx(uninterrupted["grad_norm"], abs=1e-6)
    assert len(_log_history(output_dir)) == MAX_STEPS  # every step logged once: none repeated, none skipped
