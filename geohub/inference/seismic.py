"""Picks, detections and magnitudes on seismic records of any length, with any geohub seismic model.

Public API (stable; the demo, the pipelines and the benchmarks call exactly these):

    from geohub.inference.seismic import annotate, pick, detect, plot_annotation

    result = annotate(stream_or_path, picker, magnitude_model=None, *, feature_extractor=None,
                      magnitude_feature_extractor=None, overlap=None, batch_size=32, p_threshold=None,
                      s_threshold=None, detection_threshold=None, fill_gaps="interpolate", precision=None)
    result.picks        # list[Pick]: time (obspy UTCDateTime), phase "P"/"S", probability, station, sample
    result.detections   # list[Detection]: start, end (UTCDateTime), probability, station
    result.magnitudes   # list[MagnitudeEstimate]: time, magnitude, uncertainty (1 std), station, detection
    result.traces       # list[StationAnnotation]: station, starttime, sampling_rate, waveforms (C, T),
                        #   probabilities (K, N) rows named `labels` (U-Net: N, P, S, D; EQTransformer: D, P, S;
                        #   GPD: P, S, N at 10 Hz)
    result.to_dict()    # JSON-ready dict (times as ISO strings); result.to_catalog() -> obspy Catalog (QuakeML)
    pick(stream_or_path, picker, ...) -> list[Pick];  detect(stream_or_path, picker, ...) -> list[Detection]
    fig = plot_annotation(result, station=None, max_seconds=None)   # matplotlib Figure

`picker`: any geohub picking model (the U-Net `SeismicPickerForPhasePicking`, EQTransformer, GPD), loaded or as a
folder; `magnitude_model` likewise (`SeismicMagnitudeForRegression`). Everything goes through the shared waveform
API (`geohub.inference.waveform`, whose `WaveformModel.annotate/classify` return ObsPy objects): resampling from
any rate (1-2000 Hz), one to three components, gaps, windowing, stacking and each model's own picking rule.
`overlap` (fraction of a window) sets the stride of per-sample models (default: the model's, half a window).
Thresholds default to the model's (config `p_threshold`, `s_threshold`, `detection_threshold`). For each
detection, the magnitude model sees one window that starts 10% of a window before it.
A record shorter than half a model window raises `geohub.errors.WaveformError` (longer ones are zero-padded).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import WaveformError
from .waveform import (
    ClassifyOutput,
    Detection,
    MagnitudeEstimate,
    Pick,
    StationAnnotation,
    WaveformModel,
    annotate_record,
    assemble,
    default_extractor,
    model_precision,
    picks_and_detections,
    predict_windows,
    prepare,
    station_magnitudes,
    window_starts,
)

__all__ = [
    "Pick",
    "Detection",
    "MagnitudeEstimate",
    "StationAnnotation",
    "Annotation",
    "annotate",
    "pick",
    "detect",
    "plot_annotation",
    "predict_probabilities",
    "load_feature_extractor",
]

Annotation = ClassifyOutput


def load_feature_extractor(model, *, amplitude: bool = False):
    """The model folder's `preprocessor_config.json`, or a default extractor matching the model config."""
    extractor = default_extractor(model)
    if amplitude and hasattr(extractor, "return_amplitude") and not getattr(model, "name_or_path", None):
        extractor.return_amplitude = True
    return extractor


def _wrap(model, feature_extractor, precision: str | None = None) -> WaveformModel:
    """`model` as a `WaveformModel`; `precision` None keeps a wrapper's own choice (else "auto")."""
    if isinstance(model, WaveformModel):
        same = precision is None or model_precision(model.model, model.feature_extractor, precision) == model.precision
        if feature_extractor is None and same:
            return model
        return WaveformModel(model.model, feature_extractor or model.feature_extractor,
                             precision=precision or model.precision)  # fmt: skip
    if isinstance(model, (str, os.PathLike)):
        return WaveformModel(os.fspath(model), feature_extractor, precision=precision or "auto")
    return WaveformModel(model, feature_extractor, precision=precision or "auto")


def _stride(spec, overlap: float | None) -> int | None:
    if overlap is None:
        return None
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    return max(1, int(round(spec.window_length * (1.0 - overlap))))


def predict_probabilities(data: np.ndarray, picker, feature_extractor=None, *, overlap: float = 0.5,
                          batch_size: int = 32) -> np.ndarray:  # fmt: skip
    """Per-sample outputs `(K, T)` of a per-sample picker for a `(C, T)` record at the model's rate (U-Net rows:
    noise, P, S, detection; EQTransformer: detection, P, S)."""
    wrapper = _wrap(picker, feature_extractor)
    spec = wrapper.spec
    if spec.kind != "samples":
        raise WaveformError(f"{spec.code} gives one output per window", field="picker",
                            expected="a per-sample picker (use annotate() for per-window models)")  # fmt: skip
    length = data.shape[-1]
    if length < spec.window_length:
        raise WaveformError(
            f"record has {length} samples", expected=f"at least one window of {spec.window_length} samples"
        )
    starts = window_starts(length, spec.window_length, _stride(spec, overlap))
    windows = np.stack([data[:, s : s + spec.window_length] for s in starts])
    outputs = predict_windows(wrapper.model, wrapper.feature_extractor, windows, batch_size=batch_size,
                              precision=wrapper.precision)  # fmt: skip
    return assemble(outputs, starts, length, spec)[0]


