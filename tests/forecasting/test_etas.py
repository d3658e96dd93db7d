"""The etas family: exact likelihood, maximum-likelihood recovery on a synthetic catalogue, save/load, simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoModel

import geohub  # noqa: F401  (registers the families)
from geohub.models.etas import EtasConfig, EtasForForecasting
from geohub.models.etas.modeling_etas import SimulationCapError, decay_integral

from .conftest import TRUE_ETAS, simulate_catalog


def _reference_log_likelihood(p, times, mags, first, start, end, mc=1.0):
    """Plain numpy: sum log lambda(t_i) - integral (the integral by scipy quad)."""
    from scipy.integrate import quad

    def g(s):
        return math.exp(-s / p["tau"]) / (s + p["c"]) ** (1 + p["omega"])

    total = 0.0
    for i in range(first, len(times)):
        rate = p["mu"] + sum(p["k"] * math.exp(p["alpha"] * (mags[j] - mc)) * g(times[i] - times[j]) for j in range(i))
        total += math.log(rate)
    integral = p["mu"] * (end - start)
    for j in range(len(times)):
        low = max(start - times[j], 0.0)
        integral += p["k"] * math.exp(p["alpha"] * (mags[j] - mc)) * quad(g, low, end - times[j], limit=200)[0]
    return total - integral


def test_decay_integral_matches_closed_form_without_taper():
    x = torch.tensor([0.0, 1e-4, 0.3, 50.0, 5000.0], dtype=torch.float64)
    c, p = 0.002, 1.15
    expected = (c ** (1 - p) - (x + c) ** (1 - p)) / (p - 1)
    got = decay_integral(
        x, torch.tensor(math.log(c), dtype=torch.float64), torch.tensor(p - 1, dtype=torch.float64), None
    )
    assert torch.allclose(got, expected, rtol=1e-9)


def test_window_log_likelihood_equals_a_direct_computation():
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 30, 40))
    mags = 1.0 + np.round(rng.exponential(0.5, 40), 1)
    model = EtasForForecasting(EtasConfig(**TRUE_ETAS))
    got = model.window_log_likelihood(times, mags, 25, float(times[24]) + 0.01, 31.0)
    assert got == pytest.approx(
        _reference_log_likelihood(TRUE_ETAS, times, mags, 25, times[24] + 0.01, 31.0), rel=1e-5
    )


@pytest.fixture(scope="module")
def fitted():
    times, mags = simulate_catalog(days=400.0, seed=3)
    start = 50.0
    first = int(np.searchsorted(times, start))
    model = EtasForForecasting(EtasConfig(mu=1.0, k=0.01, alpha=1.0, c=0.001, omega=0.1, tau=50.0))
    result = model.fit(times, mags, first, start, 400.0, max_iterations=100)
    return model, result, (times, mags, first, start)


def test_fit_recovers_the_simulating_parameters_roughly(fitted):
    model, result, (times, mags, first, start) = fitted
    p = model.parameters_dict()
    assert p["mu"] == pytest.approx(TRUE_ETAS["mu"], rel=0.3)
    assert p["alpha"] == pytest.approx(TRUE_ETAS["alpha"], abs=0.35)
    assert p["b_value"] == pytest.approx(1.0, abs=0.1)
    truth = EtasForForecasting(EtasConfig(**TRUE_ETAS))
    n = len(times) - first
    assert result["log_likelihood"] >= truth.window_log_likelihood(times, mags, first, start, 400.0) / n - 1e-6
    poisson = EtasForForecasting(EtasConfig(productivity=False))
    poisson.fit(times, mags, first, start, 400.0)
    assert result["log_likelihood"] > poisson.window_log_likelihood(times, mags, first, start, 400.0) / n + 0.1


def test_save_load_round_trip_is_exact(fitted, tmp_path):
    model, _, (times, mags, first, start) = fitted
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, EtasForForecasting) and loaded.log_mu.dtype == torch.float64
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name
    assert loaded.window_log_likelihood(times, mags, first, start, 400.0) == model.window_log_likelihood(
        times, mags, first, start, 400.0
    )


def test_simulation_is_seeded_matches_the_expected_count_and_is_capped(fitted):
    model, _, (times, mags, _, _) = fitted
    history = times < 300.0
    a = model.simulate(times[history], mags[history], 300.0, 307.0, num_simulations=400, seed=5)
    b = model.simulate(times[history], mags[history], 300.0, 307.0, num_simulations=400, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    sims, sim_times, sim_mags = a
    assert sim_times.min() >= 300.0 and sim_times.max() < 307.0 and sim_mags.min() >= 1.0
    # the mean simulated count is the expected number: the integrated intensity with no new events plus their
    # offspring; it is at least the integral given the history alone
    with torch.no_grad():
        _, integral = model._terms(torch.from_numpy(times[history]), torch.from_numpy(mags[history]),
                                   int(history.sum()), 300.0, 307.0)  # fmt: skip
    assert len(sims) / 400 >= 0.9 * float(integral)
    with pytest.raises(SimulationCapError, match="max_events=5"):
        model.simulate(times[history], mags[history], 300.0, 400.0, num_simulations=10, seed=0, max_events=5)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="mu must be > 0"):
        EtasConfig(mu=0.0)
    with pytest.raises(ValueError, match="omega > 0"):
        EtasConfig(taper=False, omega=-0.1)


def test_the_fits_far_field_approximation_stays_close_to_the_exact_intensity(fitted):
    model, _, (times, mags, first, start) = fitted
    args = (torch.from_numpy(times), torch.from_numpy(mags), first, start, 400.0)
    with torch.no_grad():
        exact, integral = model._terms(*args)
        approximate, same_integral = model._terms(*args, far_field=(20.0, 2.0))
    assert torch.allclose(exact, approximate, atol=1e-3) and float(integral) == float(same_integral)
    assert not torch.equal(exact, approximate)  # the approximation is really used
