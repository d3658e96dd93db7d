"""Picks, detections and magnitudes on seismic records of any length.

Public API (stable; the demo and the pipelines call exactly these):

    from geohub.inference.seismic import annotate, pick, detect, plot_annotation

    result = annotate(stream_or_path, picker, magnitude_model=None, *, feature_extractor=None,
                      magnitude_feature_extractor=None, overlap=0.5, batch_size=32, p_threshold=None,
                      s_threshold=None, detection_threshold=None, fill_gaps="interpolate")
    result.picks        # list[Pick]: time (obspy UTCDateTime), phase "P"/"S", probability, station, sample
    result.detections   # list[Detection]: start, end (UTCDateTime), probability, station
    result.magnitudes   # list[MagnitudeEstimate]: time, magnitude, uncertainty (1 std), station, detection
    result.traces       # list[StationAnnotation]: station, starttime, sampling_rate, waveforms (C, T) and
                        #   probabilities (4, T) float32 rows (noise, P, S, detection), per sample
    result.to_dict()    # JSON-ready dict (times as ISO strings)
    pick(stream_or_path, picker, ...) -> list[Pick];  detect(stream_or_path, picker, ...) -> list[Detection]
    fig = plot_annotation(result, station=None, max_seconds=None)   # matplotlib Figure

`stream_or_path`: an `obspy.Stream`, or a path to any ObsPy-readable file; each station is annotated separately
after resampling to the model's sampling rate (`geohub.data.waveforms.read_waveforms`). `picker` and
`magnitude_model`: loaded models (`SeismicPickerForPhasePicking`, `SeismicMagnitudeForRegression`) or checkpoint
folders. Thresholds default to the picker config's (`p_threshold`, `s_threshold`, `detection_threshold`).

How: windows of `config.window_length` samples slide over the record with `overlap` (fraction), are normalised
by the `SeismicFeatureExtractor`, run through the model in batches of `batch_size`, and the overlapping
probabilities are stacked by a tapered weighted average. Picks are probability peaks above threshold (at least
0.5 s apart per phase; of a P and an S peak closer than 0.5 s only the more probable is kept); detections are
stretches where the detection probability stays above threshold (at least 1 s long). For each detection, the magnitude model sees one window that starts shortly before it.
A record shorter than one window raises `geohub.errors.WaveformError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.waveforms import WaveformRecord, read_waveforms
from ..errors import WaveformError
from ..models.seismic_magnitude import SeismicMagnitudeForRegression
from ..models.seismic_picker import SeismicFeatureExtractor, SeismicPickerForPhasePicking

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


@dataclass
class Pick:
    time: object
    phase: str
    probability: float
    station: str
    sample: int

    def to_dict(self) -> dict:
        return {"time": str(self.time), "phase": self.phase, "probability": self.probability, "station": self.station}


@dataclass
class Detection:
    start: object
    end: object
    probability: float
    station: str

    def to_dict(self) -> dict:
        return {
            "start": str(self.start),
            "end": str(self.end),
            "probability": self.probability,
            "station": self.station,
        }


@dataclass
class MagnitudeEstimate:
    time: object
    magnitude: float
    uncertainty: float
    station: str
    detection: Detection | None = None

    def to_dict(self) -> dict:
        return {"time": str(self.time), "magnitude": self.magnitude, "uncertainty": self.uncertainty,
                "station": self.station}  # fmt: skip


@dataclass
class StationAnnotation:
    station: str
    starttime: object
    sampling_rate: float
    waveforms: np.ndarray
    probabilities: np.ndarray
    component_order: str = "ZNE"

    def times(self) -> np.ndarray:
        """Seconds after `starttime` of each sample."""
        return np.arange(self.probabilities.shape[-1]) / self.sampling_rate


@dataclass
class Annotation:
    picks: list[Pick] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    magnitudes: list[MagnitudeEstimate] = field(default_factory=list)
    traces: list[StationAnnotation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "picks": [p.to_dict() for p in self.picks],
            "detections": [d.to_dict() for d in self.detections],
            "magnitudes": [m.to_dict() for m in self.magnitudes],
        }


def _load_model(model, cls):
    if isinstance(model, (str, os.PathLike)):
        model = cls.from_pretrained(os.fspath(model))
    return model.eval()


def load_feature_extractor(model, *, amplitude: bool = False) -> SeismicFeatureExtractor:
    """The model folder's `preprocessor_config.json`, or a default extractor matching the model config."""
    path = getattr(model, "name_or_path", None)
    if path:
        # A local folder or a Hub repo id (then fetched like the weights); absent -> defaults from the config.
        try:
            return SeismicFeatureExtractor.from_pretrained(path)
        except OSError:
            pass
    config = model.config
    return SeismicFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length,
                                   component_order=config.component_order, return_amplitude=amplitude)  # fmt: skip


