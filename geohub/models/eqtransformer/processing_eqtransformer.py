"""EQTransformer's preprocessing and pick settings, exactly as the original `mseed_predictor`, saved with the model.

Record level (before windowing; `filter_waveforms` on arrays, `filter_stream` on an ObsPy `Stream`):
linear detrend, Butterworth band-pass 1-45 Hz (2 corners, zero-phase; ObsPy's `bandpass`, which falls back to a
high-pass when 45 Hz is at or above Nyquist), a 0.1 % cosine taper (at most 2 s) at each end.
Window level (`__call__` / `normalize`): 6000 samples at 100 Hz, components E, N, Z (`1`, `2` count as E, N;
missing ones are zero), per window and per channel: remove the mean, divide by the standard deviation (0 -> 1).
The pick rule's settings (thresholds, `min_detection_samples`, `p_lead_samples`) are saved here with the model;
the rule itself is `eqt_picks` in this family's `waveform_eqtransformer.py` (on ObsPy's `trigger_onset`), which the
waveform API calls.

Only numpy/scipy are imported here (the file is exported as remote code); ObsPy streams are handled by duck typing.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import signal
from transformers.feature_extraction_utils import BatchFeature, FeatureExtractionMixin

__all__ = [
    "EqTransformerFeatureExtractor",
    "obspy_bandpass",
    "detrend_linear",
    "cosine_taper_edges",
    "stream_to_array",
]


def detrend_linear(data: np.ndarray) -> np.ndarray:
    """Remove the least-squares line along the last axis (ObsPy's `detrend("linear")`), float64. The closed-form
    fit on centred sample indices (mean and slope), O(T): `scipy.signal.detrend`'s least-squares solve cost a fifth
    of annotating an hour of data."""
    data = np.array(data, dtype=np.float64)
    n = data.shape[-1]
    centred = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    slope = (data @ centred) / max(float(centred @ centred), 1e-300)
    data -= data.mean(axis=-1, keepdims=True)
    data -= slope[..., None] * centred
    return data


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


def _obspy_cosine_taper(npts: int) -> np.ndarray:
    """`obspy.signal.invsim.cosine_taper(npts, p=1.0)` (half-cosine flanks)."""
    frac = npts // 2
    idx2, idx3, idx4 = frac - 1, npts - frac, npts - 1
    idx2 = idx2 + 1 if idx2 == 0 else idx2
    idx3 = idx3 - 1 if idx3 == idx4 else idx3
    window = np.ones(npts)
    k = np.arange(0, idx2 + 1)
    window[: idx2 + 1] = 0.5 * (1.0 + np.cos(np.pi * (idx2 - k) / idx2))
    k = np.arange(idx3, idx4 + 1)
    window[idx3:] = 0.5 * (1.0 + np.cos(np.pi * (idx3 - k) / (idx4 - idx3)))
    return window


def cosine_taper_edges(
    data: np.ndarray, sampling_rate: float, max_percentage: float = 0.001, max_length: float = 2.0
) -> np.ndarray:
    """ObsPy's `Trace.taper(max_percentage, type="cosine", max_length)` along the last axis."""
    npts = data.shape[-1]
    half = min(int(max_percentage * npts), int(max_length * sampling_rate), npts // 2)
    if half < 1:
        return data
    sides = _obspy_cosine_taper(2 * half if 2 * half == npts else 2 * half + 1)
    taper = np.ones(npts)
    taper[:half] = sides[:half]
    taper[npts - half :] = sides[len(sides) - half :]
    return data * taper


def stream_to_array(stream, component_order: str, aliases: dict[str, str] | None = None) -> np.ndarray:
    """`(C, T)` float64 array of an ObsPy stream (one trace per component, same start and length) in
    `component_order`; `aliases` maps other last channel letters (e.g. "1" -> "E"); missing components are zero."""
    aliases = aliases or {}
    traces = {}
    for trace in stream:
        letter = trace.stats.channel[-1:].upper()
        traces.setdefault(aliases.get(letter, letter), trace)
    if not traces:
        raise ValueError("the stream holds no traces")
    length = max(len(t.data) for t in traces.values())
    out = np.zeros((len(component_order), length), dtype=np.float64)
    for row, component in enumerate(component_order):
        if component in traces:
            data = np.asarray(traces[component].data, dtype=np.float64)
            out[row, : len(data)] = data
    return out


class EqTransformerFeatureExtractor(FeatureExtractionMixin):
    """Preprocessing of `EqTransformerForPhasePicking` (see the module docstring).

    Args:
        sampling_rate (`float`, 100.0), window_length (`int`, 6000), component_order (`str`, "ENZ").
        component_aliases (`dict`, {"1": "E", "2": "N"}): other channel letters counted as a component.
        freqmin, freqmax (`float`, 1.0, 45.0), corners (`int`, 2), zerophase (`bool`, True): the band-pass.
        taper_percentage (`float`, 0.001), taper_max_length (`float`, 2.0 s): edge taper of the record.
        detection_threshold, p_threshold, s_threshold (`float`, 0.3, 0.1, 0.1): pick rules.
        min_detection_samples (`int`, 10): shortest detection kept.
        p_lead_samples (`int`, 100): how far a P peak may precede its detection.
        overlap (`float`, 0.3): window overlap the original uses on continuous records.
        short_record_shift (`int`, 250): a record shorter than two windows (an event cut-out) is also read by
            windows shifted by multiples of this many samples and their outputs averaged (0: one window). The
            published EQTransformer's detections depend on where the onset lies in its 60 s window (on PhaseNet-
            NCEDC records with P 5-30 s in, 10 of 154 windows gave no detection at all; see
            `benchmarks/pretrained_pickers_check.py --classify`); 250 was chosen on a validation half of them.
        bf16_agreement (`float` or None): share of this model's fp32 picks that its bfloat16 picks reproduce (same
            phase within 0.1 s), recorded by `benchmarks/pretrained_pickers_check.py --agreement --write`;
            `precision="auto"` runs bfloat16 only when it is >= `geohub.runtime.BF16_MIN_AGREEMENT`.
    """

    model_input_names = ["inputs"]

    def __init__(self, sampling_rate: float = 100.0, window_length: int = 6000, component_order: str = "ENZ",
                 component_aliases: dict | None = None, freqmin: float = 1.0, freqmax: float = 45.0,
                 corners: int = 2, zerophase: bool = True, taper_percentage: float = 0.001,
                 taper_max_length: float = 2.0, detection_threshold: float = 0.3, p_threshold: float = 0.1,
                 s_threshold: float = 0.1, min_detection_samples: int = 10, p_lead_samples: int = 100,
                 overlap: float = 0.3, short_record_shift: int = 250, bf16_agreement: float | None = None,
                 **kwargs):  # fmt: skip
        if sampling_rate <= 0 or window_length < 1 or not 0 < freqmin < freqmax:
            raise ValueError("need sampling_rate > 0, window_length >= 1 and 0 < freqmin < freqmax")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        super().__init__(**kwargs)
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.component_aliases = dict(component_aliases if component_aliases is not None else {"1": "E", "2": "N"})
        self.freqmin, self.freqmax = float(freqmin), float(freqmax)
        self.corners, self.zerophase = int(corners), bool(zerophase)
        self.taper_percentage, self.taper_max_length = float(taper_percentage), float(taper_max_length)
        self.detection_threshold = float(detection_threshold)
        self.p_threshold, self.s_threshold = float(p_threshold), float(s_threshold)
        self.min_detection_samples, self.p_lead_samples = int(min_detection_samples), int(p_lead_samples)
        self.overlap = float(overlap)
        self.short_record_shift = int(short_record_shift)
        self.bf16_agreement = None if bf16_agreement is None else float(bf16_agreement)

    # --- record level -------------------------------------------------------------------------------------
    def filter_waveforms(self, waveforms: np.ndarray, sampling_rate: float) -> np.ndarray:
        """Detrend, band-pass and taper `(..., T)` samples recorded at `sampling_rate` Hz -> float64 `(..., T)`."""
        data = detrend_linear(waveforms)
        data = obspy_bandpass(data, self.freqmin, self.freqmax, sampling_rate, self.corners, self.zerophase)
        return cosine_taper_edges(data, sampling_rate, self.taper_percentage, self.taper_max_length)

    def filter_stream(self, stream):
        """A copy of the ObsPy `stream` with each trace filtered by `filter_waveforms` (float64 data)."""
        stream = stream.copy()
        for trace in stream:
            trace.data = self.filter_waveforms(trace.data, trace.stats.sampling_rate)
        return stream

    def stream_to_array(self, stream) -> np.ndarray:
        """`(3, T)` array of a (filtered, 100 Hz, aligned) stream in E, N, Z order, missing components zero."""
        return stream_to_array(stream, self.component_order, self.component_aliases)

    # --- window level -------------------------------------------------------------------------------------
    def normalize(self, waveforms) -> np.ndarray:
        """`(C, T)` / `(B, C, T)` -> `(B, C, T)` float32: per window and channel, demeaned and divided by the std."""
        data = np.array(waveforms, dtype=np.float64)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3 or data.shape[1] != len(self.component_order):
            raise ValueError(
                f"waveforms must be ({len(self.component_order)}, samples) or (batch, "
                f"{len(self.component_order)}, samples) in {self.component_order} order, got {data.shape}"
            )
        if not np.isfinite(data).all():
            raise ValueError("waveforms contain NaN or Inf samples")
        data -= data.mean(axis=-1, keepdims=True)
        std = data.std(axis=-1, keepdims=True)
        std[std == 0] = 1.0
        return (data / std).astype(np.float32)

    def __call__(
        self, waveforms, return_tensors: str | None = "pt", sampling_rate: float | None = None
    ) -> BatchFeature:
        """Normalise filtered `(C, T)` / `(B, C, T)` windows -> `BatchFeature(inputs=(B, C, T))`."""
        if sampling_rate is not None and abs(float(sampling_rate) - self.sampling_rate) > 1e-6:
            raise ValueError(f"waveforms sampled at {sampling_rate} Hz; resample to {self.sampling_rate} Hz first")
        if isinstance(waveforms, torch.Tensor):
            waveforms = waveforms.detach().cpu().numpy()
        return BatchFeature(data={"inputs": self.normalize(waveforms)}, tensor_type=return_tensors)
