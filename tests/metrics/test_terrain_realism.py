"""The offline terrain-realism `evaluate` module on known cases."""

from __future__ import annotations

import evaluate
import numpy as np
import pytest

from geohub.data.synthetic_terrain import spectral_terrain
from geohub.metrics.terrain import terrain_realism_path
from geohub.metrics.terrain_realism.terrain_realism import frechet_distance, spectral_slope


@pytest.fixture(scope="module")
def metric():
    return evaluate.load(terrain_realism_path())


@pytest.mark.parametrize("beta", [1.5, 2.0, 2.5, 3.0])
def test_pure_power_law_surface_has_the_slope_it_was_built_with(beta):
    estimates = [spectral_slope(spectral_terrain(64, beta, seed=seed)) for seed in range(8)]
    assert np.mean(estimates) == pytest.approx(beta, abs=0.15)


def test_identical_sets_are_at_distance_zero_and_shifted_sets_by_the_shift(metric):
    patches = np.stack([spectral_terrain(32, 2.0, relief_m=200.0, seed=s) for s in range(6)])
    same = metric.compute(predictions=patches, references=patches, spacing_m=30.0)
    assert same["wasserstein_elevation_m"] == pytest.approx(0.0, abs=1e-6)
    assert same["wasserstein_slope_deg"] == pytest.approx(0.0, abs=1e-4)
    assert same["spectral_slope_difference"] == pytest.approx(0.0, abs=1e-4)
    shifted = metric.compute(predictions=patches + 50.0, references=patches, spacing_m=30.0)
    assert shifted["wasserstein_elevation_m"] == pytest.approx(50.0, rel=1e-4)
    assert shifted["wasserstein_slope_deg"] == pytest.approx(0.0, abs=1e-4)  # a shift changes no slope
    assert shifted["wasserstein_curvature_per_km"] == pytest.approx(0.0, abs=1e-3)


def test_rougher_terrain_is_farther_in_slope_and_curvature(metric):
    reference = np.stack([spectral_terrain(32, 2.5, relief_m=300.0, seed=s) for s in range(8)])
    close = np.stack([spectral_terrain(32, 2.5, relief_m=300.0, seed=100 + s) for s in range(8)])
    rough = np.stack([spectral_terrain(32, 1.0, relief_m=300.0, seed=100 + s) for s in range(8)])
    near = metric.compute(predictions=close, references=reference, spacing_m=30.0)
    far = metric.compute(predictions=rough, references=reference, spacing_m=30.0)
    assert far["wasserstein_slope_deg"] > 3 * near["wasserstein_slope_deg"]
    assert far["wasserstein_curvature_per_km"] > 3 * near["wasserstein_curvature_per_km"]
    assert far["spectral_slope_difference"] > 1.0 > near["spectral_slope_difference"]


def test_frechet_distance_known_gaussians_and_bad_input(metric):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3))
    assert frechet_distance(a, a + 2.0) == pytest.approx(12.0, rel=0.02)  # |mu shift|^2 = 3 * 4
    patches = np.stack([spectral_terrain(16, 2.0, seed=s) for s in range(2)])
    scores = metric.compute(predictions=patches, references=patches, spacing_m=10.0,
                            predictions_features=a[:50], references_features=a[50:100])  # fmt: skip
    assert scores["frechet_distance"] > 0
    with pytest.raises(ValueError, match="NaN"):
        metric.compute(predictions=np.full((2, 16, 16), np.nan), references=patches, spacing_m=10.0)
    assert np.isnan(spectral_slope(np.zeros((16, 16))))  # a flat patch has no spectrum