def _window_starts(length: int, window: int, step: int) -> list[int]:
    starts = list(range(0, length - window + 1, step))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


@torch.no_grad()
def predict_probabilities(
    data: np.ndarray,
    picker: SeismicPickerForPhasePicking,
    feature_extractor: SeismicFeatureExtractor,
    *,
    overlap: float = 0.5,
    batch_size: int = 32,
) -> np.ndarray:
    """Per-sample probabilities `(4, T)` (noise, P, S, detection) for a `(C, T)` record at the model's rate."""
    window = int(picker.config.window_length)
    length = data.shape[-1]
    if length < window:
        raise WaveformError(f"record has {length} samples", expected=f"at least one window of {window} samples")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    step = max(1, int(round(window * (1.0 - overlap))))
    starts = _window_starts(length, window, step)
    taper = np.minimum(1.0, np.minimum(np.arange(window) + 1, window - np.arange(window)) / (0.1 * window)) + 1e-3
    total = np.zeros((4, length), dtype=np.float64)
    weight = np.zeros(length, dtype=np.float64)
    device = picker.device
    for begin in range(0, len(starts), batch_size):
        chunk = starts[begin : begin + batch_size]
        windows = np.stack([data[:, s : s + window] for s in chunk])
        inputs = feature_extractor(windows, return_tensors="pt")["inputs"].to(device)
        output = picker(inputs=inputs)
        phase = torch.softmax(output.logits.float(), dim=1)
        detection = torch.sigmoid(output.detection_logits.float())[:, None]
        probabilities = torch.cat([phase, detection], dim=1).cpu().numpy()
        for s, prob in zip(chunk, probabilities):
            total[:, s : s + window] += prob * taper
            weight[s : s + window] += taper
    return (total / weight).astype(np.float32)


def _peaks(probability: np.ndarray, threshold: float, distance: int) -> list[int]:
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(probability, height=threshold, distance=max(1, distance))
    return [int(p) for p in peaks]


