"""Normalisation of seismic windows for the picker and the magnitude model, saved as `preprocessor_config.json`.

`SeismicFeatureExtractor(waveforms)` takes `(C, T)` or `(B, C, T)` arrays in physical units and returns a
`BatchFeature` with `inputs` `(B, C, T)` float32: each channel demeaned and divided by its standard deviation
(PhaseNet-style), or by the window's peak (`normalization="peak"`). With `return_amplitude=True` (the magnitude
model) it also returns `log_amplitude` `(B, C)`: log10 of each channel's peak absolute amplitude after demeaning,
in the units of the data, because magnitude needs the amplitude that normalisation removes.

`make_picker_labels(p_sample, s_sample, length)` builds the picker's `(B, 4, T)` training targets.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature, FeatureExtractionMixin

__all__ = ["SeismicFeatureExtractor", "make_picker_labels"]

_EPS = 1e-10


class SeismicFeatureExtractor(FeatureExtractionMixin):
    """Per-window normalisation shared by `SeismicPickerForPhasePicking` and `SeismicMagnitudeForRegression`.

    Args:
        sampling_rate (`float`, 100.0): Hz the model expects; callers resample to it (see `geohub.data.waveforms`).
        window_length (`int`, 3000): samples per window for sliding-window inference.
        component_order (`str`, "ZNE"): component of each channel.
        normalization (`str`, "std"): "std" (per channel) or "peak" (per window, all channels).
        return_amplitude (`bool`, False): also return `log_amplitude` `(B, C)` (log10 peak per channel).
    """

    model_input_names = ["inputs"]

    def __init__(
        self,
        sampling_rate: float = 100.0,
        window_length: int = 3000,
        component_order: str = "ZNE",
        normalization: str = "std",
        return_amplitude: bool = False,
        **kwargs,
    ):
        if normalization not in {"std", "peak"}:
            raise ValueError(f"normalization must be 'std' or 'peak', got {normalization!r}")
        if sampling_rate <= 0 or window_length < 1:
            raise ValueError("sampling_rate must be > 0 and window_length >= 1")
        super().__init__(**kwargs)
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.normalization = normalization
        self.return_amplitude = bool(return_amplitude)

    def normalize(self, waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(B, C, T)` -> (normalised `(B, C, T)` float32, log10 peak amplitude `(B, C)` float32)."""
        data = np.asarray(waveforms, dtype=np.float64)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3:
            raise ValueError(f"waveforms must be (channels, samples) or (batch, channels, samples), got {data.shape}")
        if data.shape[1] != len(self.component_order):
            raise ValueError(
                f"expected {len(self.component_order)} channels ({self.component_order}), got {data.shape[1]}"
            )
        if not np.isfinite(data).all():
            raise ValueError("waveforms contain NaN or Inf samples")
        data = data - data.mean(axis=-1, keepdims=True)
        peak = np.abs(data).max(axis=-1)
        if self.normalization == "std":
            scale = data.std(axis=-1, keepdims=True)
        else:
            scale = peak.max(axis=-1)[:, None, None]
        normalised = data / (scale + _EPS)
        return normalised.astype(np.float32), np.log10(peak + _EPS).astype(np.float32)

    def __call__(
        self, waveforms, return_tensors: str | None = "pt", sampling_rate: float | None = None
    ) -> BatchFeature:
        """Normalise `(C, T)` / `(B, C, T)` waveforms; `sampling_rate` (Hz), when given, must match the model's."""
        if sampling_rate is not None and abs(float(sampling_rate) - self.sampling_rate) > 1e-6:
            raise ValueError(f"waveforms sampled at {sampling_rate} Hz; resample to {self.sampling_rate} Hz first")
        if isinstance(waveforms, torch.Tensor):
            waveforms = waveforms.detach().cpu().numpy()
        inputs, log_amplitude = self.normalize(waveforms)
        data = {"inputs": inputs}
        if self.return_amplitude:
            data["log_amplitude"] = log_amplitude
        return BatchFeature(data=data, tensor_type=return_tensors)


def make_picker_labels(
    p_sample: np.ndarray,
    s_sample: np.ndarray,
    length: int,
    *,
    sigma: float = 10.0,
    coda_factor: float = 1.4,
) -> np.ndarray:
    """Picker targets `(B, 4, length)` float32 for P/S sample indices `(B,)` (negative or >= length: absent).

    Rows: noise, P, S as truncated Gaussians of std `sigma` samples around each pick (noise = 1 - P - S), and the
    detection mask from P to `S + coda_factor * (S - P)` (EQTransformer-style; to the window end if S is absent).
    """
    p = np.asarray(p_sample, dtype=np.float64).reshape(-1)
    s = np.asarray(s_sample, dtype=np.float64).reshape(-1)
    t = np.arange(length, dtype=np.float64)[None, :]
    labels = np.zeros((p.shape[0], 4, length), dtype=np.float64)
    for row, picks in ((1, p), (2, s)):
        valid = (picks >= 0) & (picks < length)
        gauss = np.exp(-0.5 * ((t - picks[:, None]) / sigma) ** 2)
        gauss[gauss < 0.01] = 0.0
        labels[:, row] = gauss * valid[:, None]
    labels[:, 2] = np.minimum(labels[:, 2], 1.0 - labels[:, 1])
    labels[:, 0] = 1.0 - labels[:, 1] - labels[:, 2]
    has_p = (p >= 0) & (p < length)
    has_s = (s >= 0) & (s < length)
    end = np.where(has_s & has_p, s + coda_factor * (s - p), np.inf)
    start = np.where(has_p, p, np.where(has_s, 0.0, np.inf))
    end = np.where(~has_p & has_s, s * (1 + coda_factor), end)
    labels[:, 3] = (t >= start[:, None]) & (t <= end[:, None])
    return labels.astype(np.float32)
