"""Normalisation of seismic windows for the magnitude model, saved as `preprocessor_config.json`.

`SeismicMagnitudeFeatureExtractor` is the picker's `SeismicFeatureExtractor` (per-channel normalisation) returning,
by default, `log_amplitude` `(B, C)` too: log10 of each channel's peak absolute amplitude after demeaning, because
magnitude needs the amplitude that normalisation removes. The base class is a marked copy of the picker's
(`geohub.testing.check_copies` keeps it in step), so that this folder runs as remote code on its own. Folders saved
with the picker's class (`"feature_extractor_type": "SeismicFeatureExtractor"`) keep loading as that class.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature, FeatureExtractionMixin

__all__ = ["SeismicMagnitudeFeatureExtractor"]

_EPS = 1e-10


# Copied from geohub.models.seismic_picker.processing_seismic_picker.SeismicFeatureExtractor
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


class SeismicMagnitudeFeatureExtractor(SeismicFeatureExtractor):
    """The magnitude model's feature extractor: `SeismicFeatureExtractor` with `return_amplitude=True` by default
    (`inputs` `(B, C, T)` and `log_amplitude` `(B, C)`)."""

    def __init__(self, return_amplitude: bool = True, **kwargs):
        super().__init__(return_amplitude=return_amplitude, **kwargs)
