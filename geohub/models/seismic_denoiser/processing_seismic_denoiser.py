"""The denoiser's feature extractor, saved as `preprocessor_config.json`: window normalisation and STFT settings.

`SeismicDenoiserFeatureExtractor(waveforms)` takes `(C, T)` or `(B, C, T)` arrays in physical units and returns a
`BatchFeature` with `inputs` `(B, C, T)` float32 (each channel demeaned and divided by its standard deviation) and
`scale` `(B, C, 1)` float32, the factor that turns the model's outputs back into the units of the data
(`denoised_physical = outputs.denoised * scale`). The mean is not restored: the denoised signal has zero mean.

`spectrogram(waveforms)` gives the STFT the model works on (`torch.stft` with the saved `n_fft`, `win_length`,
`hop_length`), e.g. to plot what the masks act on.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature, FeatureExtractionMixin

__all__ = ["SeismicDenoiserFeatureExtractor"]

_EPS = 1e-10


class SeismicDenoiserFeatureExtractor(FeatureExtractionMixin):
    """Per-window, per-channel standardisation for `SeismicDenoiserForDenoising`.

    Args:
        sampling_rate (`float`, 100.0): Hz the model expects; callers resample to it (`geohub.data.waveforms`).
        window_length (`int`, 3000): samples per window for sliding-window inference.
        component_order (`str`, "ZNE"): component of each channel.
        n_fft (`int`, 60), win_length (`int`, 30), hop_length (`int`, 15): the model's STFT (copied from its config).
    """

    model_input_names = ["inputs"]

    def __init__(self, sampling_rate: float = 100.0, window_length: int = 3000, component_order: str = "ZNE",
                 n_fft: int = 60, win_length: int = 30, hop_length: int = 15, **kwargs):  # fmt: skip
        if sampling_rate <= 0 or window_length < n_fft:
            raise ValueError(f"sampling_rate must be > 0 and window_length >= n_fft ({n_fft})")
        super().__init__(**kwargs)
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.hop_length = int(hop_length)

    @classmethod
    def from_config(cls, config) -> SeismicDenoiserFeatureExtractor:
        """The extractor matching a `SeismicDenoiserConfig`."""
        return cls(sampling_rate=config.sampling_rate, window_length=config.window_length,
                   component_order=config.component_order, n_fft=config.n_fft, win_length=config.win_length,
                   hop_length=config.hop_length)  # fmt: skip

    def normalize(self, waveforms) -> tuple[np.ndarray, np.ndarray]:
        """`(C, T)` / `(B, C, T)` -> (standardised `(B, C, T)` float32, scale `(B, C, 1)` float32)."""
        data = np.asarray(waveforms, dtype=np.float64)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3:
            raise ValueError(f"waveforms must be (channels, samples) or (batch, channels, samples), got {data.shape}")
        if data.shape[1] != len(self.component_order):
            raise ValueError(f"expected {len(self.component_order)} channels ({self.component_order}), got "
                             f"{data.shape[1]}")  # fmt: skip
        if data.shape[-1] < self.n_fft:
            raise ValueError(f"windows need at least n_fft={self.n_fft} samples, got {data.shape[-1]}")
        if not np.isfinite(data).all():
            raise ValueError("waveforms contain NaN or Inf samples")
        data = data - data.mean(axis=-1, keepdims=True)
        scale = data.std(axis=-1, keepdims=True) + _EPS
        return (data / scale).astype(np.float32), scale.astype(np.float32)

    def __call__(
        self, waveforms, return_tensors: str | None = "pt", sampling_rate: float | None = None
    ) -> BatchFeature:
        """Standardise `(C, T)` / `(B, C, T)` waveforms; `sampling_rate` (Hz), when given, must match the model's."""
        if sampling_rate is not None and abs(float(sampling_rate) - self.sampling_rate) > 1e-6:
            raise ValueError(f"waveforms sampled at {sampling_rate} Hz; resample to {self.sampling_rate} Hz first")
        if isinstance(waveforms, torch.Tensor):
            waveforms = waveforms.detach().cpu().numpy()
        inputs, scale = self.normalize(waveforms)
        return BatchFeature(data={"inputs": inputs, "scale": scale}, tensor_type=return_tensors)

    def spectrogram(self, waveforms) -> torch.Tensor:
        """Complex STFT `(..., F, N)` of `(..., T)` waveforms with the model's settings (`torch.stft`)."""
        data = torch.as_tensor(np.asarray(waveforms, dtype=np.float32))
        flat = data.reshape(-1, data.shape[-1])
        window = torch.hann_window(self.win_length)
        spec = torch.stft(flat, self.n_fft, self.hop_length, self.win_length, window, center=True,
                          pad_mode="reflect", return_complex=True)  # fmt: skip
        return spec.reshape(*data.shape[:-1], *spec.shape[-2:])