def annotate(
    stream_or_path,
    picker,
    magnitude_model=None,
    *,
    feature_extractor=None,
    magnitude_feature_extractor=None,
    overlap: float | None = None,
    batch_size: int = 32,
    p_threshold: float | None = None,
    s_threshold: float | None = None,
    detection_threshold: float | None = None,
    fill_gaps: str = "interpolate",
    precision: str | None = None,
) -> Annotation:
    """Picks, detections, magnitudes and per-sample probabilities for every station (see the module docstring).
    `precision`: "auto" (the default for models given as folders or modules), "fp32" or "bf16" (see
    `geohub.inference.waveform.WaveformModel`); None keeps a `WaveformModel`'s own."""
    wrapper = _wrap(picker, feature_extractor, precision)
    spec = wrapper.spec
    if spec.picking is None:
        raise WaveformError(f"the {spec.code} model does not pick phases", field="picker",
                            expected="a phase picker (U-Net picker, EQTransformer, GPD)")  # fmt: skip
    magnitude = None if magnitude_model is None else _wrap(magnitude_model, magnitude_feature_extractor, precision)
    thresholds = {"P": p_threshold, "S": s_threshold, "D": detection_threshold}
    stride = _stride(spec, overlap) if spec.kind == "samples" else None
    result = Annotation()
    for record in prepare(stream_or_path, spec, wrapper.feature_extractor, fill_gaps=fill_gaps):
        trace = annotate_record(record, wrapper.model, wrapper.feature_extractor, spec, stride=stride,
                                batch_size=batch_size, precision=wrapper.precision)  # fmt: skip
        picks, detections = picks_and_detections(trace, spec, thresholds, wrapper.feature_extractor)
        result.picks += picks
        result.detections += detections
        result.traces.append(trace)
        if magnitude is not None and detections:
            result.magnitudes += _detection_magnitudes(stream_or_path, record, detections, magnitude, fill_gaps)
    return result


def _detection_magnitudes(stream_or_path, record, detections, magnitude: WaveformModel, fill_gaps):
    """One magnitude per detection, from the station's record at the magnitude model's rate and order."""
    records = [r for r in prepare(stream_or_path, magnitude.spec, magnitude.feature_extractor, fill_gaps=fill_gaps)
               if r.station_id == record.station_id]  # fmt: skip
    if not records:
        return []
    rate = records[0].sampling_rate
    onsets = [int(round((d.start - records[0].starttime) * rate)) for d in detections]
    estimates = station_magnitudes(magnitude, None, records=records * len(detections), onsets=onsets)
    for estimate, detection in zip(estimates, detections):
        estimate.detection = detection
        estimate.time = detection.start
    return estimates


def pick(stream_or_path, picker, **kwargs) -> list[Pick]:
    """The P and S picks of `annotate` (same keyword arguments)."""
    return annotate(stream_or_path, picker, **kwargs).picks


def detect(stream_or_path, picker, **kwargs) -> list[Detection]:
    """The event detections of `annotate` (same keyword arguments)."""
    return annotate(stream_or_path, picker, **kwargs).detections


def plot_annotation(annotation: Annotation, *, station: str | None = None, max_seconds: float | None = None):
    """A matplotlib Figure: the station's components (picks as vertical lines, detections shaded) above the
    model's P, S and detection probabilities. `station` defaults to the first annotated one; `max_seconds` crops
    the plot."""
    from matplotlib.figure import Figure  # no pyplot: works headless and in servers without a GUI backend

    if not annotation.traces:
        raise ValueError("the annotation has no traces to plot")
    trace = next((t for t in annotation.traces if station in (None, t.station)), None)
    if trace is None:
        raise ValueError(f"station {station!r} not in the annotation ({[t.station for t in annotation.traces]})")
    times = trace.times()
    limit = times[-1] if max_seconds is None else min(times[-1], max_seconds)
    end = int(np.searchsorted(times, limit, side="right"))
    channels = trace.waveforms.shape[0]
    figure = Figure(figsize=(10, 1.6 * (channels + 1.5)))
    axes = figure.subplots(channels + 1, 1, sharex=True, gridspec_kw={"height_ratios": [1] * channels + [1.5]})
    colours = {"P": "tab:blue", "S": "tab:red", "D": "goldenrod"}
    picks = [p for p in annotation.picks if p.station == trace.station and p.time - trace.starttime <= limit]
    detections = [d for d in annotation.detections if d.station == trace.station]
    for i, axis in enumerate(axes[:-1]):
        axis.plot(times[:end], trace.waveforms[i, :end], color="k", linewidth=0.5)
        axis.set_ylabel(trace.component_order[i] if i < len(trace.component_order) else str(i))
        for p in picks:
            axis.axvline(p.time - trace.starttime, color=colours[p.phase], linewidth=1.0)
        for d in detections:
            axis.axvspan(d.start - trace.starttime, d.end - trace.starttime, color="gold", alpha=0.2)
    prob = axes[-1]
    out_times = trace.output_times()
    keep = out_times <= limit
    for label, name in (("P", "P"), ("S", "S"), ("D", "detection")):
        row = trace.row(label)
        if row is not None:
            prob.plot(out_times[keep], row[keep], label=name, color=colours[label], linewidth=1.0)
    prob.set_ylim(-0.05, 1.05)
    prob.set_ylabel(f"{trace.code} probability" if trace.code else "probability")
    prob.set_xlabel(f"seconds after {trace.starttime}")
    prob.legend(loc="upper right", fontsize="small")
    figure.suptitle(f"{trace.station}: {sum(p.phase == 'P' for p in picks)} P, {sum(p.phase == 'S' for p in picks)} S, "
                    f"{len(detections)} detection(s)")  # fmt: skip
    return figure
