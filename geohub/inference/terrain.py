"""Terrain inference: generate DEMs, classify landforms, shade relief, save DEMs.

Public API (elevations are float32 metres, grids `(rows, cols)`, spacing in metres):

- `load_terrain_model(path)` -> (model, processor): a `TerrainGAN` or `LandformCNNForImageClassification` and its
  `TerrainImageProcessor` (`geohub.inference.loading`: a folder without its processor is an error).
- `generate_terrain(model, num_samples=1, seed=None, processor=None)` -> `(N, H, W)` metres from a `TerrainGAN`
  (independent training-size patches).
- `generate_region(model, height, width, seed=0, origin=(0, 0))` -> one continuous `(height, width)` DEM: the window
  at global cell `origin` of the seed's unbounded terrain (a "convolutional" TerrainGAN: the latent at global
  latent cell (i, j) depends only on (seed, i, j), every convolution is unpadded; windows are computed from their
  latent window plus the receptive-field margin, so overlapping requests agree where they overlap, no seams).
- `generate_mosaic(model, tiles, seed)` -> `tiles` x `tiles` patches' extent (`tiles * image_size` cells a side)
  as one `generate_region` (what the demo serves). A geohub 0.1 "dcgan" model can only lay independent patches
  side by side, cross-faded over a quarter patch (`mosaic`): those show seams.
- `seam_score(dem)` (from `geohub.data.dem`) measures seams.
- `classify_landform(model, dem, spacing_m=None, processor=None)` -> `{label: probability}` for a DEM of any size
  (a `DEM` or an array): resampled to the model's spacing, cut into model-sized patches (`landform_patches`), the
  patch probabilities averaged. The pipeline and the demo call exactly these.
- `hillshade(dem, spacing_m, azimuth_deg=315, altitude_deg=45)` -> `(rows, cols)` shading in [0, 1]
  (Horn 1981 gradients, the usual ESRI/GDAL formula).
- `save_hillshade_png(dem, spacing_m, path)` writes a hillshade image (matplotlib, atomically).
- `save_dem(dem, path, spacing_m=...)`: `.npy` (array only) or `.tif`/`.tiff` (GeoTIFF through rasterio, float32,
  a local metric grid with the spacing in its transform), written through a temporary file and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..data.dem import DEFAULT_MAX_DEM_CELLS, DEM, MAX_ABS_ELEVATION_M
from ..data.limits import check_count, check_finite_array, check_resampled_cells, check_seed
from ..errors import RasterError
from ..utils import atomic_path

__all__ = [
    "load_terrain_model",
    "generate_terrain",
    "generate_region",
    "generate_mosaic",
    "mosaic",
    "landform_patches",
    "landform_scores",
    "classify_landform",
    "hillshade",
    "save_hillshade_png",
    "save_dem",
]


def load_terrain_model(path: str | os.PathLike):
    """Load a terrain model folder (or Hub repo id): returns (model, `TerrainImageProcessor`)."""
    from .loading import load_model_and_processor

    return load_model_and_processor(path)


def _processor_for(model, processor):
    """`processor`, else the one saved with `model` (its `name_or_path`); never a guessed default."""
    if processor is not None:
        return processor
    from .loading import load_processor, resolve_source

    source = getattr(model, "name_or_path", None)
    if not source:
        raise RasterError("no processor given and the model was not loaded from a folder",
                          field="processor", expected="the model's TerrainImageProcessor")  # fmt: skip
    return load_processor(resolve_source(source))


def generate_terrain(model, num_samples: int = 1, seed: int | None = None, processor=None) -> np.ndarray:
    """`(num_samples, H, W)` float32 elevations in metres from a `TerrainGAN` (EMA weights when trained here)."""
    num_samples = check_count(num_samples, "num_samples", error=RasterError)
    seed = check_seed(seed)
    if hasattr(model, "generate"):
        return model.generate(num_samples, seed=seed, processor=_processor_for(model, processor))
    # an export folder's generator (`geohub export`: `sample_latents` + `generator`): the same latents per seed
    processor = _processor_for(model, processor)
    latents = model.sample_latents(num_samples, torch.Generator().manual_seed(seed) if seed is not None else None)
    with torch.no_grad():
        return processor.postprocess(torch.cat([model.generator(chunk) for chunk in latents.split(64)]))


def mosaic(patches: np.ndarray, tiles: int, overlap: int) -> np.ndarray:
    """Lay `tiles * tiles` patches `(N, S, S)` on a grid, cross-fading linearly over `overlap` cells.

    Returns `(tiles * (S - overlap) + overlap,)*2` float32 metres."""
    size = patches.shape[-1]
    step = size - overlap
    side = tiles * step + overlap
    ramp = np.ones(size, dtype=np.float64)
    if overlap:
        edge = (np.arange(overlap) + 1.0) / (overlap + 1.0)
        ramp[:overlap], ramp[-overlap:] = edge, edge[::-1]
    weight_2d = np.outer(ramp, ramp)
    total = np.zeros((side, side))
    weight = np.zeros((side, side))
    for index in range(tiles * tiles):
        row, col = divmod(index, tiles)
        window = (slice(row * step, row * step + size), slice(col * step, col * step + size))
        total[window] += patches[index] * weight_2d
        weight[window] += weight_2d
    return (total / weight).astype(np.float32)


def _is_field_model(model) -> bool:
    return getattr(model.config, "generator_type", "dcgan") == "convolutional"


def generate_region(model, height: int, width: int, seed: int | None = 0, origin: tuple[int, int] = (0, 0),
                    processor=None, *, chunk: int = 256,
                    max_cells: int = DEFAULT_MAX_DEM_CELLS) -> np.ndarray:  # fmt: skip
    """Window `(height, width)` float32 metres, top-left at global cell `origin`, of the seed's unbounded terrain.

    `model`: a "convolutional" `TerrainGAN` (or its export). Computed in `chunk` x `chunk` pieces, each from its
    latent window plus the receptive-field margin: overlapping requests agree where they overlap (to float32
    rounding), the same seed gives the same terrain, and pieces join without seams. `seed=None` draws one."""
    from ..models.terrain_gan.modeling_terrain_gan import field_window

    if not _is_field_model(model):
        raise RasterError("this terrain GAN makes fixed-size patches (a geohub 0.1 'dcgan' model)", field="model",
                          expected="a 'convolutional' TerrainGAN (retrain with recipes/terrain_gan/)")  # fmt: skip
    height = check_count(height, "height", 1, max_cells, error=RasterError)
    width = check_count(width, "width", 1, max_cells, error=RasterError)
    if height * width > max_cells:
        raise RasterError(f"{height} x {width} cells requested", field="height, width",
                          expected=f"at most {max_cells} cells")  # fmt: skip
    seed = check_seed(seed)
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else seed
    top, left = (int(v) for v in origin)
    processor = _processor_for(model, processor)
    out = np.empty((height, width), dtype=np.float32)
    with torch.no_grad():
        for row in range(0, height, chunk):
            for col in range(0, width, chunk):
                rows, cols = min(chunk, height - row), min(chunk, width - col)
                piece = field_window(model.generator, model.config, seed, top + row, left + col, rows, cols)
                out[row : row + rows, col : col + cols] = processor.postprocess(piece)[0]
    return out


def generate_mosaic(model, tiles: int = 1, seed: int | None = None, processor=None) -> np.ndarray:
    """One DEM of `tiles` x `tiles` training patches' extent (`tiles * image_size` cells a side); float32 metres.

    A "convolutional" model generates it as one continuous region (`generate_region`, no seams); a geohub 0.1
    "dcgan" model lays `tiles * tiles` patches cross-faded over a quarter patch (seams show)."""
    tiles = check_count(tiles, "tiles", error=RasterError)
    if _is_field_model(model):
        side = tiles * int(model.config.image_size)
        return generate_region(model, side, side, seed=seed, processor=processor)
    patches = generate_terrain(model, tiles * tiles, seed=seed, processor=processor)
    overlap = patches.shape[-1] // 4 if tiles > 1 else 0
    return mosaic(patches, tiles, overlap)


def _as_grid(dem, spacing_m: float | None) -> tuple[np.ndarray, float]:
    """(elevation with square cells, spacing in metres) of a `DEM` or a bare `(rows, cols)` array."""
    if isinstance(dem, DEM):
        if spacing_m is None:
            dem = dem.square_cells()
            return dem.elevation.astype(np.float32), float(dem.spacing_m[0])
        elevation = dem.elevation
    else:
        elevation = np.asarray(dem)
        if elevation.dtype.kind not in "iuf":
            raise RasterError(f"elevation has dtype {elevation.dtype}", expected="integer or float metres")
        if spacing_m is None:
            raise RasterError("spacing_m is required for a bare array", field="spacing_m", expected="metres")
    spacing = float(spacing_m)
    if not np.isfinite(spacing) or spacing <= 0:
        raise RasterError(f"spacing_m is {spacing_m!r}", field="spacing_m", expected="a positive number of metres")
    if elevation.ndim != 2:
        raise RasterError(f"expected one (rows, cols) grid, got shape {elevation.shape}")
    check_finite_array(elevation, "elevation", MAX_ABS_ELEVATION_M, allow_nan=True, error=RasterError, unit=" m")
    return elevation.astype(np.float32), spacing


def landform_patches(dem, processor, patch_size: int, *, spacing_m: float | None = None, max_patches: int = 64,
                     max_cells: int = DEFAULT_MAX_DEM_CELLS) -> np.ndarray:  # fmt: skip
    """The model-sized patches `(N, S, S)` (metres, at the processor's spacing) a DEM is classified from.

    The DEM is resampled to the processor's grid spacing and cut into `patch_size` patches (a DEM of exactly one
    patch gives one); at most `max_patches`, evenly spread. Nodata cells are not allowed in a patch. Absurd values
    and a grid that would exceed `max_cells` once resampled are refused before any resampling."""
    from ..data.dem import tile_dem

    elevation, spacing = _as_grid(dem, spacing_m)
    check_resampled_cells(elevation.shape, spacing, processor.spacing_m, max_cells)  # before resampling allocates
    elevation = processor.resample(elevation, spacing)
    if min(elevation.shape) < patch_size:
        raise RasterError(
            f"the DEM covers {elevation.shape[0]} x {elevation.shape[1]} cells at {processor.spacing_m:g} m",
            expected=f"at least {patch_size} x {patch_size} cells ({patch_size * processor.spacing_m:.0f} m across)",
        )
    patches = tile_dem(elevation, patch_size, patch_size)
    if len(patches) == 0:
        raise RasterError("every patch of the DEM holds nodata (NaN) cells", expected="a nodata-free area")
    if len(patches) > max_patches:
        patches = patches[np.linspace(0, len(patches) - 1, max_patches).round().astype(int)]
    return patches


def landform_scores(model, logits: torch.Tensor) -> dict[str, float]:
    """`{label: probability}` from the logits `(N, classes)` of N patches of one DEM (mean of the softmaxes)."""
    probabilities = logits.float().softmax(-1).mean(0).cpu().numpy()
    return {model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}


@torch.no_grad()
def classify_landform(model, dem, spacing_m: float | None = None, processor=None, *,
                      max_patches: int = 64) -> dict[str, float]:  # fmt: skip
    """Landform probabilities of a DEM: the mean over its model-sized patches (see `landform_patches`).

    Args:
        model: a `LandformCNNForImageClassification`.
        dem: `DEM` or `(rows, cols)` array of metres (any size of at least one patch).
        spacing_m: grid spacing in metres (required for arrays).
        processor: the model's `TerrainImageProcessor`; default: the one saved with the model.
        max_patches: most patches classified (evenly spread over the DEM).

    Returns:
        `{label: probability}` over `model.config.id2label`, summing to 1.
    """
    processor = _processor_for(model, processor)
    patches = landform_patches(dem, processor, int(model.config.image_size), spacing_m=spacing_m,
                               max_patches=max_patches)  # fmt: skip
    pixel_values = processor(patches)["pixel_values"].to(model.device)
    return landform_scores(model, model(pixel_values=pixel_values).logits)


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
    try:
        with atomic_path(path, suffix=".png") as tmp:
            figure.savefig(tmp, bbox_inches="tight")
    finally:
        plt.close(figure)
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
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, z)
        else:
            _write_geotiff(str(tmp), z, spacing_m if spacing_m is not None else _spacing_of(dem, path))
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
