"""Synthetic terrain (seeded spectral synthesis, shaping) and the geomorphometric landform rule."""

from __future__ import annotations

import numpy as np
import pytest

from geohub.data.synthetic_terrain import (
    LANDFORM_LABELS,
    geomorphometry,
    landform_label,
    laplacian_curvature,
    make_landform_dataset,
    slope_degrees,
    spectral_terrain,
    synthetic_landform_patch,
    thermal_erosion,
)


def test_spectral_terrain_is_reproducible_and_scaled():
    a = spectral_terrain(64, 2.2, relief_m=500.0, base_m=100.0, seed=7)
    b = spectral_terrain(64, 2.2, relief_m=500.0, base_m=100.0, seed=7)
    c = spectral_terrain(64, 2.2, relief_m=500.0, base_m=100.0, seed=8)
    assert a.dtype == np.float32 and a.shape == (64, 64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() == pytest.approx(100.0, abs=1e-3) and a.max() == pytest.approx(600.0, abs=1e-3)


def test_higher_beta_is_smoother():
    rough = spectral_terrain(64, 1.0, relief_m=100.0, seed=0)
    smooth = spectral_terrain(64, 3.0, relief_m=100.0, seed=0)
    assert slope_degrees(smooth, 30.0).mean() < slope_degrees(rough, 30.0).mean()


def test_ridged_and_eroded_shapes():
    ridged = spectral_terrain(64, 2.0, relief_m=100.0, seed=1, ridged=True)
    plain = spectral_terrain(64, 2.0, relief_m=100.0, seed=1)
    assert not np.allclose(ridged, plain)
    rough = spectral_terrain(64, 1.5, relief_m=100.0, seed=2).astype(np.float64)
    eroded = thermal_erosion(rough, iterations=30)
    assert np.abs(np.diff(eroded, axis=0)).max() < np.abs(np.diff(rough, axis=0)).max()
    assert eroded.mean() == pytest.approx(rough.mean(), abs=1e-6)  # mass conserved


def test_slope_and_curvature_of_known_surfaces():
    x = np.arange(16) * 10.0
    ramp = np.tile(x, (16, 1))  # rises 10 m per 10 m cell: 45 degrees
    assert slope_degrees(ramp, 10.0) == pytest.approx(45.0)
    bowl = (x[None, :] - 75) ** 2 + (x[:, None] - 75) ** 2  # z = x^2 + y^2: Laplacian 4
    assert laplacian_curvature(bowl, 10.0) == pytest.approx(4.0)


@pytest.mark.parametrize("kind", LANDFORM_LABELS)
def test_rule_recognises_designed_patches(kind):
    rng = np.random.default_rng(3)
    labels = [landform_label(synthetic_landform_patch(kind, 32, 50.0, rng), 50.0) for _ in range(40)]
    assert labels.count(kind) >= 30, (kind, labels)


def test_rule_thresholds_on_hand_made_patches():
    flat = np.full((32, 32), 200.0) + np.linspace(0, 20, 32)[None, :]
    assert landform_label(flat, 50.0) == "plain"
    step = np.where(np.arange(32)[None, :] < 16, 0.0, 400.0) * np.ones((32, 1))
    assert landform_label(step, 50.0) == "escarpment"
    yy, xx = np.mgrid[0:32, 0:32] - 15.5
    mesa = np.where(np.hypot(xx, yy) < 10, 300.0, 0.0)
    assert landform_label(mesa, 50.0) == "plateau"
    trough = np.abs(xx) * 20.0
    assert geomorphometry(trough, 50.0).tpi < -0.2
    assert landform_label(trough, 50.0) == "valley"


def test_landform_dataset_features_and_seed():
    ds = make_landform_dataset(12, size=16, spacing_m=100.0, seed=5)
    assert ds.features["label"].names == list(LANDFORM_LABELS)
    assert ds.features["elevation"].shape == (16, 16)
    again = make_landform_dataset(12, size=16, spacing_m=100.0, seed=5)
    assert np.array_equal(np.asarray(ds["elevation"]), np.asarray(again["elevation"]))
    assert ds["label"] == again["label"]
