"""Terrain task `terrain_gan` (GAN, Accelerate loop; the landform classifier's task is `geohub.training.landform`).

    geohub train recipes/terrain_gan/config_jacksboro_64.yaml --config_file recipes/accelerate_configs/cpu.yaml

`terrain_gan`: see `geohub.training.adversarial` (two optimisers, critic steps, EMA generator, exact resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from transformers import set_seed

from ..models.terrain_gan.processing_terrain_gan import TerrainProcessor
from ..utils import get_logger
from .tasks import Task

logger = get_logger(__name__)

__all__ = ["TerrainGANModelArguments", "TerrainGANDataArguments", "TERRAIN_GAN", "load_gan_patches"]


@dataclass
class TerrainGANModelArguments:
    """Shape and loss of the GAN (see `TerrainGANConfig`)."""

    image_size: int = field(default=64, metadata={"help": "training crop side in cells (any power of two >= 8)"})
    generator_type: str = field(
        default="convolutional",
        metadata={"help": "'convolutional' (latent field, any extent, no seams) or 'dcgan' (geohub 0.1 patches)"},
    )
    field_upsamplings: int = field(default=2, metadata={"help": "x2 up-samplings after the latent field (1 or 2)"})
    upsampler: str = field(
        default="bilinear",
        metadata={"help": "'bilinear' or 'smooth' (bilinear + binomial blur: no lattice curvature)"},
    )
    context_dilations: list[int] = field(
        default_factory=list, metadata={"help": "dilations of extra 3x3 convolutions at the latent resolution"}
    )
    structure_channels: int = field(
        default=0, metadata={"help": "latent channels smoothed by a Gaussian of structure_sigma latent cells"}
    )
    structure_sigma: float = field(default=6.0, metadata={"help": "std of the structure channels' Gaussian"})
    latent_dim: int = field(default=64, metadata={"help": "latent vector size / latent field channels"})
    generator_channels: int = field(default=64, metadata={"help": "generator channels at its start"})
    discriminator_channels: int = field(default=16, metadata={"help": "discriminator channels of the first stage"})
    min_channels: int = field(default=8, metadata={"help": "smallest channel count"})
    loss: str = field(default="hinge", metadata={"help": "hinge or wgan-gp"})
    spectral_norm: bool = field(default=True, metadata={"help": "spectral normalisation in the discriminator"})
    gradient_penalty_weight: float = field(default=10.0, metadata={"help": "WGAN-GP lambda"})


@dataclass
class TerrainGANDataArguments:
    """Real DEM patches (a matplotlib sample, a GeoTIFF, .npy/.npz) or synthetic fBm patches."""

    dem: str = field(
        default="jacksboro",
        metadata={"help": "'jacksboro', 'topobathy', a .tif/.npy/.npz path, or 'synthetic' (spectral fBm)"},
    )
    spacing_m: float | None = field(default=None, metadata={"help": "grid spacing in metres (needed for .npy)"})
    stride: int = field(default=8, metadata={"help": "cells between patch corners when tiling"})
    held_out_fraction: float = field(default=0.25, metadata={"help": "share of the DEM kept for evaluation"})
    held_out_axis: str = field(default="rows", metadata={"help": "hold out the bottom 'rows' or right 'columns'"})
    num_synthetic_patches: int = field(default=256, metadata={"help": "patches when dem is 'synthetic'"})
    synthetic_beta: float = field(default=2.2, metadata={"help": "power-law exponent of the synthetic patches"})
    max_train_patches: int | None = field(default=None, metadata={"help": "use only the first N training patches"})
    max_eval_patches: int = field(default=256, metadata={"help": "held-out patches used by the in-loop evaluation"})


def load_gan_patches(data_args: TerrainGANDataArguments, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(train patches, held-out patches, spacing in metres); patches `(N, size, size)` float32 metres.

    Real DEMs are resampled to square cells and split (top rows: training, bottom rows: held out), so no
    held-out cell is ever seen in training.
    """
    from ..data.dem import read_dem, split_dem, tile_dem
    from ..data.synthetic_terrain import spectral_terrain

    if data_args.dem == "synthetic":
        spacing = data_args.spacing_m or 30.0
        count = data_args.num_synthetic_patches
        rng = np.random.default_rng(seed)
        patches = np.stack(
            [
                spectral_terrain(
                    size, data_args.synthetic_beta, relief_m=rng.uniform(50, 400), base_m=rng.uniform(0, 500), rng=rng
                )
                for _ in range(count + max(8, count // 4))
            ]
        )
        train, held_out = patches[:count], patches[count:]
    else:
        dem = read_dem(data_args.dem, spacing_m=data_args.spacing_m).square_cells()
        spacing = dem.spacing_m[0]
        train_dem, held_dem = split_dem(dem, data_args.held_out_fraction, data_args.held_out_axis)
        train = tile_dem(train_dem, size, data_args.stride)
        held_out = tile_dem(held_dem, size, data_args.stride)
    if data_args.max_train_patches:
        train = train[: data_args.max_train_patches]
    if len(held_out) > data_args.max_eval_patches:  # evenly spread over the held-out region
        held_out = held_out[np.linspace(0, len(held_out) - 1, data_args.max_eval_patches).round().astype(int)]
    return train, held_out, float(spacing)


def run_terrain_gan(model_args: TerrainGANModelArguments, data_args: TerrainGANDataArguments, training_args):
    """Train the terrain GAN in the Accelerate loop; returns the final metrics."""
    from ..models.terrain_gan import TerrainGAN, TerrainGANConfig
    from .adversarial import train_gan

    set_seed(training_args.seed)
    train, held_out, spacing = load_gan_patches(data_args, model_args.image_size, training_args.seed)
    processor = TerrainProcessor(normalization="global", spacing_m=spacing, patch_size=model_args.image_size).fit(
        train
    )
    config = TerrainGANConfig(
        image_size=model_args.image_size,
        generator_type=model_args.generator_type,
        field_upsamplings=model_args.field_upsamplings,
        upsampler=model_args.upsampler,
        context_dilations=model_args.context_dilations,
        structure_channels=model_args.structure_channels,
        structure_sigma=model_args.structure_sigma,
        latent_dim=model_args.latent_dim,
        generator_channels=model_args.generator_channels,
        discriminator_channels=model_args.discriminator_channels,
        min_channels=model_args.min_channels,
        loss=model_args.loss,
        spectral_norm=model_args.spectral_norm,
        gradient_penalty_weight=model_args.gradient_penalty_weight,
        elevation_mean=processor.elevation_mean,
        elevation_std=processor.elevation_std,
        spacing_m=spacing,
    )
    model = TerrainGAN(config)
    logger.info(f"terrain_gan: {len(train)} training and {len(held_out)} held-out patches at {spacing:.1f} m")
    return train_gan(model, processor, train, held_out, spacing, training_args)


def _gan_argument_types():
    from .adversarial import AdversarialTrainingArguments

    return (TerrainGANModelArguments, TerrainGANDataArguments, AdversarialTrainingArguments)


TERRAIN_GAN = Task(
    name="terrain_gan",
    argument_types=_gan_argument_types(),
    run=run_terrain_gan,
    description="DEM-generating GAN (spectral-norm critic, hinge/WGAN-GP, EMA generator) in the Accelerate loop",
)
