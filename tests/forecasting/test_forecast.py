"""Scoring and forecasts through the real interfaces: log_likelihood, forecast(), pipeline(), `geohub forecast`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from transformers import pipeline

import geohub
from geohub.data.catalogs import read_catalog
from geohub.errors import ConfigError, DataError
from geohub.inference.forecast import forecast, load_forecaster, log_likelihood
from geohub.models.etas import EtasConfig, EtasForForecasting

from .conftest import SHARED, TRUE_ETAS, needs_shared

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def etas_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("etas")
    EtasForForecasting(EtasConfig(**TRUE_ETAS)).save_pretrained(folder)
    return folder


def test_poisson_log_likelihood_is_the_closed_form(synthetic_catalog):
    catalog = read_catalog(synthetic_catalog)
    model = EtasForForecasting(EtasConfig(mu=3.0, productivity=False))
    score = log_likelihood(model, catalog, "2020-06-01", "2020-09-01", 1.0)
    n = int(((catalog.times >= np.datetime64("2020-06-01")) & (catalog.times < np.datetime64("2020-09-01"))).sum())
    assert score == {"temporal": pytest.approx(math.log(3.0) - 3.0 * 92 / n, rel=1e-12), "n_events": n}
    above = log_likelihood(model, catalog, "2020-06-01", "2020-09-01", 2.0)  # thinned by Gutenberg-Richter
    assert above["n_events"] < n
    with pytest.raises(ConfigError, match="below the model's magnitude of completeness"):
        log_likelihood(model, catalog, "2020-06-01", "2020-09-01", 0.5)


@needs_shared
def test_poisson_reproduces_the_benchmark_figure_on_sanjac():
    """EarthquakeNPP SanJac_10: Poisson rate = events 2008-2016 / days; test log-likelihood 0.793916834108074."""
    catalog = read_catalog(SHARED / "SanJac_catalog.csv", region=SHARED / "SanJac_shape.npy").complete_above(1.0, 0.1)
    model = EtasForForecasting(EtasConfig(productivity=False))
    days = float((np.datetime64("2016-01-01") - np.datetime64("2008-01-01")) / np.timedelta64(1, "D"))
    n_train = int(
        ((catalog.times >= np.datetime64("2008-01-01")) & (catalog.times < np.datetime64("2016-01-01"))).sum()
    )
    model.log_mu.data.fill_(math.log(n_train / days))
    score = log_likelihood(model, catalog, "2016-01-01", "2018-01-01", 1.0, auxiliary_start="2008-01-01")
    assert score["n_events"] == 4399
    assert score["temporal"] == pytest.approx(0.793916834108074, abs=1e-12)


def test_forecast_pipeline_and_cli_agree(synthetic_catalog, etas_folder):
    expected = forecast(load_forecaster(etas_folder), synthetic_catalog, start="2020-10-01", days=7, magnitude=2.0,
                        num_simulations=200, seed=3)  # fmt: skip
    rows = expected["thresholds"]
    assert [r["magnitude"] for r in rows][:2] == [1.0, 2.0]
    assert (
        rows[0]["expected"] >= rows[1]["expected"] and rows[0]["low_95"] <= rows[0]["expected"] <= rows[0]["high_95"]
    )
    assert 0.0 <= expected["probability_at_least_one"] <= 1.0
    assert rows[0]["observed"] == int(
        (
            (read_catalog(synthetic_catalog).times >= np.datetime64("2020-10-01"))
            & (read_catalog(synthetic_catalog).times < np.datetime64("2020-10-08"))
        ).sum()
    )
    forecaster = pipeline("earthquake-forecasting", model=str(etas_folder))
    assert forecaster(str(synthetic_catalog), start="2020-10-01", days=7, magnitude=2.0, num_simulations=200,
                      seed=3) == expected  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-m", "geohub.cli", "forecast", str(synthetic_catalog), "--model", str(etas_folder),
         "--start", "2020-10-01", "--days", "7", "--magnitude", "2", "--num-simulations", "200", "--seed", "3",
         "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == json.loads(json.dumps(expected))


def test_forecast_errors_are_clear(synthetic_catalog, etas_folder, tmp_path):
    model = load_forecaster(etas_folder)
    with pytest.raises(DataError, match="max_events=3"):
        forecast(model, synthetic_catalog, start="2020-10-01", days=30, num_simulations=10, max_events=3)
    with pytest.raises(ConfigError, match="num_simulations"):
        forecast(model, synthetic_catalog, start="2020-10-01", days=7, num_simulations=10**7)
    with pytest.raises(DataError, match="no events before"):
        forecast(model, synthetic_catalog, start="2020-01-01", days=7)
    with pytest.raises(DataError, match="outside the catalogue"):
        forecast(model, synthetic_catalog, start="2019-12-01", days=7)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "geohub_landform"}))
    with pytest.raises(geohub.HubError, match="not a etas or neural point process"):
        load_forecaster(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "geohub.cli", "forecast", str(tmp_path / "missing.csv"), "--model", str(etas_folder),
         "--start", "2020-10-01"], capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 2 and "catalogue file not found" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_model_cards_state_the_data_origin_terms_and_figures(etas_folder, tmp_path):
    import shutil

    from geohub.hub import build_model_card

    folder = tmp_path / "etas"
    shutil.copytree(etas_folder, folder)
    (folder / "all_results.json").write_text(json.dumps({"test_temporal_log_likelihood": 1.1534}))
    card = build_model_card(folder, "someone/etas-sanjac")
    for needed in ("SCEDC", "doi:10.7909/C3WD3xH1", "MIT", "Ross et al. 2019", "ETAS 1.133", "1.1534"):
        assert needed in card, needed


def test_simulated_events_are_capped_by_the_memory_budget_before_simulating(synthetic_catalog, etas_folder,
                                                                            monkeypatch):  # fmt: skip
    """num_simulations x max_events is checked against $GEOHUB_MEMORY_BUDGET_MB before any simulation runs."""
    from geohub.inference.forecast import SIMULATED_EVENT_BYTES

    model = load_forecaster(etas_folder)
    with pytest.raises(ConfigError, match=r"memory budget of 2048 MiB") as caught:  # the default budget
        forecast(model, synthetic_catalog, start="2020-10-01", days=7, num_simulations=100_000, max_events=100_000)
    assert caught.value.field == "max_events" and "GEOHUB_MEMORY_BUDGET_MB" in str(caught.value)
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "1")
    calls = []
    monkeypatch.setattr(model, "simulate", lambda *a, **k: calls.append(1))
    with pytest.raises(ConfigError, match=r"1000000 simulated events .* over the memory budget of 1 MiB"):
        forecast(model, synthetic_catalog, start="2020-10-01", days=7, num_simulations=100, max_events=10_000)
    assert not calls  # refused before simulating
    monkeypatch.undo()
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "1")
    assert 10 * 1000 * SIMULATED_EVENT_BYTES < 2**20  # within a 1 MiB budget: runs
    result = forecast(model, synthetic_catalog, start="2020-10-01", days=7, num_simulations=10, max_events=1000)
    assert result["num_simulations"] == 10
