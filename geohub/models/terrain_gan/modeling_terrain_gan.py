"""Terrain GAN: one `PreTrainedModel` holding a generator and a spectrally normalised discriminator.

- `TerrainGAN.generator` ("convolutional", the default): a fully convolutional generator over a spatial latent
  field, latents `(B, latent_dim, h, w)` -> normalised elevation `(B, 1, s*h - d, s*w - d)` (`config.field_geometry`).
  Every convolution is unpadded and pixel norm is per cell, so an output cell depends only on a finite latent
  window: any extent can be computed in pieces that agree exactly where they overlap, with no seams (the idea of
  spatially consistent latent fields, e.g. InfinityGAN, Lin et al. 2022; Jetchev et al. 2016's Spatial GAN).
  `latent_field(seed, ...)` draws the field from a counter-based hash, so the latent at global cell (i, j)
  depends only on (seed, i, j), and `generate_region(height, width, seed, origin)` returns any window of the
  seed's unbounded terrain.
- `TerrainGAN.generator` ("dcgan", geohub 0.1 models): latent `(B, latent_dim)` -> one `(B, 1, H, W)` patch
  (Radford et al. 2016; nearest-neighbour up-sampling + 3x3 convolutions, Odena et al. 2016).
- `TerrainGAN.discriminator`: `(B, 1, H, W)` -> critic score `(B,)`, strided convolutions with spectral
  normalisation (Miyato et al. 2018).
- `TerrainGAN.generate(num_samples, seed=...)`: elevations in metres through the `TerrainProcessor` statistics.
- Losses for the adversarial loop: `discriminator_loss` / `generator_loss` (hinge or WGAN-GP).

Training lives in `geohub/training/adversarial.py` (Accelerate, two optimisers, EMA generator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from transformers.utils import ModelOutput

from .configuration_terrain_gan import TerrainGANConfig
from .processing_terrain_gan import TerrainProcessor

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel


@dataclass
class TerrainGANOutput(ModelOutput):
    """Output of the terrain GAN's `forward` (generation from latent vectors).

    Args:
        samples: `(B, 1, H, W)` generated patches in the normalised space of the processor.
        critic_scores: `(B,)` discriminator scores of `samples`, when asked for.
    """

    samples: torch.Tensor | None = None
    critic_scores: torch.Tensor | None = None


__all__ = [
    "TerrainGANOutput",
    "TerrainGAN",
    "TerrainGenerator",
    "TerrainFieldGenerator",
    "TerrainFieldBlock",
    "latent_field",
    "field_window",
    "TerrainDiscriminator",
    "TerrainGeneratorBlock",
    "TerrainDiscriminatorBlock",
    "TerrainGANPreTrainedModel",
    "PixelNorm",
    "critic_loss",
    "adversarial_generator_loss",
    "radial_power",
]


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018): `(B, C, H, W)` -> same shape.

    Unlike batch norm it does not mix samples, so a data-parallel run computes exactly what one process does.
    """

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden * torch.rsqrt(hidden.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class TerrainGeneratorBlock(nn.Module):
    """Up-sample x2 then two (3x3 conv, LeakyReLU, pixel norm): `(B, C_in, H, W)` -> `(B, C_out, 2H, 2W)`."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            PixelNorm(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            PixelNorm(),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.layers(hidden)


class TerrainDiscriminatorBlock(nn.Module):
    """4x4 stride-2 conv (+ spectral norm) + LeakyReLU(0.2): `(B, C_in, H, W)` -> `(B, C_out, H/2, W/2)`."""

    def __init__(self, in_channels: int, out_channels: int, use_spectral_norm: bool):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)
        self.conv = spectral_norm(conv) if use_spectral_norm else conv
        self.activation = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(hidden))


class TerrainGenerator(nn.Module):
    """Latent `(B, latent_dim)` -> `(B, 1, image_size, image_size)` in the processor's normalised space."""

    def __init__(self, config: TerrainGANConfig):
        super().__init__()
        channels = [config.generator_channels]
        for _ in range(config.num_upsamplings):
            channels.append(max(config.min_channels, channels[-1] // 2))
        self.start_channels = channels[0]
        self.latent_shape = (config.latent_dim,)
        self.project = nn.Linear(config.latent_dim, channels[0] * 16)
        self.start = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), PixelNorm())
        self.blocks = nn.ModuleList(
            TerrainGeneratorBlock(channels[i], channels[i + 1]) for i in range(len(channels) - 1)
        )
        self.to_elevation = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        hidden = self.start(self.project(latents).view(-1, self.start_channels, 4, 4))
        for block in self.blocks:
            hidden = block(hidden)
        return self.to_elevation(hidden)


class TerrainFieldBlock(nn.Module):
    """Bilinear x2 (the two edge cells, which would read clamped neighbours, cropped), with `smooth` an unpadded
    [1, 2, 1] binomial blur, then two unpadded (3x3 conv, LeakyReLU, pixel norm):
    `(B, C_in, H, W)` -> `(B, C_out, 2H-6, 2W-6)` (`2H-8, 2W-8` with `smooth`).

    Bilinear rather than nearest up-sampling: nearest leaves a 2-cell periodic pattern (stripes in hillshades).
    Bilinear alone is piecewise linear between the coarse cells, so its curvature sits on the lattice lines; the
    blur makes it a quadratic B-spline (continuous slope), which leaves no lattice-periodic curvature."""

    def __init__(self, in_channels: int, out_channels: int, smooth: bool = False):
        super().__init__()
        self.smooth = smooth  # the blur is a constant made in forward: no weights, no buffer to save or load
        self.in_channels = in_channels
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3),
            nn.LeakyReLU(0.2, inplace=True),
            PixelNorm(),
            nn.Conv2d(out_channels, out_channels, 3),
            nn.LeakyReLU(0.2, inplace=True),
            PixelNorm(),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = nn.functional.interpolate(hidden, scale_factor=2, mode="bilinear", align_corners=False)
        hidden = hidden[:, :, 1:-1, 1:-1]
        if self.smooth:
            taps = torch.tensor([0.25, 0.5, 0.25], dtype=hidden.dtype, device=hidden.device)
            kernel = (taps[:, None] * taps[None, :]).view(1, 1, 3, 3).repeat(self.in_channels, 1, 1, 1)
            hidden = nn.functional.conv2d(hidden, kernel, groups=self.in_channels)
        return self.layers(hidden)


