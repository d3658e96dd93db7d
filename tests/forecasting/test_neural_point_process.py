"""The neural_point_process family: likelihood consistency, save/load, simulation, training through `geohub train`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel

import geohub  # noqa: F401  (registers the families)
from geohub.models.neural_point_process import (
    NeuralPointProcessConfig,
    NeuralPointProcessForForecasting,
    history_states,
)

from .conftest import simulate_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog():
    return simulate_catalog(days=200.0, seed=7)


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    return NeuralPointProcessForForecasting(NeuralPointProcessConfig(hidden_size=8, num_mixture=3, **overrides))


def test_history_states_follow_their_definition(catalog):
    times, mags = catalog
    config = NeuralPointProcessConfig(history_scales=[1.0, 10.0], magnitude_weights=[0.0, 2.0])
    states = history_states(times[:60], mags[:60], config)
    i = 59
    direct = [np.log1p(np.sum(np.exp(a * (mags[: i + 1] - 1.0) - (times[i] - times[: i + 1]) / s)))
              for s in (1.0, 10.0) for a in (0.0, 2.0)]  # fmt: skip
    assert np.allclose(states[i], direct, rtol=1e-5)


def test_window_log_likelihood_is_the_training_objective_on_the_same_events(catalog):
    """Scoring the window in one pass gives what `forward` sums over the same scored events (plus the boundary
    terms), so the number trained on is the number the benchmark reports."""
    times, mags = catalog
    model = _model().eval()
    n, first = 300, 200
    start, end = float(times[first - 1]), float(times[n - 1]) + 0.5
    states = torch.from_numpy(history_states(times[:n], mags[:n], model.config))[None]
    scored = torch.zeros(1, n, dtype=torch.bool)
    scored[0, first:] = True
    out = model(torch.from_numpy(times[:n])[None], torch.from_numpy(mags[:n]).float()[None], states, scored,
                torch.tensor([end]))  # fmt: skip
    got = model.window_log_likelihood(times[:n], mags[:n], first, start, end)
    assert got == pytest.approx(float(out.temporal_log_likelihood), rel=1e-4)
    assert int(out.num_events) == n - first
    out.loss.backward()
    assert model.head.weight.grad is not None and torch.isfinite(model.head.weight.grad).all()


def test_save_load_round_trip_and_seeded_simulation(catalog, tmp_path):
    times, mags = catalog
    model = _model(seed=1)
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, NeuralPointProcessForForecasting)
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name
    a = loaded.simulate(times[:100], mags[:100], float(times[99]), float(times[99]) + 3, num_simulations=50, seed=2)
    b = model.simulate(times[:100], mags[:100], float(times[99]), float(times[99]) + 3, num_simulations=50, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    sims, sim_times, sim_mags = a
    assert len(sims) and sim_times.min() >= times[99] and sim_times.max() < times[99] + 3 and sim_mags.min() >= 1.0


def test_geohub_train_fits_the_model_and_scores_validation_and_test(synthetic_catalog, tmp_path):
    recipe = tmp_path / "npp.yaml"
    recipe.write_text(
        "task: neural_point_process\nhidden_size: 8\nnum_mixture: 2\nhistory_scales: '1,10'\nsequence_length: 64\n"
        f"warmup: 8\ncatalog: {synthetic_catalog}\nmc: 1.0\ndelta_m: 0.1\nauxiliary_start: '2020-01-01'\n"
        "train_start: '2020-02-01'\nvalidation_start: '2020-09-01'\ntest_start: '2020-11-01'\n"
        "test_end: '2021-02-01'\noutput_dir: unused\nnum_train_epochs: 2\nper_device_train_batch_size: 4\n"
        "learning_rate: 0.01\neval_strategy: epoch\nsave_strategy: epoch\nsave_total_limit: 1\n"
        "load_best_model_at_end: true\nmetric_for_best_model: temporal_log_likelihood\ngreater_is_better: true\n"
        "report_to: none\n",
        encoding="utf-8",
    )
    output = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, "-m", "geohub.cli", "train", str(recipe), "--config_file",
         str(ROOT / "recipes/accelerate_configs/cpu.yaml"), "--", "--output_dir", str(output)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((output / "all_results.json").read_text())
    for name in ("validation", "test"):
        assert np.isfinite(results[f"{name}_temporal_log_likelihood"]) and results[f"{name}_events"] > 10
    model = AutoModel.from_pretrained(output)
    assert isinstance(model, NeuralPointProcessForForecasting) and model.config.history_scales == [1.0, 10.0]
