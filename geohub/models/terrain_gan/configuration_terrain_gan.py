"""Configuration of geohub's terrain GAN: a fully convolutional generator over a spatial latent field (default) or the
geohub 0.1 DCGAN-style patch generator, each with a spectrally normalised discriminator."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["TerrainGANConfig"]

_LOSSES = ("hinge", "wgan-gp")
_GENERATORS = ("convolutional", "dcgan")
_UPSAMPLERS = ("bilinear", "smooth")


class TerrainGANConfig(PretrainedConfig):
    """Configuration of `TerrainGAN`.

    Args:
        image_size (`int`, defaults to 64): side in cells of the patches the discriminator judges (training crops);
            a power of two >= 8 (64 and 128 are the presets, see `TerrainGANConfig.preset`).
        generator_type (`str`, defaults to "convolutional"): "convolutional": a fully convolutional generator over a
            spatial latent field `(latent_dim, h, w)` (one latent cell per `2 ** field_upsamplings` output cells,
            unpadded convolutions, finite receptive field): any extent, no seams, overlapping windows agree.
            "dcgan": geohub 0.1's generator of one `image_size` patch per latent vector (a saved config.json without
            this key is such a model and loads as one).
        field_upsamplings (`int`, defaults to 2): x2 up-samplings between the latent field and the output
            ("convolutional" only).
        upsampler (`str`, defaults to "bilinear"): how the field generator doubles its maps: "bilinear", or
            "smooth" (bilinear then a fixed [1, 2, 1] binomial blur: a quadratic B-spline, whose curvature has no
            peaks on the latent lattice lines, so coarse latent fields leave no lattice seams).
        context_dilations (`list[int]`, defaults to []): dilations of extra unpadded 3x3 convolutions at the latent
            field's resolution (e.g. [2, 4]): a wider receptive field (long ridges, broad slopes) at little cost.
        structure_channels (`int`, defaults to 0): extra latent channels that the generator first smooths with a
            fixed unit-energy Gaussian of `structure_sigma` latent cells (unpadded): a slowly varying "structure"
            input (InfinityGAN's structure latent, Lin et al. 2022) for regional elevation and broad slopes.
        structure_sigma (`float`, defaults to 6.0): that Gaussian's standard deviation in latent cells (its kernel
            spans `2 * round(2.5 * sigma) + 1` cells).
        latent_dim (`int`, defaults to 64): size of the Gaussian latent vector ("dcgan") or channels of the latent
            field ("convolutional").
        generator_channels (`int`, defaults to 128): channels at the generator's start (the 4 x 4 map or the
            latent field's resolution); halved at each up-sampling step (never below `min_channels`).
        discriminator_channels (`int`, defaults to 16): channels of the discriminator's first stage; doubled at
            each down-sampling step (never above `max_channels`).
        min_channels / max_channels (`int`, defaults to 16 / 256): channel bounds.
        spectral_norm (`bool`, defaults to True): spectral normalisation on every discriminator layer
            (Miyato et al. 2018).
        loss (`str`, defaults to "hinge"): "hinge" (Lim & Ye 2017) or "wgan-gp" (Gulrajani et al. 2017).
        gradient_penalty_weight (`float`, defaults to 10.0): lambda of WGAN-GP.
        elevation_mean / elevation_std (`float`, defaults to 0 / 1): metres; copies of the processor's statistics
            so that `generate` returns metres even without a `TerrainProcessor`.
        spacing_m (`float`, defaults to 30.0): grid spacing of the training patches, metres.
        initializer_range (`float`, defaults to 0.02): std of the DCGAN weight initialisation.
    """

    model_type = "geohub_terrain_gan"

    def __init__(
        self,
        image_size: int = 64,
        generator_type: str = "convolutional",
        field_upsamplings: int = 2,
        upsampler: str = "bilinear",
        context_dilations: list[int] | tuple[int, ...] = (),
        structure_channels: int = 0,
        structure_sigma: float = 6.0,
        latent_dim: int = 64,
        generator_channels: int = 128,
        discriminator_channels: int = 16,
        min_channels: int = 16,
        max_channels: int = 256,
        spectral_norm: bool = True,
        loss: str = "hinge",
        gradient_penalty_weight: float = 10.0,
        elevation_mean: float = 0.0,
        elevation_std: float = 1.0,
        spacing_m: float = 30.0,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        if generator_type not in _GENERATORS:
            raise ValueError(f"generator_type must be one of {_GENERATORS}, got {generator_type!r}")
        if field_upsamplings not in (1, 2):  # 1 or 2 keep `image_size` an exact output size (see field_geometry)
            raise ValueError(f"field_upsamplings must be 1 or 2, got {field_upsamplings}")
        if upsampler not in _UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {_UPSAMPLERS}, got {upsampler!r}")
        if any(int(d) < 1 for d in context_dilations):
            raise ValueError(f"context_dilations must be positive integers, got {list(context_dilations)}")
        if structure_channels < 0 or not structure_sigma > 0:
            raise ValueError(f"structure_channels must be >= 0 and structure_sigma > 0, got {structure_channels}, "
                             f"{structure_sigma}")  # fmt: skip
        if min(latent_dim, generator_channels, discriminator_channels, min_channels, max_channels) <= 0:
            raise ValueError("latent_dim and channel counts must be positive")
        if elevation_std <= 0 or spacing_m <= 0:
            raise ValueError("elevation_std and spacing_m must be positive (metres)")
        self.image_size = int(image_size)
        self.generator_type = generator_type
        self.field_upsamplings = int(field_upsamplings)
        self.upsampler = upsampler
        self.context_dilations = [int(d) for d in context_dilations]
        self.structure_channels = int(structure_channels)
        self.structure_sigma = float(structure_sigma)
        self.latent_dim = int(latent_dim)
        self.generator_channels = int(generator_channels)
        self.discriminator_channels = int(discriminator_channels)
        self.min_channels = int(min_channels)
        self.max_channels = int(max_channels)
        self.spectral_norm = bool(spectral_norm)
        self.loss = loss
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.elevation_mean = float(elevation_mean)
        self.elevation_std = float(elevation_std)
        self.spacing_m = float(spacing_m)
        self.initializer_range = float(initializer_range)

    @property
    def num_upsamplings(self) -> int:
        """Doublings from the 4 x 4 start to `image_size` (4 for 64 x 64, 5 for 128 x 128)."""
        return self.image_size.bit_length() - 3

    @property
    def field_geometry(self) -> tuple[int, int, int]:
        """(stride, offset, shrink) of the convolutional generator: a latent window of `n` cells starting at latent
        cell `L` gives `stride * n - shrink` output cells starting at output cell `stride * L + offset`.

        Two unpadded 3x3 convolutions (and one per `context_dilations` entry d: d cells each side) at the latent
        resolution, then per up-sampling: bilinear x2 with one edge cell cropped each side (plus, "smooth", an
        unpadded 3x3 blur) and two unpadded 3x3 convolutions; an unpadded 3x3 convolution to elevation (1x1 with
        "smooth", which keeps `image_size` an exact output size)."""
        dilation = sum(self.context_dilations) + self.structure_radius
        offset, shrink, stride = 2 + dilation, 4 + 2 * dilation, 1
        blur = 1 if self.upsampler == "smooth" else 0
        for _ in range(self.field_upsamplings):
            offset, shrink, stride = 2 * offset + 3 + blur, 2 * shrink + 6 + 2 * blur, 2 * stride
        return stride, offset + 1 - blur, shrink + 2 - 2 * blur  # "smooth" ends with a 1x1 conv

    @property
    def structure_radius(self) -> int:
        """Half-width in latent cells of the structure channels' Gaussian (0 without structure channels)."""
        return int(round(2.5 * self.structure_sigma)) if self.structure_channels else 0

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one sample's latents: `(latent_dim,)` ("dcgan") or the field `(latent_dim, n, n)` that gives
        exactly `image_size` x `image_size` cells ("convolutional")."""
        if self.generator_type == "dcgan":
            return (self.latent_dim,)
        stride, _, shrink = self.field_geometry
        cells = -(-(self.image_size + shrink) // stride)
        return (self.latent_dim + self.structure_channels, cells, cells)

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs):
        """A saved config without `generator_type` was written by geohub 0.1: it is a "dcgan" model."""
        if "generator_type" not in config_dict:
            config_dict = {**config_dict, "generator_type": "dcgan"}
        return super().from_dict(config_dict, **kwargs)

    @classmethod
    def preset(cls, image_size: int, **kwargs) -> TerrainGANConfig:
        """The 64 x 64 or 128 x 128 configuration (the 128 one starts wider so each stage keeps capacity)."""
        presets = {
            64: {"image_size": 64, "latent_dim": 64, "generator_channels": 128, "discriminator_channels": 16},
            128: {"image_size": 128, "latent_dim": 128, "generator_channels": 256, "discriminator_channels": 16},
        }
        if image_size not in presets:
            raise ValueError(f"presets exist for 64 and 128, got {image_size}")
        return cls(**{**presets[image_size], **kwargs})
