"""Explanations of seismic records: one model window, a picker's strongest P pick, the denoiser's largest output."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from .core import Explanation, explain, explain_hook, require_picker

__all__ = [
    "BASELINE",
    "noise_baseline",
    "explain_window",
    "explain_stream",
    "explain_station_p",
    "explain_strongest_p",
    "explain_denoised_peak",
]


def _best_p(trace, picks) -> tuple[float, str]:
    """(seconds after the station's start, what it is) of its strongest P pick; without one, of its highest P
    probability (a per-window model: that window's centre)."""
    from ..errors import WaveformError

    picks = [p for p in picks if p.phase == "P" and p.station == trace.station]
    if picks:
        best = max(picks, key=lambda p: p.probability)
        return float(best.time - trace.starttime), f"the strongest of {len(picks)} P pick(s)"
    row = trace.row("P")
    if row is None:
        raise WaveformError("the picker gives no P probability", field="model", expected="a P/S phase picker")
    return float(trace.output_times()[int(np.argmax(row))]), "no P pick above the threshold: the highest P probability"


def _window_batch(data: np.ndarray, start: int, feature_extractor: Any, window: int | None = None) -> dict:
    """The model inputs (`inputs` `(1, C, W)`, the magnitude model's `log_amplitude`) of the window of `data`
    `(C, T)` starting at sample `start` (`window` samples, default the extractor's; zero-padded past the end), as
    the feature extractor prepares them."""
    window = int(window or feature_extractor.window_length)
    part = np.asarray(data, dtype=np.float32)[:, start : start + window]
    if part.shape[-1] < window:
        part = np.pad(part, ((0, 0), (0, window - part.shape[-1])))
    features = feature_extractor(part[None], return_tensors="pt")
    return {k: v for k, v in features.items() if k in {"inputs", "log_amplitude"}}


def explain_window(model: nn.Module, feature_extractor: Any, data: np.ndarray, start: int, *, starttime=None,
                   sampling_rate: float | None = None, station_id: str = "", window: int | None = None,
                   **kwargs) -> Explanation:  # fmt: skip
    """Explain the model window of a station record `data` `(C, T)` (at the model's rate and component order)
    starting at sample `start` (`window` samples, default the feature extractor's). `extra`: `starttime` (of the
    window, when the record's is given), `station_id`, `sampling_rate`, `inputs` (the explained model input
    `(C, W)`, after the feature extractor's normalisation)."""
    batch = _window_batch(data, start, feature_extractor, window)
    explanation = explain(model, batch, **kwargs)
    rate = float(sampling_rate or feature_extractor.sampling_rate)
    explanation.extra.update(starttime=None if starttime is None else starttime + start / rate,
                             station_id=station_id, sampling_rate=rate,
                             inputs=batch["inputs"][0].detach().float().numpy())  # fmt: skip
    return explanation


def explain_stream(stream_or_path, model: nn.Module, feature_extractor: Any, *, start_sample: int = 0,
                   method: str = "integrated_gradients", **kwargs) -> Explanation:  # fmt: skip
    """Explain one model window of the first station of an ObsPy stream (resampled to the model's rate), starting
    `start_sample` samples into the record (`extra` as `explain_window`'s)."""
    from ..data.waveforms import read_waveforms

    records = read_waveforms(stream_or_path, sampling_rate=feature_extractor.sampling_rate,
                             component_order=feature_extractor.component_order)  # fmt: skip
    record = records[0]
    return explain_window(model, feature_extractor, record.data, start_sample, starttime=record.starttime,
                          sampling_rate=record.sampling_rate, station_id=record.station_id, method=method,
                          **kwargs)  # fmt: skip


# --- explanations of whole inputs (a record, a DEM tile, a text): shared by the pipelines, the demo and the CLI ----
BASELINE = ("Gaussian noise with the record's own noise level (per component, the normalised samples before the pick; "
            "seed 0) on the record's span, and the input itself on the zero padding of a record shorter than the "
            "window, so that padding gets no attribution")  # fmt: skip


def noise_baseline(inside: int, pick: int, rate: float, seed: int = 0):
    """`explain`'s `baseline=` for a picker: Gaussian noise (seeded) with each component's standard deviation of
    the normalised input over the record's samples before `pick` - 0.5 s (the whole record's span when under 1 s
    of them) on the first `inside` samples of the window (the record's own span), the input itself after them
    (zero padding is not signal: its attribution is exactly 0). Integrated gradients from it ask "what in this
    record, beyond its noise, raises the P probability"; an all-zero baseline ("no record at all") credits the
    record's edges, where a window starts from silence, as much as the onset."""
    import torch

    def baseline(inputs, default):
        before = max(0, min(inside, pick - int(0.5 * rate)))
        noise = inputs[..., :before] if before >= int(rate) else inputs[..., :inside]
        generator = torch.Generator().manual_seed(seed)
        values = torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype) * noise.std(-1, keepdim=True)
        values[..., inside:] = inputs[..., inside:]
        return values

    return baseline


def explain_station_p(trace, picks, picker: nn.Module, feature_extractor: Any, **kwargs) -> Explanation:
    """The P probability at the strongest P pick of one station's annotation `trace` (a `StationAnnotation`;
    `picks` may hold other stations' picks too; without a pick: at its highest P probability), attributed over the
    model window centred on it (clamped to the record), from `noise_baseline` (`BASELINE`). Only the record's own
    span is returned: a record shorter than the window is zero-padded for the model, and the padding (attribution
    0 by the baseline) is cut off `attributions` and `extra["inputs"]`. Besides `explain_window`'s `extra`:
    `which` (in words), `pick_sample` (the pick's sample within the span), `pick_time`, `baseline` (in words) and
    `share_near_pick`, `share_before_pick`, `share_after_pick` (the shares of the total |attribution| within 1 s of
    the pick, earlier and later)."""
    require_picker(picker)
    rate, window = float(trace.sampling_rate), int(feature_extractor.window_length)
    seconds, which = _best_p(trace, picks)
    pick_sample = int(round(seconds * rate))
    start = int(np.clip(pick_sample - window // 2, 0, max(trace.waveforms.shape[-1] - window, 0)))
    inside = min(window, trace.waveforms.shape[-1] - start)
    target = explain_hook(picker).pick_target(picker, int(np.clip(pick_sample - start, 0, window - 1)))
    kwargs.setdefault("baseline", noise_baseline(inside, pick_sample - start, rate))
    explanation = explain_window(picker, feature_extractor, trace.waveforms, start, starttime=trace.starttime,
                                 sampling_rate=rate, station_id=trace.station, target=target, phase="P",
                                 **kwargs)  # fmt: skip
    explanation.attributions = attributions = explanation.attributions[:, :inside]
    explanation.extra["inputs"] = explanation.extra["inputs"][:, :inside]
    offset = np.arange(attributions.shape[-1]) - (pick_sample - start)
    mass = np.abs(attributions).sum(axis=0) / max(float(np.abs(attributions).sum()), 1e-30)
    explanation.extra.update(which=which, pick_sample=pick_sample - start, pick_time=trace.starttime + seconds,
                             share_near_pick=float(mass[np.abs(offset) <= rate].sum()),  # within 1 s of the pick
                             share_before_pick=float(mass[offset < -rate].sum()),
                             share_after_pick=float(mass[offset > rate].sum()), baseline=BASELINE)  # fmt: skip
    return explanation


def explain_strongest_p(stream_or_path, picker: nn.Module, feature_extractor: Any, **kwargs) -> Explanation:
    """`explain_station_p` of the first station of a record (annotated with `geohub.inference.seismic.annotate`)."""
    from ..inference.seismic import annotate

    require_picker(picker)
    annotation = annotate(stream_or_path, picker, feature_extractor=feature_extractor)
    return explain_station_p(annotation.traces[0], annotation.picks, picker, feature_extractor, **kwargs)


def explain_denoised_peak(record, denoised: np.ndarray, starts: list[int], model: nn.Module, feature_extractor: Any,
                          **kwargs) -> Explanation:  # fmt: skip
    """The denoiser's output at the record's largest denoised sample (`denoised` `(C, T)`, the overlap-added
    output), attributed over the window (of those starting at `starts`) that holds it most centrally. `extra` as
    `explain_window`'s, plus `peak_time`."""
    channel, sample = np.unravel_index(int(np.abs(denoised).argmax()), denoised.shape)
    window = min(int(feature_extractor.window_length), denoised.shape[-1])  # a short record is one shorter window
    start = min(starts, key=lambda s: abs(sample - (s + window / 2)))
    explanation = explain_window(model, feature_extractor, record.data, int(start), starttime=record.starttime,
                                 sampling_rate=record.sampling_rate, station_id=record.station_id, window=window,
                                 target=(int(channel), int(np.clip(sample - start, 0, window - 1))), **kwargs)  # fmt: skip
    explanation.extra["peak_time"] = record.starttime + int(sample) / float(record.sampling_rate)
    return explanation
