"""DEM reading (matplotlib samples, GeoTIFF, .npy/.npz), nodata, spacing in metres, tiling, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from geohub.data.dem import DEM, flip_rotate, patch_dataset, read_dem, split_dem, tile_dem
from geohub.errors import RasterError
from geohub.inference.terrain import save_dem


def test_matplotlib_sample_dems_have_metric_spacing():
    jacksboro = read_dem("jacksboro")
    assert jacksboro.elevation.shape == (344, 403) and jacksboro.elevation.dtype == np.float32
    dy, dx = jacksboro.spacing_m  # 3 arc-seconds at 36.6 N
    assert dy == pytest.approx(92.7, abs=0.5) and dx == pytest.approx(74.4, abs=0.5)
    assert 200 < np.nanmin(jacksboro.elevation) < np.nanmax(jacksboro.elevation) < 1100
    square = jacksboro.square_cells()
    assert square.spacing_m == (dy, dy) and square.elevation.shape == (344, round(403 * dx / dy))
    topobathy = read_dem("topobathy")
    assert topobathy.elevation.min() < 0 < topobathy.elevation.max()  # bathymetry and topography
    assert topobathy.spacing_m[0] == pytest.approx(2431, rel=0.01)


def test_geotiff_round_trip_with_nodata(tmp_path):
    z = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    z[0, :5] = np.nan
    save_dem(z, tmp_path / "dem.tif", spacing_m=25.0)
    dem = read_dem(tmp_path / "dem.tif")
    assert dem.spacing_m == (25.0, 25.0)
    assert np.isnan(dem.elevation[0, :5]).all() and np.array_equal(dem.elevation[1:], z[1:])
    assert dem.nodata_fraction == pytest.approx(5 / 1200)


def test_npy_npz_and_nodata_value(tmp_path):
    z = np.full((10, 12), 100, dtype=np.int16)
    z[2, 3] = -9999
    np.save(tmp_path / "a.npy", z)
    dem = read_dem(tmp_path / "a.npy", spacing_m=30.0, nodata=-9999)
    assert np.isnan(dem.elevation[2, 3]) and np.nansum(dem.elevation) == 100 * 119
    np.savez(tmp_path / "b.npz", elevation=z.astype(np.float32))
    assert read_dem(tmp_path / "b.npz", spacing_m=(10.0, 20.0)).spacing_m == (10.0, 20.0)


def test_tiling_drops_nodata_patches_and_augments():
    z = np.arange(20 * 20, dtype=np.float32).reshape(20, 20)
    z[0, 0] = np.nan
    dem = DEM(z, (30.0, 30.0), "mem")
    patches = tile_dem(dem, 8, 4)  # 4 x 4 corners, the one at (0, 0) holds nodata
    assert patches.shape == (15, 8, 8) and np.isfinite(patches).all()
    assert np.array_equal(patches[0], z[0:8, 4:12])
    rng = np.random.default_rng(0)
    symmetries = {flip_rotate(patches[3], rng).tobytes() for _ in range(64)}
    assert len(symmetries) == 8  # all 8 symmetries of the square, each a permutation of the same cells
    assert sorted(flip_rotate(patches[3], rng).ravel()) == sorted(patches[3].ravel())
    train, held = split_dem(dem, 0.25)
    assert train.elevation.shape == (15, 20) and held.elevation.shape == (5, 20)
    ds = patch_dataset(patches, 30.0)
    assert ds.features["elevation"].shape == (8, 8) and len(ds) == 15


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: np.save(p / "x.npy", np.full((16, 16), np.nan, dtype=np.float32)), "all nodata"),
        (lambda p: np.save(p / "x.npy", np.zeros((3, 50), dtype=np.float32)), "too small"),
        (lambda p: np.save(p / "x.npy", np.array([["a"] * 8] * 8)), "dtype"),
        (lambda p: np.save(p / "x.npy", np.zeros((8, 8), dtype=complex)), "dtype"),
        (lambda p: (p / "x.npy").write_bytes(b"\x93NUMPY garbage"), "cannot read"),
        (lambda p: np.save(p / "x.npy", np.zeros((2, 8, 8), dtype=np.float32)), "2-D grid"),
    ],
)
def test_bad_arrays_raise_raster_errors_naming_the_file(tmp_path, make, match):
    make(tmp_path)
    with pytest.raises(RasterError, match=match) as info:
        read_dem(tmp_path / "x.npy", spacing_m=30.0)
    assert "x.npy" in str(info.value)


def test_corrupt_geotiff_missing_file_and_unknown_spacing(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(RasterError, match="cannot read GeoTIFF"):
        read_dem(tmp_path / "bad.tif")
    with pytest.raises(RasterError, match="not found"):
        read_dem(tmp_path / "missing.tif")
    np.save(tmp_path / "z.npy", np.zeros((8, 8), dtype=np.float32))
    with pytest.raises(RasterError, match="spacing"):
        read_dem(tmp_path / "z.npy")


def test_tiling_errors():
    dem = DEM(np.zeros((10, 10), dtype=np.float32), (30.0, 30.0), "small")
    with pytest.raises(RasterError, match="smaller than one"):
        tile_dem(dem, 16)
    with pytest.raises(RasterError, match="square patches"):
        tile_dem(dem, (4, 8))
    holes = DEM(np.where(np.eye(10) > 0, np.nan, 1.0).astype(np.float32), (30.0, 30.0), "holes")
    with pytest.raises(RasterError, match="holds nodata"):
        tile_dem(holes, 6, 2)


def test_the_processor_resamples_exactly_as_the_dem_module():
    """The terrain processor carries a copy of `resample_bilinear` (family files are self-contained for remote
    code): the two must agree."""
    from geohub.data.dem import resample_bilinear
    from geohub.models.terrain_gan import TerrainImageProcessor

    z = np.random.default_rng(0).normal(300, 50, (13, 17)).astype(np.float32)
    processor = TerrainImageProcessor(spacing_m=30.0)
    resampled = processor.resample(z, 45.0)
    assert np.array_equal(resampled, resample_bilinear(z, resampled.shape))
