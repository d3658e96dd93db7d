"""geohub.data.geomorphons: whitebox-workflows' geomorphons on numpy grids (synthetic cone, real Jacksboro DEM)."""

import os
import tempfile
import threading

import numpy as np
import pytest

from geohub.data.dem import read_dem
from geohub.data.geomorphons import (
    GEOMORPHON_NAMES,
    LANDFORM_CLASSES,
    balance_of_shares,
    convexity_balance,
    element_fractions,
    geomorphons,
    landform_tiles,
    tile_landform,
)
from geohub.errors import RasterError

PEAK, RIDGE, SLOPE, VALLEY, PIT = (GEOMORPHON_NAMES.index(n) + 1 for n in ("peak", "ridge", "slope", "valley", "pit"))


def _cone(n=201, spacing=30.0, gradient=0.3):
    y, x = np.mgrid[:n, :n] - n // 2
    return (3000.0 - gradient * spacing * np.hypot(x, y)).astype(np.float32)


def test_names_follow_jasiewicz_stepinski_order():
    assert GEOMORPHON_NAMES == ("flat", "peak", "ridge", "shoulder", "spur", "slope", "hollow", "footslope",
                                "valley", "pit")  # fmt: skip


def test_cone_has_peak_on_top_and_slope_on_its_flanks():
    cone = _cone()
    codes = geomorphons(cone, 30.0, search_cells=8, flat_degrees=1.0)
    assert codes.dtype == np.uint8 and codes.shape == cone.shape
    assert codes[100, 100] == PEAK
    assert np.sum(codes == PEAK) == 1
    y, x = np.mgrid[:201, :201] - 100
    flank = (np.hypot(x, y) > 40) & (np.hypot(x, y) < 90)
    assert np.mean(codes[flank] == SLOPE) > 0.8
    # the inverted cone is a pit with slopes around it
    assert geomorphons(-cone, 30.0, search_cells=8)[100, 100] == PIT


def test_nan_cells_get_zero_and_are_left_out_of_fractions():
    cone = _cone(61)
    cone[:5, :5] = np.nan
    codes = geomorphons(cone, 30.0, search_cells=5)
    assert (codes[:5, :5] == 0).all() and (codes[5:, 5:] >= 1).all()
    shares = element_fractions(codes)
    assert shares.shape == (10,) and shares.sum() == pytest.approx(1.0)
    assert element_fractions(np.zeros((4, 4), np.uint8)).sum() == 0


def test_jacksboro_shares_are_those_of_dissected_hills():
    dem = read_dem("jacksboro").square_cells()
    with tempfile.TemporaryDirectory() as tmp:
        before = set(os.listdir(tempfile.gettempdir()))
        codes = geomorphons(dem.elevation, dem.spacing_m[0], search_cells=10)
        assert set(os.listdir(tempfile.gettempdir())) - before <= {os.path.basename(tmp)}  # nothing left behind
    shares = dict(zip(GEOMORPHON_NAMES, element_fractions(codes)))
    # ridge-and-valley terrain: slopes, spurs/hollows, ridges and valleys all common; almost nothing flat
    assert shares["flat"] < 0.05
    assert 0.2 < shares["slope"] < 0.5
    assert shares["ridge"] > 0.08 and shares["valley"] > 0.08
    assert shares["peak"] < shares["ridge"] and shares["pit"] < shares["valley"]


def test_threads_get_the_same_answer():
    cone = _cone(81)
    expected = geomorphons(cone, 30.0, search_cells=6)
    results = [None] * 4

    def work(i):
        results[i] = geomorphons(cone, 30.0, search_cells=6)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)


@pytest.mark.parametrize(
    "elevation, spacing, kwargs, field",
    [
        (np.zeros((4, 4, 3)), 30.0, {}, "elevation"),
        (np.zeros((2, 50)), 30.0, {}, "elevation"),
        (np.full((5, 5), np.nan), 30.0, {}, "elevation"),
        (np.array([[0, np.inf, 0]] * 3), 30.0, {}, "elevation"),
        (np.zeros((5, 5)), 0.0, {}, "spacing_m"),
        (np.zeros((5, 5)), 30.0, {"search_cells": 0}, "search_cells"),
        (np.zeros((5, 5)), 30.0, {"flat_degrees": -1.0}, "flat_degrees"),
    ],
)
def test_bad_input_is_named(elevation, spacing, kwargs, field):
    with pytest.raises(RasterError) as info:
        geomorphons(elevation, spacing, **kwargs)
    assert info.value.field == field


def test_tile_classes_follow_the_convexity_balance():
    ridge = np.full((6, 6), GEOMORPHON_NAMES.index("ridge") + 1, np.uint8)
    valley = np.full((6, 6), VALLEY, np.uint8)
    mixed = np.concatenate([ridge[:3], valley[:3]])
    slope = np.full((6, 6), SLOPE, np.uint8)
    assert [LANDFORM_CLASSES[tile_landform(c)] for c in (ridge, valley, mixed, slope)] == [
        "ridge", "valley", "hillside", "hillside"
    ]  # fmt: skip
    assert convexity_balance(ridge) == 1.0 and convexity_balance(mixed) == 0.0


def test_landform_tiles_label_the_core_of_each_tile():
    cone = _cone(101)
    tiles, labels, shares, corners = landform_tiles(cone, 30.0, size=32, stride=69, context_cells=8)
    assert tiles.shape == (4, 32, 32) and corners.tolist() == [[0, 0], [0, 69], [69, 0], [69, 69]]
    assert np.array_equal(tiles[3], cone[69:, 69:])
    # the summit is at (50, 50): no tile's core holds it; a tile centred on it is a ridge (peak + spurs)
    centred = landform_tiles(cone[34:66, 34:66], 30.0, size=32, stride=32, context_cells=8, search_cells=8)
    assert LANDFORM_CLASSES[centred[1][0]] == "ridge" and balance_of_shares(centred[2][0]) > 0.1
    assert shares.shape == (4, 10) and np.allclose(shares.sum(1), 1.0)
    inverted = landform_tiles(-cone[34:66, 34:66], 30.0, size=32, stride=32, context_cells=8, search_cells=8)
    assert LANDFORM_CLASSES[inverted[1][0]] == "valley"
    with pytest.raises(RasterError):
        landform_tiles(cone, 30.0, size=16, context_cells=7)
