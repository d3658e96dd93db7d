"""`LandformImageProcessor`: elevation normalisation of the landform classifier (metres in, model space out),
saved as `preprocessor_config.json` beside the model.

The landform family's own class: a marked copy of the terrain family's `TerrainImageProcessor` (the landform model
uses its ``normalization="patch"`` mode: ``x = (z - mean(z_patch)) / elevation_scale``), kept in step by
`geohub.testing.check_copies`, so that this folder needs no other family's. Folders saved with
`TerrainImageProcessor` / `TerrainProcessor` keep loading as those classes (the family lists them as legacy
processors).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch
from transformers.image_processing_base import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

__all__ = ["LandformImageProcessor"]

_MODES = ("global", "patch")


# Copied from geohub.models.terrain_gan.processing_terrain_gan._TerrainImageProcessorKwargs with _TerrainImageProcessorKwargs->_LandformImageProcessorKwargs
class _LandformImageProcessorKwargs(TypedDict, total=False):
    normalization: str
    elevation_mean: float
    elevation_std: float
    elevation_scale: float
    spacing_m: float
    patch_size: int


# Copied from geohub.models.terrain_gan.processing_terrain_gan.TerrainImageProcessor with TerrainImageProcessor->LandformImageProcessor, _TerrainImageProcessorKwargs->_LandformImageProcessorKwargs
class LandformImageProcessor(BaseImageProcessor):
    """Elevation (metres) <-> model space, for patches `(H, W)` or batches `(B, H, W)` / `(B, 1, H, W)`.

    Args:
        normalization: "global" (fitted mean/std) or "patch" (per-patch mean, fixed scale). Default "global".
        elevation_mean: metres, used by "global". Default 0.
        elevation_std: metres, used by "global". Default 1.
        elevation_scale: metres per unit, used by "patch". Default 300.
        spacing_m: grid spacing the model expects, metres. Default 30.
        patch_size: patch side in cells the model expects. Default 64.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = _LandformImageProcessorKwargs

    def __init__(
        self,
        normalization: str = "global",
        elevation_mean: float = 0.0,
        elevation_std: float = 1.0,
        elevation_scale: float = 300.0,
        spacing_m: float = 30.0,
        patch_size: int = 64,
        **kwargs,
    ):
        kwargs.pop("image_processor_type", None)
        super().__init__(**kwargs)
        if normalization not in _MODES:
            raise ValueError(f"normalization must be one of {_MODES}, got {normalization!r}")
        if elevation_std <= 0 or elevation_scale <= 0 or spacing_m <= 0:
            raise ValueError("elevation_std, elevation_scale and spacing_m must be positive (metres)")
        self.normalization = normalization
        self.elevation_mean = float(elevation_mean)
        self.elevation_std = float(elevation_std)
        self.elevation_scale = float(elevation_scale)
        self.spacing_m = float(spacing_m)
        self.patch_size = int(patch_size)

    def fit(self, patches: np.ndarray) -> LandformImageProcessor:
        """Set `elevation_mean` / `elevation_std` (metres) from training patches `(N, H, W)`; returns self."""
        values = np.asarray(patches, dtype=np.float64)
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError("fit needs a non-empty array of finite elevations (metres)")
        self.elevation_mean = float(values.mean())
        self.elevation_std = float(max(values.std(), 1e-6))
        return self

    def normalize(self, elevation: np.ndarray | torch.Tensor):
        """Metres -> model space, same shape. "patch" mode subtracts each patch's own mean (last two axes)."""
        if self.normalization == "global":
            return (elevation - self.elevation_mean) / self.elevation_std
        if isinstance(elevation, torch.Tensor):
            mean = elevation.mean(dim=(-2, -1), keepdim=True)
        else:
            mean = np.asarray(elevation).mean(axis=(-2, -1), keepdims=True)
        return (elevation - mean) / self.elevation_scale

    def postprocess(self, values: np.ndarray | torch.Tensor) -> np.ndarray:
        """Model space -> metres as float32 numpy, `(B, 1, H, W)` squeezed to `(B, H, W)`.

        In "patch" mode the absolute level is unknown, so patches come back with zero mean.
        """
        if isinstance(values, torch.Tensor):
            values = values.detach().float().cpu().numpy()
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 4 and values.shape[1] == 1:
            values = values[:, 0]
        if self.normalization == "global":
            return (values * self.elevation_std + self.elevation_mean).astype(np.float32)
        return (values * self.elevation_scale).astype(np.float32)

    def resample(self, elevation: np.ndarray, spacing_m: float) -> np.ndarray:
        """Bilinear resampling of a `(H, W)` DEM with grid spacing `spacing_m` onto this processor's spacing."""
        if abs(spacing_m - self.spacing_m) / self.spacing_m < 1e-3:
            return np.asarray(elevation, dtype=np.float32)
        # Copied from geohub.data.dem.resample_bilinear: family files stay self-contained for the remote-code
        # export (tests/data/test_dem.py checks that the two agree).
        tensor = torch.as_tensor(np.asarray(elevation, dtype=np.float32))[None, None]
        factor = spacing_m / self.spacing_m
        size = [max(2, round(s * factor)) for s in tensor.shape[-2:]]
        out = torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", align_corners=True)
        return out[0, 0].numpy()

    def __call__(self, elevation, return_tensors: str | None = "pt") -> BatchFeature:
        """Patches in metres `(H, W)`, `(B, H, W)` or a list of `(H, W)` -> `{"pixel_values": (B, 1, H, W)}`."""
        if isinstance(elevation, (list, tuple)):
            elevation = np.stack([np.asarray(e, dtype=np.float32) for e in elevation])
        array = np.asarray(elevation, dtype=np.float32)
        if array.ndim == 2:
            array = array[None]
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4 or array.shape[1] != 1:
            raise ValueError(f"expected elevations shaped (H, W), (B, H, W) or (B, 1, H, W), got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError("elevations contain NaN or Inf (fill or drop nodata cells first)")
        values = self.normalize(array).astype(np.float32)
        return BatchFeature({"pixel_values": values}, tensor_type=return_tensors)
