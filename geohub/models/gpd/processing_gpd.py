"""GPD's preprocessing and pick settings, exactly as the original `gpd_predict.py`, saved with the model.

Record level (`filter_waveforms` on arrays, `filter_stream` on an ObsPy `Stream`): linear detrend, Butterworth
band-pass 3-20 Hz with ObsPy's defaults (4 corners, causal). Windows (`sliding_windows`): 400 samples (4 s at
100 Hz) every 10 samples, components N, E, Z (`1`, `2` count as N, E; missing ones are zero). Normalisation
(`__call__` / `normalize`): each window divided by its max-abs over all channels. The pick rule's
settings (`trigger_threshold` 0.994, `trigger_off_threshold` 0.1, `pick_offset_samples` 200: the window centre)
are saved here with the model; the rule itself is `gpd_picks` in this family's `waveform_gpd.py`, called by the
waveform API (ObsPy's `trigger_onset` per phase, the pick at the arg-max inside each trigger).

Only numpy/scipy are imported here (the file is exported as remote code); ObsPy streams are handled by duck typing.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import signal
from transformers.feature_extraction_utils import BatchFeature, FeatureExtractionMixin

__all__ = ["GPDFeatureExtractor", "obspy_bandpass"]


# Copied from geohub.models.eqtransformer.processing_eqtransformer.obspy_bandpass
def obspy_bandpass(data: np.ndarray, freqmin: float, freqmax: float, sampling_rate: float, corners: int = 4,
                   zerophase: bool = False) -> np.ndarray:  # fmt: skip
    """ObsPy's `obspy.signal.filter.bandpass` along the last axis (Butterworth, second-order sections).

    When `freqmax` is at or above Nyquist it applies ObsPy's high-pass at `freqmin` instead, as ObsPy does.
    """
    nyquist = 0.5 * float(sampling_rate)
    if freqmin / nyquist > 1:
        raise ValueError(f"band-pass corner {freqmin} Hz is above the Nyquist frequency {nyquist} Hz")
    if freqmax / nyquist - 1.0 > -1e-6:
        z, p, k = signal.iirfilter(corners, freqmin / nyquist, btype="highpass", ftype="butter", output="zpk")
    else:
        z, p, k = signal.iirfilter(corners, [freqmin / nyquist, freqmax / nyquist], btype="band", ftype="butter",
                                   output="zpk")  # fmt: skip
    sos = signal.zpk2sos(z, p, k)
    data = np.asarray(data, dtype=np.float64)
    if zerophase:
        first = signal.sosfilt(sos, data, axis=-1)
        return signal.sosfilt(sos, first[..., ::-1], axis=-1)[..., ::-1].copy()
    return signal.sosfilt(sos, data, axis=-1)


class GPDFeatureExtractor(FeatureExtractionMixin):
    """Preprocessing of `GPDForWindowClassification` (see the module docstring).

    Args:
        sampling_rate (`float`, 100.0), window_length (`int`, 400), stride (`int`, 10), component_order ("NEZ").
        component_aliases (`dict`, {"1": "N", "2": "E"}): other channel letters counted as a component.
        freqmin, freqmax (`float`, 3.0, 20.0), corners (`int`, 4), zerophase (`bool`, False): the band-pass.
        trigger_threshold (`float`, 0.994), trigger_off_threshold (`float`, 0.1): pick triggers.
        pick_offset_samples (`int`, 200): pick time = window start + this many samples.
    """

    model_input_names = ["inputs"]

    def __init__(self, sampling_rate: float = 100.0, window_length: int = 400, stride: int = 10,
                 component_order: str = "NEZ", component_aliases: dict | None = None, freqmin: float = 3.0,
                 freqmax: float = 20.0, corners: int = 4, zerophase: bool = False, trigger_threshold: float = 0.994,
                 trigger_off_threshold: float = 0.1, pick_offset_samples: int = 200, **kwargs):  # fmt: skip
        if sampling_rate <= 0 or window_length < 1 or stride < 1 or not 0 < freqmin < freqmax:
            raise ValueError("need sampling_rate > 0, window_length >= 1, stride >= 1 and 0 < freqmin < freqmax")
        super().__init__(**kwargs)
        self.sampling_rate = float(sampling_rate)
        self.window_length, self.stride = int(window_length), int(stride)
        self.component_order = component_order
        self.component_aliases = dict(component_aliases if component_aliases is not None else {"1": "N", "2": "E"})
        self.freqmin, self.freqmax = float(freqmin), float(freqmax)
        self.corners, self.zerophase = int(corners), bool(zerophase)
        self.trigger_threshold = float(trigger_threshold)
        self.trigger_off_threshold = float(trigger_off_threshold)
        self.pick_offset_samples = int(pick_offset_samples)

    # --- record level -------------------------------------------------------------------------------------
    def filter_waveforms(self, waveforms: np.ndarray, sampling_rate: float) -> np.ndarray:
        """Detrend (linear) and band-pass `(..., T)` samples recorded at `sampling_rate` Hz -> float64."""
        data = signal.detrend(np.asarray(waveforms, dtype=np.float64), axis=-1, type="linear")
        return obspy_bandpass(data, self.freqmin, self.freqmax, sampling_rate, self.corners, self.zerophase)

    def filter_stream(self, stream):
        """A copy of the ObsPy `stream` with each trace filtered by `filter_waveforms` (float64 data)."""
        stream = stream.copy()
        for trace in stream:
            trace.data = self.filter_waveforms(trace.data, trace.stats.sampling_rate)
        return stream

    def stream_to_array(self, stream) -> np.ndarray:
        """`(3, T)` float64 array of an aligned stream in N, E, Z order; missing components are zero."""
        traces = {}
        for trace in stream:
            letter = trace.stats.channel[-1:].upper()
            traces.setdefault(self.component_aliases.get(letter, letter), trace)
        if not traces:
            raise ValueError("the stream holds no traces")
        out = np.zeros((len(self.component_order), max(len(t.data) for t in traces.values())))
        for row, component in enumerate(self.component_order):
            if component in traces:
                out[row, : len(traces[component].data)] = traces[component].data
        return out

    def sliding_windows(self, waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(C, T)` record -> (windows `(N, C, window_length)` (views), window start samples `(N,)`)."""
        data = np.asarray(waveforms)
        if data.ndim != 2 or data.shape[-1] < self.window_length:
            raise ValueError(f"need a (channels, >= {self.window_length} samples) record, got {data.shape}")
        windows = np.lib.stride_tricks.sliding_window_view(data, self.window_length, axis=-1)[:, :: self.stride]
        return windows.transpose(1, 0, 2), np.arange(windows.shape[1]) * self.stride

    # --- window level -------------------------------------------------------------------------------------
    def normalize(self, waveforms) -> np.ndarray:
        """`(C, T)` / `(B, C, T)` -> `(B, C, T)` float32, each window divided by its max-abs over all channels."""
        data = np.array(waveforms, dtype=np.float64)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3 or data.shape[1] != len(self.component_order):
            raise ValueError(
                f"waveforms must be ({len(self.component_order)}, samples) or (batch, {len(self.component_order)}, "
                f"samples) in {self.component_order} order, got {data.shape}"
            )
        if not np.isfinite(data).all():
            raise ValueError("waveforms contain NaN or Inf samples")
        peak = np.abs(data).max(axis=(1, 2), keepdims=True)
        peak[peak == 0] = 1.0
        return (data / peak).astype(np.float32)

    def __call__(
        self, waveforms, return_tensors: str | None = "pt", sampling_rate: float | None = None
    ) -> BatchFeature:
        """Normalise filtered `(C, 400)` / `(B, C, 400)` windows -> `BatchFeature(inputs=(B, C, 400))`."""
        if sampling_rate is not None and abs(float(sampling_rate) - self.sampling_rate) > 1e-6:
            raise ValueError(f"waveforms sampled at {sampling_rate} Hz; resample to {self.sampling_rate} Hz first")
        if isinstance(waveforms, torch.Tensor):
            waveforms = waveforms.detach().cpu().numpy()
        return BatchFeature(data={"inputs": self.normalize(waveforms)}, tensor_type=return_tensors)
