"""Terrain inference: generate DEMs, classify landforms, shade relief, save DEMs.

Public API (elevations are float32 metres, grids `(rows, cols)`, spacing in metres):

- `load_terrain_model(path)` -> (model, processor): a `TerrainGAN` or `LandformCNNForImageClassification` and its
  `TerrainProcessor` (from `preprocessor_config.json`, or rebuilt from the config when absent).
- `generate_terrain(model, num_samples=1, seed=None, processor=None)` -> `(N, H, W)` metres from a `TerrainGAN`.
- `classify_landform(model, dem, spacing_m=None, processor=None)` -> `{label: probability}` for one square patch
  (a `DEM` or an array); the patch is resampled to the model's spacing and, if larger than the model's patch,
  classified on the central window.
- `hillshade(dem, spacing_m, azimuth_deg=315, altitude_deg=45)` -> `(rows, cols)` shading in [0, 1]
  (Horn 1981 gradients, the usual ESRI/GDAL formula).
- `save_hillshade_png(dem, spacing_m, path)` writes a hillshade image (matplotlib, atomically).
- `save_dem(dem, path, spacing_m=...)`: `.npy` (array only) or `.tif`/`.tiff` (GeoTIFF through rasterio, float32,
  a local metric grid with the spacing in its transform), written through a temporary file and renamed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..data.dem import DEM
from ..errors import RasterError
from ..utils import fsync_dir

__all__ = [
    "load_terrain_model",
    "generate_terrain",
    "classify_landform",
    "hillshade",
    "save_hillshade_png",
    "save_dem",
]


def load_terrain_model(path: str | os.PathLike):
    """Load a terrain model folder: returns (model, TerrainProcessor)."""
    from transformers import AutoModel, AutoModelForImageClassification

    import geohub  # noqa: F401  (registers the Auto classes)

    from ..models.terrain_gan import TerrainGAN, TerrainProcessor

    path = Path(path)
    if not (path / "config.json").is_file():
        raise RasterError("not a model folder (no config.json)", path=path, expected="a save_pretrained folder")
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    if config.model_type == "geohub_terrain_gan":
        model = AutoModel.from_pretrained(path)
    else:
        model = AutoModelForImageClassification.from_pretrained(path)
    model.eval()
    if (path / "preprocessor_config.json").is_file():
        processor = TerrainProcessor.from_pretrained(path)
    elif isinstance(model, TerrainGAN):
        processor = model.default_processor()
    else:
        processor = TerrainProcessor(normalization="patch", patch_size=model.config.image_size)
    return model, processor


def generate_terrain(model, num_samples: int = 1, seed: int | None = None, processor=None) -> np.ndarray:
    """`(num_samples, H, W)` float32 elevations in metres from a `TerrainGAN` (EMA weights when trained here)."""
    return model.generate(num_samples, seed=seed, processor=processor)


def _as_patch(dem, spacing_m: float | None) -> tuple[np.ndarray, float]:
    if isinstance(dem, DEM):
        elevation, spacing = dem.elevation, float(np.mean(dem.spacing_m))
        if spacing_m is not None:
            spacing = float(spacing_m)
    else:
        elevation = np.asarray(dem)
        if elevation.dtype.kind not in "iuf":
            raise RasterError(f"elevation has dtype {elevation.dtype}", expected="integer or float metres")
        if spacing_m is None:
            raise RasterError("spacing_m is required for a bare array", field="spacing_m", expected="metres")
        spacing = float(spacing_m)
    if elevation.ndim != 2:
        raise RasterError(f"expected one (rows, cols) patch, got shape {elevation.shape}")
    if elevation.shape[0] != elevation.shape[1]:
        raise RasterError(
            f"patch is not square: {elevation.shape}", expected="a square patch (tile rasters with tile_dem)"
        )
    elevation = elevation.astype(np.float32)
    if not np.isfinite(elevation).all():
        raise RasterError("patch holds nodata (NaN) cells", expected="a nodata-free patch")
    return elevation, spacing


def classify_landform(model, dem, spacing_m: float | None = None, processor=None) -> dict[str, float]:
    """Landform probabilities of one square patch.

    Args:
        model: a `LandformCNNForImageClassification`.
        dem: `DEM` or `(H, H)` array of metres.
        spacing_m: grid spacing in metres (required for arrays).
        processor: `TerrainProcessor` of the model (patch normalisation); default: 300 m scale at 50 m spacing.

    Returns:
        `{label: probability}` over `model.config.id2label`, summing to 1.
    """
    from ..models.terrain_gan import TerrainProcessor

    elevation, spacing = _as_patch(dem, spacing_m)
    if processor is None:
        processor = TerrainProcessor(normalization="patch", spacing_m=50.0, patch_size=model.config.image_size)
    elevation = processor.resample(elevation, spacing)
    size = model.config.image_size
    if min(elevation.shape) < size:
        raise RasterError(
            f"patch covers {elevation.shape[0]} cells at {processor.spacing_m} m, fewer than the model's {size}",
            expected=f"a patch at least {size * processor.spacing_m:.0f} m across",
        )
    top, left = (elevation.shape[0] - size) // 2, (elevation.shape[1] - size) // 2
    window = elevation[top : top + size, left : left + size]
    pixel_values = processor(window)["pixel_values"].to(model.device)
    with torch.no_grad():
        probabilities = model(pixel_values=pixel_values).logits.softmax(-1)[0].cpu().numpy()
    return {model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}


def hillshade(dem, spacing_m: float, azimuth_deg: float = 315.0, altitude_deg: float = 45.0) -> np.ndarray:
    """Analytical hillshade in [0, 1] of a `(rows, cols)` DEM in metres (sun azimuth clockwise from north)."""
    z = np.asarray(dem.elevation if isinstance(dem, DEM) else dem, dtype=np.float64)
    dz_dy, dz_dx = np.gradient(z, spacing_m)
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(-dz_dx, dz_dy)  # rows grow southwards
    zenith, azimuth = np.radians(90.0 - altitude_deg), np.radians(azimuth_deg)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.clip(shade, 0.0, 1.0).astype(np.float32)


def save_hillshade_png(dem, spacing_m: float, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write a hillshade of `dem` (metres) blended with elevation colours to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LightSource

    z = np.asarray(dem.elevation if isinstance(dem, DEM) else dem, dtype=np.float64)
    light = LightSource(azdeg=315, altdeg=45)
    rgb = light.shade(
        z, cmap=plt.get_cmap("gist_earth"), vert_exag=1.0, dx=spacing_m, dy=spacing_m, blend_mode="overlay"
    )
    figure, axis = plt.subplots(figsize=(4, 4), dpi=100)
    axis.imshow(rgb)
    axis.set_axis_off()
    if title:
        axis.set_title(title, fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(figure)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_dem(dem, path: str | os.PathLike, spacing_m: float | None = None) -> Path:
    """Save a `(rows, cols)` DEM in metres as `.npy` or GeoTIFF (`.tif`/`.tiff`), atomically."""
    z = np.asarray(dem.elevation if isinstance(dem, DEM) else dem, dtype=np.float32)
    if z.ndim != 2:
        raise RasterError(f"expected a (rows, cols) DEM, got shape {z.shape}", path=path)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".tif", ".tiff"):
        raise RasterError(f"unknown DEM format '{suffix}'", path=path, expected=".npy, .tif or .tiff")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".npy":
            np.save(tmp, z)
        else:
            _write_geotiff(tmp, z, spacing_m if spacing_m is not None else _spacing_of(dem, path))
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _spacing_of(dem, path) -> float:
    if isinstance(dem, DEM):
        return float(dem.spacing_m[0])
    raise RasterError("a GeoTIFF needs the grid spacing", path=path, field="spacing_m", expected="metres")


def _write_geotiff(path: str, z: np.ndarray, spacing_m: float) -> None:
    import rasterio
    from rasterio.transform import from_origin

    transform = from_origin(0.0, z.shape[0] * spacing_m, spacing_m, spacing_m)
    profile = {
        "driver": "GTiff", "height": z.shape[0], "width": z.shape[1], "count": 1, "dtype": "float32",
        "transform": transform, "crs": "LOCAL_CS[\"local metric grid\",UNIT[\"metre\",1]]", "nodata": np.nan,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)
