"""geohub's seismic denoiser: DeepDenoiser (Zhu, Mousavi & Beroza, 2019), an STFT-domain encoder-decoder.

`SeismicDenoiserForDenoising(inputs (B, C, T)) -> SeismicDenoisingOutput(denoised (B, C, T), noise (B, C, T),
masks (B, C, 2, F, N))`: each component's STFT `X` (F = n_fft // 2 + 1 frequencies, N = T // hop_length + 1
frames) goes through a 2-D U-Net that predicts a signal mask `M` and a noise mask `1 - M` (softmax over two
classes); the inverse STFTs of `M X` and `(1 - M) X` are the denoised signal and the removed noise, which add up
to the input. Any `T >= n_fft` works.

The STFT and its inverse are written as fixed 1-D (transposed) convolutions with a windowed Fourier basis; they
equal `torch.stft` / `torch.istft` (Hann window, `center=True`, reflect padding) to float precision, and unlike
them export to ONNX (no complex tensors).

Labels: `(B, C, T)` the clean signal in the units of `inputs`. The loss compares the predicted signal mask with
the ideal ratio mask `|S| / (|S| + |X - S|)` (soft-mask MSE by default, DeepDenoiser's cross-entropy with
`mask_loss="cross_entropy"`) and adds `waveform_loss_weight` times the mean-squared error of the denoised waveform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_seismic_denoiser import SeismicDenoiserConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = [
    "SeismicDenoisingOutput",
    "SeismicDenoiserPreTrainedModel",
    "SeismicDenoiserModel",
    "SeismicDenoiserForDenoising",
    "stft",
    "istft",
]

_EPS = 1e-8


@dataclass
class SeismicDenoisingOutput(ModelOutput):
    """Output of the seismic denoiser.

    Args:
        loss: scalar mask cross-entropy plus weighted waveform MSE, when `labels` are given.
        denoised: `(B, C, T)` the estimated earthquake signal, in the units of `inputs`.
        noise: `(B, C, T)` the estimated noise (`inputs - denoised` up to float error).
        masks: `(B, C, 2, F, N)` the (signal, noise) masks on the STFT grid, summing to 1.
    """

    loss: torch.Tensor | None = None
    denoised: torch.Tensor | None = None
    noise: torch.Tensor | None = None
    masks: torch.Tensor | None = None


def _fourier_kernels(n_fft: int, win_length: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Analysis kernels `(2F, 1, n_fft)` (real rows, then imaginary), synthesis kernels `(2F, 1, n_fft)` and the
    centred periodic Hann window `(n_fft,)` (zero outside its `win_length` samples, as `torch.stft` pads it)."""
    n = torch.arange(n_fft, dtype=torch.float64, device=device)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=device)[:, None]
    hann = 0.5 - 0.5 * torch.cos(
        2 * math.pi * torch.arange(win_length, dtype=torch.float64, device=device) / win_length
    )
    left = (n_fft - win_length) // 2
    window = F.pad(hann, (left, n_fft - win_length - left))
    angle = 2 * math.pi * k * n / n_fft
    analysis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0  # n_fft is even: the Nyquist bin appears once
    synthesis = torch.cat([weight * torch.cos(angle), -weight * torch.sin(angle)]) * window / n_fft
    return analysis[:, None].to(dtype), synthesis[:, None].to(dtype), window.to(dtype)