def _conv_stage(in_channels: int, out_channels: int, dilation: int = 1) -> list[nn.Module]:
    """Unpadded 3x3 convolution (dilated), LeakyReLU(0.2), pixel norm."""
    return [nn.Conv2d(in_channels, out_channels, 3, dilation=dilation), nn.LeakyReLU(0.2, inplace=True), PixelNorm()]


class TerrainFieldGenerator(nn.Module):
    """Latent field `(B, latent_dim, h, w)` -> `(B, 1, s*h - d, s*w - d)` (normalised), no padding anywhere.

    `(s, offset, d) = config.field_geometry`; `latent_shape` is the field of one `image_size` training patch."""

    def __init__(self, config: TerrainGANConfig):
        super().__init__()
        channels = [config.generator_channels]
        for _ in range(config.field_upsamplings):
            channels.append(max(config.min_channels, channels[-1] // 2))
        self.latent_shape = config.latent_shape
        self.latent_dim = config.latent_dim
        self.structure_radius = getattr(config, "structure_radius", 0)
        self.structure_channels = getattr(config, "structure_channels", 0)
        if self.structure_radius:
            taps = np.arange(-self.structure_radius, self.structure_radius + 1) / config.structure_sigma
            gauss = np.exp(-0.5 * taps**2)
            self.structure_taps = tuple(float(v) for v in gauss / np.sqrt((gauss**2).sum()))  # unit energy per axis
        in_channels = config.latent_dim + getattr(config, "structure_channels", 0)
        stages = _conv_stage(in_channels, channels[0]) + _conv_stage(channels[0], channels[0])
        for dilation in getattr(config, "context_dilations", ()):  # wider context at the latent resolution
            stages += _conv_stage(channels[0], channels[0], dilation)
        self.stem = nn.Sequential(*stages)
        smooth = getattr(config, "upsampler", "bilinear") == "smooth"
        self.blocks = nn.ModuleList(
            TerrainFieldBlock(channels[i], channels[i + 1], smooth) for i in range(len(channels) - 1)
        )
        self.to_elevation = nn.Conv2d(channels[-1], 1, 1 if smooth else 3)

    def _structure(self, latents: torch.Tensor) -> torch.Tensor:
        """Fine channels cropped by the structure radius, structure channels smoothed by the unpadded Gaussian."""
        r = self.structure_radius
        fine, coarse = latents[:, : self.latent_dim, r:-r, r:-r], latents[:, self.latent_dim :]
        taps = torch.tensor(self.structure_taps, dtype=latents.dtype, device=latents.device)
        channels, width = self.structure_channels, len(self.structure_taps)  # Python ints: a static ONNX kernel
        coarse = nn.functional.conv2d(coarse, taps.view(1, 1, width, 1).repeat(channels, 1, 1, 1), groups=channels)
        coarse = nn.functional.conv2d(coarse, taps.view(1, 1, 1, width).repeat(channels, 1, 1, 1), groups=channels)
        return torch.cat([fine, coarse], dim=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        hidden = self.stem(self._structure(latents) if self.structure_radius else latents)
        for block in self.blocks:
            hidden = block(hidden)
        return self.to_elevation(hidden)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele et al. 2014) on uint64 arrays: a counter-based hash, wrapping arithmetic."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def latent_field(seed: int, channels: int, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Standard-normal latent field `(channels, height, width)` float32 of global cells `top.. x left..`.

    Cell (c, i, j) is a hash of (seed, c, i, j) turned normal by Box-Muller: the same seed and cell always give
    the same value, whatever window is asked for (negative indices too)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(np.full(1, seed, dtype=np.int64).view(np.uint64))
        c = np.arange(channels, dtype=np.int64).view(np.uint64)[:, None, None]
        i = np.arange(top, top + height, dtype=np.int64).view(np.uint64)[None, :, None]
        j = np.arange(left, left + width, dtype=np.int64).view(np.uint64)[None, None, :]
        h = _splitmix64(_splitmix64(_splitmix64(key ^ c) ^ i) ^ j)
        h2 = _splitmix64(h)
    scale = 1.0 / float(1 << 53)
    u1 = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * scale
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


def field_window(generator, config, seed: int, top: int, left: int, rows: int, cols: int) -> torch.Tensor:
    """Normalised output `(1, 1, rows, cols)` of global cells from (top, left) of a convolutional `generator`
    (a module, or any callable of latents `(1, latent_dim, h, w)`): the latent window that covers them plus the
    receptive-field margin (`config.field_geometry`), then cropped; nothing depends on the window's position."""
    stride, offset, shrink = config.field_geometry
    lat_top, lat_left = (top - offset) // stride, (left - offset) // stride
    skip_rows, skip_cols = top - (stride * lat_top + offset), left - (stride * lat_left + offset)
    lat_rows = -(-(skip_rows + rows + shrink) // stride)
    lat_cols = -(-(skip_cols + cols + shrink) // stride)
    field = torch.from_numpy(latent_field(seed, config.latent_shape[0], lat_top, lat_left, lat_rows, lat_cols))[None]
    parameter = next(generator.parameters(), None) if isinstance(generator, nn.Module) else None
    if parameter is not None:
        field = field.to(parameter.device, parameter.dtype)
    values = generator(field)
    return values[:, :, skip_rows : skip_rows + rows, skip_cols : skip_cols + cols]


class TerrainDiscriminator(nn.Module):
    """`(B, 1, image_size, image_size)` -> critic score `(B,)` (higher = more real)."""

    def __init__(self, config: TerrainGANConfig):
        super().__init__()
        channels = [1, config.discriminator_channels]
        for _ in range(config.num_upsamplings - 1):
            channels.append(min(config.max_channels, channels[-1] * 2))
        self.blocks = nn.ModuleList(
            TerrainDiscriminatorBlock(channels[i], channels[i + 1], config.spectral_norm)
            for i in range(len(channels) - 1)
        )
        head = nn.Linear(channels[-1] * 16, 1)
        self.head = spectral_norm(head) if config.spectral_norm else head

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        hidden = samples
        for block in self.blocks:
            hidden = block(hidden)
        return self.head(hidden.flatten(1)).squeeze(-1)


def critic_loss(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, loss: str = "hinge", penalty_weight: float = 10.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Discriminator loss on real `(B, 1, H, W)` and detached fake samples, scored in ONE forward pass.

    `discriminator` may be a DDP-wrapped module (one forward per step keeps DDP's buffer sync simple).
    Returns (loss, detached logs: real_score, fake_score[, gradient_penalty]).
    """
    scores = discriminator(torch.cat([real, fake]))
    real_scores, fake_scores = scores[: real.shape[0]], scores[real.shape[0] :]
    logs = {"real_score": real_scores.mean().detach(), "fake_score": fake_scores.mean().detach()}
    if loss == "hinge":
        return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean(), logs
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
    penalty = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    logs["gradient_penalty"] = penalty.detach()
    return fake_scores.mean() - real_scores.mean() + penalty_weight * penalty, logs


def radial_power(samples: torch.Tensor) -> torch.Tensor:
    """Radially averaged power spectrum of each sample `(B, 1, n, n)` -> `(B, n // 2)` (radii 1 .. n/2 cells^-1 * n):
    mean removed, Hann window, |FFT|^2 averaged over integer radial bins (the DC bin dropped), differentiable."""
    n = samples.shape[-1]
    z = samples[:, 0].float()
    hann = torch.hann_window(n, periodic=False, dtype=z.dtype, device=z.device)
    z = (z - z.mean(dim=(-2, -1), keepdim=True)) * (hann[:, None] * hann[None, :])
    power = torch.fft.fft2(z).abs().pow(2).flatten(1)
    k = torch.fft.fftfreq(n, device=z.device)
    bins = torch.round(torch.hypot(k[:, None], k[None, :]) * n).long().flatten()
    onehot = nn.functional.one_hot(bins, int(bins.max()) + 1).to(z.dtype)[:, 1 : n // 2 + 1]
    return (power @ onehot) / onehot.sum(0)


def adversarial_generator_loss(discriminator: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss for hinge and WGAN alike: minus the mean critic score of `fake` `(B, 1, H, W)`."""
    return -discriminator(fake).mean()


class TerrainGANPreTrainedModel(GeoPreTrainedModel):
    config_class = TerrainGANConfig
    base_model_prefix = "terrain_gan"
    main_input_name = "latents"
    _no_split_modules = ["TerrainGeneratorBlock", "TerrainFieldBlock", "TerrainDiscriminatorBlock"]

    def _init_weights(self, module: nn.Module) -> None:
        """DCGAN initialisation: N(0, initializer_range) for conv/linear weights, zero biases."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            parametrized = getattr(module, "parametrizations", None)
            weight = parametrized.weight.original if parametrized is not None else module.weight
            nn.init.normal_(weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


class TerrainGAN(TerrainGANPreTrainedModel):
    """Generator and discriminator of terrain patches in one model (one save_pretrained / from_pretrained)."""

    def __init__(self, config: TerrainGANConfig):
        super().__init__(config)
        convolutional = config.generator_type == "convolutional"
        self.generator = TerrainFieldGenerator(config) if convolutional else TerrainGenerator(config)
        self.discriminator = TerrainDiscriminator(config)
        self.post_init()

    def sample_latents(self, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard-normal latents `(num_samples, *config.latent_shape)` on the model's device (one patch each)."""
        latents = torch.randn(num_samples, *self.config.latent_shape, generator=generator)
        return latents.to(self.device)

    def forward(self, latents: torch.Tensor, return_critic_scores: bool = False, **kwargs) -> TerrainGANOutput:
        """Args:
            latents: `(B, *config.latent_shape)` Gaussian latents: vectors `(B, latent_dim)` ("dcgan") or fields
                `(B, latent_dim, h, w)` ("convolutional", any h, w giving at least one output cell).
            return_critic_scores: also score the samples with the discriminator (`image_size` samples only).

        Returns:
            `TerrainGANOutput` with `samples` `(B, 1, H, W)` (normalised) and optionally `critic_scores` `(B,)`.
        """
        shape = self.config.latent_shape
        stride, _, shrink = self.config.field_geometry
        ok = latents.ndim == len(shape) + 1 and latents.shape[1] == shape[0]
        if ok and len(shape) == 3:
            ok = min(latents.shape[2:]) * stride > shrink
        if not ok:
            expected = (
                "(B, latent_dim)" if len(shape) == 1 else f"(B, latent_dim, h, w) with h, w > {shrink // stride}"
            )
            raise ValueError(f"latents must be {expected} with latent_dim {shape[0]}, got {tuple(latents.shape)}")
        samples = self.generator(latents)
        scores = self.discriminator(samples) if return_critic_scores else None
        return TerrainGANOutput(samples=samples, critic_scores=scores)

    def default_processor(self) -> TerrainProcessor:
        """The processor matching the statistics stored in the config (used when none is passed)."""
        return TerrainProcessor(
            normalization="global",
            elevation_mean=self.config.elevation_mean,
            elevation_std=self.config.elevation_std,
            spacing_m=self.config.spacing_m,
            patch_size=self.config.image_size,
        )

    @torch.no_grad()
    def generate(
        self,
        num_samples: int = 1,
        seed: int | None = None,
        processor: TerrainProcessor | None = None,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Generate terrain patches in metres.

        Args:
            num_samples: number of patches.
            seed: seed of the latent vectors (same seed, same patches); None draws from torch's global RNG.
            processor: statistics for metres; defaults to those stored in the config.
            batch_size: patches per forward pass.

        Returns:
            `(num_samples, image_size, image_size)` float32 elevations in metres.
        """
        if num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        processor = processor or self.default_processor()
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        latents = self.sample_latents(num_samples, rng)
        was_training = self.training
        self.eval()
        try:
            chunks = [self.generator(chunk) for chunk in latents.split(batch_size)]
        finally:
            self.train(was_training)
        return processor.postprocess(torch.cat(chunks))

    @torch.no_grad()
    def generate_region(
        self,
        height: int,
        width: int,
        seed: int = 0,
        origin: tuple[int, int] = (0, 0),
        processor: TerrainProcessor | None = None,
        chunk: int = 256,
    ) -> np.ndarray:
        """Window `(height, width)` float32 metres of the seed's unbounded terrain, top-left at global cell `origin`.

        Computed in pieces of at most `chunk` x `chunk` cells, each from its latent window plus the receptive-field
        margin (see `config.field_geometry`), so no piece has an edge effect: overlapping requests agree where they
        overlap and the result has no seams. "convolutional" models only."""
        if self.config.generator_type != "convolutional":
            raise ValueError("generate_region needs a 'convolutional' terrain GAN; this one is a geohub 0.1 'dcgan' "
                             "patch generator (retrain it with the current recipe, or use generate())")  # fmt: skip
        if min(height, width) < 1 or chunk < 1:
            raise ValueError(f"height, width and chunk must be >= 1, got {height}, {width}, {chunk}")
        processor = processor or self.default_processor()
        out = np.empty((height, width), dtype=np.float32)
        was_training = self.training
        self.eval()
        try:
            for top in range(0, height, chunk):
                for left in range(0, width, chunk):
                    rows, cols = min(chunk, height - top), min(chunk, width - left)
                    piece = field_window(
                        self.generator, self.config, seed, origin[0] + top, origin[1] + left, rows, cols
                    )
                    out[top : top + rows, left : left + cols] = processor.postprocess(piece)[0]
        finally:
            self.train(was_training)
        return out

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Critic loss (hinge or WGAN-GP, from the config) of real and fake `(B, 1, H, W)`; see `critic_loss`."""
        return critic_loss(self.discriminator, real, fake, self.config.loss, self.config.gradient_penalty_weight)

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Minus the mean critic score of `fake` `(B, 1, H, W)`."""
        return adversarial_generator_loss(self.discriminator, fake)