def _segments(probability: np.ndarray, threshold: float, min_length: int) -> list[tuple[int, int]]:
    above = np.concatenate([[False], probability >= threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_length]


def _station_events(record: WaveformRecord, probabilities, thresholds) -> tuple[list[Pick], list[Detection]]:
    rate = record.sampling_rate
    picks = []
    for row, phase, threshold in ((1, "P", thresholds[0]), (2, "S", thresholds[1])):
        for sample in _peaks(probabilities[row], threshold, int(0.5 * rate)):
            picks.append(
                Pick(record.time_of(sample), phase, float(probabilities[row, sample]), record.station_id, sample)
            )
    # a P and an S peak within 0.5 s of each other are one arrival: keep the more probable phase
    separation = int(0.5 * rate)
    picks = [
        p for p in picks
        if not any(q.phase != p.phase and abs(q.sample - p.sample) <= separation and q.probability > p.probability
                   for q in picks)
    ]  # fmt: skip
    detections = [
        Detection(record.time_of(a), record.time_of(b), float(probabilities[3, a : b + 1].max()), record.station_id)
        for a, b in _segments(probabilities[3], thresholds[2], int(1.0 * rate))
    ]
    return sorted(picks, key=lambda p: p.sample), detections


@torch.no_grad()
def _magnitudes(record: WaveformRecord, detections, model, extractor) -> list[MagnitudeEstimate]:
    window = int(model.config.window_length)
    estimates = []
    for detection in detections:
        onset = int(round((detection.start - record.starttime) * record.sampling_rate))
        start = int(np.clip(onset - int(0.1 * window), 0, record.num_samples - window))
        features = extractor(record.data[:, start : start + window], return_tensors="pt")
        output = model(
            inputs=features["inputs"].to(model.device), log_amplitude=features["log_amplitude"].to(model.device)
        )
        estimates.append(
            MagnitudeEstimate(
                detection.start,
                float(output.magnitude[0]),
                float(torch.exp(0.5 * output.log_variance[0])),
                record.station_id,
                detection,
            )  # fmt: skip
        )
    return estimates


def annotate(
    stream_or_path,
    picker,
    magnitude_model=None,
    *,
    feature_extractor: SeismicFeatureExtractor | None = None,
    magnitude_feature_extractor: SeismicFeatureExtractor | None = None,
    overlap: float = 0.5,
    batch_size: int = 32,
    p_threshold: float | None = None,
    s_threshold: float | None = None,
    detection_threshold: float | None = None,
    fill_gaps: str = "interpolate",
) -> Annotation:
    """Picks, detections, magnitudes and per-sample probabilities for every station (see the module docstring)."""
    picker = _load_model(picker, SeismicPickerForPhasePicking)
    extractor = feature_extractor or load_feature_extractor(picker)
    config = picker.config
    thresholds = (
        config.p_threshold if p_threshold is None else p_threshold,
        config.s_threshold if s_threshold is None else s_threshold,
        config.detection_threshold if detection_threshold is None else detection_threshold,
    )
    if magnitude_model is not None:
        magnitude_model = _load_model(magnitude_model, SeismicMagnitudeForRegression)
        magnitude_extractor = magnitude_feature_extractor or load_feature_extractor(magnitude_model, amplitude=True)
    records = read_waveforms(stream_or_path, sampling_rate=config.sampling_rate, component_order=config.component_order,
                             fill_gaps=fill_gaps, min_samples=config.window_length)  # fmt: skip
    result = Annotation()
    for record in records:
        probabilities = predict_probabilities(record.data, picker, extractor, overlap=overlap, batch_size=batch_size)
        picks, detections = _station_events(record, probabilities, thresholds)
        result.picks += picks
        result.detections += detections
        if magnitude_model is not None and record.num_samples >= magnitude_model.config.window_length:
            result.magnitudes += _magnitudes(record, detections, magnitude_model, magnitude_extractor)
        result.traces.append(StationAnnotation(record.station_id, record.starttime, record.sampling_rate, record.data,
                                               probabilities, record.component_order))  # fmt: skip
    return result


def pick(stream_or_path, picker, **kwargs) -> list[Pick]:
    """The P and S picks of `annotate` (same keyword arguments)."""
    return annotate(stream_or_path, picker, **kwargs).picks


def detect(stream_or_path, picker, **kwargs) -> list[Detection]:
    """The event detections of `annotate` (same keyword arguments)."""
    return annotate(stream_or_path, picker, **kwargs).detections


def plot_annotation(annotation: Annotation, *, station: str | None = None, max_seconds: float | None = None):
    """A matplotlib Figure: the station's components (picks as vertical lines, detections shaded) above the P, S
    and detection probabilities. `station` defaults to the first annotated one; `max_seconds` crops the plot."""
    from matplotlib.figure import Figure  # no pyplot: works headless and in servers without a GUI backend

    if not annotation.traces:
        raise ValueError("the annotation has no traces to plot")
    trace = next((t for t in annotation.traces if station in (None, t.station)), None)
    if trace is None:
        raise ValueError(f"station {station!r} not in the annotation ({[t.station for t in annotation.traces]})")
    times = trace.times()
    end = len(times) if max_seconds is None else int(min(len(times), max_seconds * trace.sampling_rate))
    channels = trace.waveforms.shape[0]
    figure = Figure(figsize=(10, 1.6 * (channels + 1.5)))
    axes = figure.subplots(channels + 1, 1, sharex=True, gridspec_kw={"height_ratios": [1] * channels + [1.5]})
    colours = {"P": "tab:blue", "S": "tab:red"}
    picks = [p for p in annotation.picks if p.station == trace.station and p.sample < end]
    detections = [d for d in annotation.detections if d.station == trace.station]
    for i, axis in enumerate(axes[:-1]):
        axis.plot(times[:end], trace.waveforms[i, :end], color="k", linewidth=0.5)
        axis.set_ylabel(trace.component_order[i] if i < len(trace.component_order) else str(i))
        for p in picks:
            axis.axvline(times[p.sample], color=colours[p.phase], linewidth=1.0)
        for d in detections:
            axis.axvspan(d.start - trace.starttime, d.end - trace.starttime, color="gold", alpha=0.2)
    prob = axes[-1]
    for row, label, colour in ((1, "P", "tab:blue"), (2, "S", "tab:red"), (3, "detection", "goldenrod")):
        prob.plot(times[:end], trace.probabilities[row, :end], label=label, color=colour, linewidth=1.0)
    prob.set_ylim(-0.05, 1.05)
    prob.set_ylabel("probability")
    prob.set_xlabel(f"seconds after {trace.starttime}")
    prob.legend(loc="upper right", fontsize="small")
    figure.suptitle(f"{trace.station}: {sum(p.phase == 'P' for p in picks)} P, {sum(p.phase == 'S' for p in picks)} S, "
                    f"{len(detections)} detection(s)")  # fmt: skip
    return figure