def stft(waveforms: torch.Tensor, n_fft: int, hop_length: int, win_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(B, T)` -> (real, imaginary) `(B, F, N)`, equal to `torch.stft(..., window=hann(win_length), center=True,
    pad_mode="reflect")`."""
    analysis, _, _ = _fourier_kernels(n_fft, win_length, waveforms.dtype, waveforms.device)
    padded = F.pad(waveforms[:, None], (n_fft // 2, n_fft // 2), mode="reflect")
    spectrum = F.conv1d(padded, analysis, stride=hop_length)
    return spectrum.chunk(2, dim=1)


def istft(real: torch.Tensor, imag: torch.Tensor, n_fft: int, hop_length: int, win_length: int, length: int):
    """Inverse of `stft`: (real, imaginary) `(B, F, N)` -> `(B, length)` by windowed overlap-add."""
    _, synthesis, window = _fourier_kernels(n_fft, win_length, real.dtype, real.device)
    frames = torch.cat([real, imag], dim=1)
    signal = F.conv_transpose1d(frames, synthesis, stride=hop_length)
    ones = torch.ones_like(frames[:, :1, :])
    envelope = F.conv_transpose1d(ones, (window**2)[None, None], stride=hop_length)
    start = n_fft // 2
    return (signal / envelope.clamp_min(1e-11))[:, 0, start : start + length]


class SeismicDenoiserConvLayer(nn.Module):
    """Conv2d + BatchNorm + ReLU ('same' padding for stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                              bias=False)  # fmt: skip
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(hidden)))


class SeismicDenoiserDownBlock(nn.Module):
    """One encoder level: a stride-2 convolution (halves frequency and time) then a convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.down = SeismicDenoiserConvLayer(in_channels, out_channels, kernel_size, stride=2)
        self.conv = SeismicDenoiserConvLayer(out_channels, out_channels, kernel_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv(self.down(hidden))


class SeismicDenoiserUpBlock(nn.Module):
    """One decoder level: 2x transposed-conv up-sampling, crop to the skip's grid, concatenate, convolve."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)
        self.conv = SeismicDenoiserConvLayer(2 * out_channels, out_channels, kernel_size)

    def forward(self, hidden: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        hidden = self.up(hidden)[..., : skip.shape[-2], : skip.shape[-1]]
        return self.conv(torch.cat([hidden, skip], dim=1))


class SeismicDenoiserPreTrainedModel(GeoPreTrainedModel):
    config_class = SeismicDenoiserConfig
    base_model_prefix = "seismic_denoiser"
    main_input_name = "inputs"
    _no_split_modules = ["SeismicDenoiserDownBlock", "SeismicDenoiserUpBlock"]


class SeismicDenoiserModel(SeismicDenoiserPreTrainedModel):
    """The 2-D U-Net: STFT features `(B', 3, F, N)` (real, imaginary, log magnitude) -> `(B', hidden_sizes[0], F, N)`."""

    def __init__(self, config: SeismicDenoiserConfig):
        super().__init__(config)
        sizes, k = config.hidden_sizes, config.kernel_size
        self.stem = SeismicDenoiserConvLayer(3, sizes[0], k)
        self.down_blocks = nn.ModuleList(
            SeismicDenoiserDownBlock(sizes[i], sizes[i + 1], k) for i in range(len(sizes) - 1)
        )
        self.up_blocks = nn.ModuleList(
            SeismicDenoiserUpBlock(sizes[i + 1], sizes[i], k) for i in reversed(range(len(sizes) - 1))
        )
        self.post_init()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.stem(features)
        skips = []
        for block in self.down_blocks:
            skips.append(hidden)
            hidden = block(hidden)
        for block in self.up_blocks:
            hidden = block(hidden, skips.pop())
        return hidden


class SeismicDenoiserForDenoising(SeismicDenoiserPreTrainedModel):
    """STFT -> U-Net -> (signal, noise) masks -> inverse STFT (see the module docstring)."""

    def __init__(self, config: SeismicDenoiserConfig):
        super().__init__(config)
        self.seismic_denoiser = SeismicDenoiserModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.mask_head = nn.Conv2d(config.hidden_sizes[0], 2, 1)
        self.post_init()

    def _stft(self, waveforms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        return stft(waveforms, c.n_fft, c.hop_length, c.win_length)

    def _istft(self, real: torch.Tensor, imag: torch.Tensor, length: int) -> torch.Tensor:
        c = self.config
        return istft(real, imag, c.n_fft, c.hop_length, c.win_length, length)

    def forward(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> SeismicDenoisingOutput | tuple:
        """inputs `(B, C, T)` normalised noisy waveforms; labels `(B, C, T)` the clean signal (same units)."""
        if inputs.dim() != 3 or inputs.shape[-1] < self.config.n_fft:
            raise ValueError(f"inputs must be (batch, channels, samples >= {self.config.n_fft}), got "
                             f"{tuple(inputs.shape)}")  # fmt: skip
        batch, channels, length = inputs.shape
        flat = inputs.reshape(batch * channels, length)
        real, imag = self._stft(flat)
        magnitude = torch.sqrt(real**2 + imag**2 + _EPS)
        features = torch.stack([real, imag, torch.log(magnitude + 1e-3)], dim=1)
        logits = self.mask_head(self.dropout(self.seismic_denoiser(features)))
        masks = torch.softmax(logits, dim=1)
        signal_mask, noise_mask = masks[:, 0], masks[:, 1]
        denoised = self._istft(real * signal_mask, imag * signal_mask, length).reshape(batch, channels, length)
        noise = self._istft(real * noise_mask, imag * noise_mask, length).reshape(batch, channels, length)
        masks = masks.reshape(batch, channels, *masks.shape[1:])
        loss = None
        if labels is not None:
            loss = self._loss(logits, real, imag, labels, denoised)
        if return_dict is False:
            return tuple(v for v in (loss, denoised, noise, masks) if v is not None)
        return SeismicDenoisingOutput(loss=loss, denoised=denoised, noise=noise, masks=masks)

    def _loss(self, logits, real, imag, labels, denoised) -> torch.Tensor:
        """Mask loss (soft-mask MSE or cross-entropy, `config.mask_loss`) against the ideal ratio mask plus
        `waveform_loss_weight` times the waveform MSE."""
        labels = labels.to(denoised.dtype)
        if labels.shape != denoised.shape:
            raise ValueError(
                f"labels must have the shape of inputs {tuple(denoised.shape)}, got {tuple(labels.shape)}"
            )
        signal_real, signal_imag = self._stft(labels.reshape(-1, labels.shape[-1]))
        signal_abs = torch.sqrt(signal_real**2 + signal_imag**2 + _EPS)
        noise_abs = torch.sqrt((real - signal_real) ** 2 + (imag - signal_imag) ** 2 + _EPS)
        target = signal_abs / (signal_abs + noise_abs)
        if getattr(self.config, "mask_loss", "cross_entropy") == "mse":
            mask_loss = F.mse_loss(torch.softmax(logits, dim=1)[:, 0], target)
        else:
            log_probs = F.log_softmax(logits, dim=1)
            mask_loss = -(target * log_probs[:, 0] + (1 - target) * log_probs[:, 1]).mean()
        return mask_loss + self.config.waveform_loss_weight * F.mse_loss(denoised, labels)
