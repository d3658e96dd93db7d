"""One waveform API for every seismic model (in the spirit of SeisBench's `WaveformModel`).

    from geohub.inference.waveform import WaveformModel

    model = WaveformModel.from_pretrained("runs/eqtransformer-original")   # or WaveformModel(model, extractor)
    annotations = model.annotate(stream)      # obspy.Stream: one probability trace per output and station,
                                              #   channel "<CODE>_<label>", e.g. "EQT_D", "EQT_P", "EQT_S"
    result = model.classify(stream)           # ClassifyOutput: picks, detections, magnitudes
    result.picks[0].to_obspy()                # obspy.core.event.Pick
    result.to_catalog().write("picks.xml", format="QUAKEML")

Each model declares, through its config and its feature extractor, what the API needs (`WaveformSpec`): sampling
rate, window length, component order, the kind of output (`"samples"`: per-sample probabilities such as the U-Net
picker and EQTransformer; `"windows"`: one class vector per window such as GPD; `"regression"`: one value vector
per window such as the magnitude model), the names of the outputs and the default thresholds. The model files stay
free of ObsPy and of this module (they export as remote code): what differs between families is a small
`waveform=` module each seismic family declares in its `family.py` (how to turn the model output into
probabilities, and its `picks` hook: the picking rule the original authors used, e.g.
`geohub.models.eqtransformer.waveform_eqtransformer.eqt_picks`); `waveform_adapter(model)` reads it.

How a record goes through (`prepare` -> `predict_windows` -> `assemble` -> `picks_and_detections`):
1. `read_waveforms`: one record per station, resampled to the model's rate (up or down, anti-aliased), components
   in the model's order, missing components zero-filled, gaps filled; a record shorter than one window but at
   least half of one is zero-padded at its end;
2. the feature extractor's `filter_waveforms(data, sampling_rate)` when it has one (e.g. EQTransformer's
   detrend + band-pass on the continuous record, as the originals do), then windows every `stride` samples, normalised by the feature extractor;
3. the model in batches, in float32 or bfloat16 (`precision`: "auto" picks bf16 where the device runs it natively
   and the model folder records that its bf16 picks agree with fp32, `geohub.runtime`); a window without signal
   (all channels constant) gets the adapter's "empty" output (noise, zero probabilities) instead of the model's
   answer on normalised zeros; a record shorter than two windows of a model that sets `short_record_shift`
   (EQTransformer) is read by windows shifted by that many samples too (`window_layout`);
4. per-sample outputs of overlapping windows are averaged with tapered weights; per-window outputs form a series
   at `sampling_rate / stride` Hz, time-stamped at the window start + `output_offset` samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..auto import families, family_for_model_type
from ..data.waveforms import WaveformRecord, read_waveforms
from ..errors import WaveformError
from ..runtime import resolve_precision

__all__ = [
    "WaveformSpec",
    "WaveformAdapter",
    "waveform_adapter",
    "Pick",
    "Detection",
    "MagnitudeEstimate",
    "StationAnnotation",
    "ClassifyOutput",
    "WaveformModel",
    "prepare",
    "window_starts",
    "predict_windows",
    "assemble",
    "annotate_record",
    "window_layout",
    "assemble_record",
    "model_precision",
    "precision_context",
    "picks_and_detections",
    "annotation_stream",
]

OUTPUT_KINDS = ("samples", "windows", "regression")


@dataclass(frozen=True)
class WaveformSpec:
    """What a seismic model declares (read from its config and feature extractor by its adapter).

    Attributes:
        code: short model name for channel codes ("EQT" -> traces "EQT_P").
        sampling_rate: Hz of the model's input.
        window_length: samples per model window.
        component_order: channel order of the input, e.g. "ENZ".
        kind: "samples", "windows" or "regression" (see the module docstring).
        labels: name of each output row, e.g. ("D", "P", "S").
        stride: default samples between window starts.
        output_offset: for per-window outputs, samples from the window start to the time the output describes.
        taper: samples at each window end whose per-sample outputs get less weight when stacking.
        thresholds: default thresholds by label ("P", "S", "D").
        picking: the family's pick rule, `picks(annotation, thresholds, feature_extractor) -> ([(phase, column,
            probability)], [(first column, last column, probability)])` from its `waveform_<family>.py`, or None
            for a model that does not pick (the magnitude model).
        missing_components: "zeros" or "copy" (see `geohub.data.waveforms.read_waveforms`).
        short_record_shift: per-sample models only; when > 0, a record shorter than two windows (an event cut-out)
            is also read by windows shifted by multiples of this many samples, zero-padded by it at both ends, and
            their outputs averaged (`window_layout`): a model whose answer depends on where the onset lies in its
            window (EQTransformer) then sees each onset at several positions. 0: the plain windows.
    """

    code: str
    sampling_rate: float
    window_length: int
    component_order: str
    kind: str
    labels: tuple[str, ...]
    stride: int
    output_offset: float = 0.0
    taper: int = 0
    thresholds: dict = field(default_factory=dict)
    picking: Callable | None = None
    missing_components: str = "zeros"
    short_record_shift: int = 0

    def __post_init__(self):
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"kind must be one of {OUTPUT_KINDS}, got {self.kind!r}")

    @property
    def output_rate(self) -> float:
        """Hz of the output series (the sampling rate for per-sample outputs)."""
        return self.sampling_rate if self.kind == "samples" else self.sampling_rate / self.stride


@dataclass(frozen=True)
class WaveformAdapter:
    """How the API talks to one model family.

    Attributes:
        spec: `(model, feature_extractor) -> WaveformSpec`.
        outputs: `(model output) -> (B, K, T)` or `(B, K)` float32 numpy array, rows in `spec.labels` order.
        empty: output row values for a window without signal, `(K,)`.
        precision: optional `(model, "fp32" | "bf16") -> context manager` in which the model runs at that
            precision (GPD: its folded bfloat16 eval path); None: `torch.autocast` in bfloat16.
    """

    spec: Callable
    outputs: Callable
    empty: tuple[float, ...]
    precision: Callable | None = None


def waveform_adapter(model) -> WaveformAdapter:
    """The adapter of `model`, from the `waveform=` module its family declares (`geohub/models/<family>/family.py`);
    a clear error for models the API does not know."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    family = family_for_model_type(model_type)
    if family is None or family.waveform is None:
        raise WaveformError(f"model type {model_type!r} has no waveform adapter", field="model",
                            expected=f"a seismic model ({', '.join(waveform_model_types())})")  # fmt: skip
    module = family.module(family.waveform)

    def spec(model, feature_extractor) -> WaveformSpec:
        return WaveformSpec(**module.spec(model, lambda name, default: _fe(feature_extractor, name, default)))

    return WaveformAdapter(spec, module.outputs, tuple(module.EMPTY), getattr(module, "precision", None))


def waveform_model_types() -> list[str]:
    """The `model_type`s of the families that declare a waveform adapter."""
    return sorted(f.model_type for f in families().values() if f.waveform and f.model_type)


def _fe(feature_extractor, name, default):
    return getattr(feature_extractor, name, None) or default


# --- results ---------------------------------------------------------------------------------------------------
@dataclass
class Pick:
    """A phase arrival. `station` is "NET.STA.LOC"; `sample` the index at the model's rate from the record start."""

    time: object
    phase: str
    probability: float
    station: str
    sample: int
    model: str = ""

    def to_dict(self) -> dict:
        return {"time": str(self.time), "phase": self.phase, "probability": self.probability, "station": self.station}

    def to_obspy(self):
        """This pick as an `obspy.core.event.Pick` (automatic, the probability in a comment)."""
        from obspy.core.event import Comment, WaveformStreamID
        from obspy.core.event import Pick as ObsPyPick

        network, station, location = (self.station.split(".") + ["", "", ""])[:3]
        return ObsPyPick(
            time=self.time, phase_hint=self.phase, evaluation_mode="automatic",
            waveform_id=WaveformStreamID(network_code=network, station_code=station, location_code=location),
            comments=[Comment(text=f"probability={self.probability:.4f}" + (f" model={self.model}" if self.model else ""))],
        )  # fmt: skip


@dataclass
class Detection:
    start: object
    end: object
    probability: float
    station: str

    def to_dict(self) -> dict:
        return {"start": str(self.start), "end": str(self.end), "probability": self.probability,
                "station": self.station}  # fmt: skip


@dataclass
class MagnitudeEstimate:
    time: object
    magnitude: float | None
    uncertainty: float | None
    station: str
    detection: Detection | None = None
    event_probability: float | None = None

    def to_dict(self) -> dict:
        return {"time": str(self.time), "magnitude": self.magnitude, "uncertainty": self.uncertainty,
                "station": self.station}  # fmt: skip


@dataclass
class StationAnnotation:
    """One station's model outputs.

    Attributes:
        station: "NET.STA.LOC"; starttime: UTCDateTime of waveform sample 0; sampling_rate: Hz of `waveforms`.
        waveforms: `(C, T)` input record at the model's rate; probabilities: `(K, N)` output rows named `labels`.
        output_rate: Hz of the output columns; output_offset: seconds from `starttime` to output column 0.
    """

    station: str
    starttime: object
    sampling_rate: float
    waveforms: np.ndarray
    probabilities: np.ndarray
    component_order: str = "ZNE"
    labels: tuple[str, ...] = ("N", "P", "S", "D")
    output_rate: float | None = None
    output_offset: float = 0.0
    code: str = ""

    def times(self) -> np.ndarray:
        """Seconds after `starttime` of each waveform sample."""
        return np.arange(self.waveforms.shape[-1]) / self.sampling_rate

    def output_times(self) -> np.ndarray:
        """Seconds after `starttime` of each output column."""
        rate = self.output_rate or self.sampling_rate
        return self.output_offset + np.arange(self.probabilities.shape[-1]) / rate

    def row(self, label: str) -> np.ndarray | None:
        return self.probabilities[self.labels.index(label)] if label in self.labels else None


@dataclass
class ClassifyOutput:
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

    def to_catalog(self):
        """An `obspy.Catalog` with one event holding every pick (unassociated; write with `format="QUAKEML"`)."""
        from obspy.core.event import Catalog, Comment, Event

        comments = [Comment(text=f"detection {d.station} {d.start} - {d.end} p={d.probability:.3f}")
                    for d in self.detections]  # fmt: skip
        return Catalog([Event(picks=[p.to_obspy() for p in self.picks], comments=comments)])


# --- core ------------------------------------------------------------------------------------------------------
def prepare(stream_or_path, spec: WaveformSpec, feature_extractor=None, *, fill_gaps="interpolate"):
    """Records resampled, ordered, filled and padded for the model (step 1-2 of the module docstring)."""
    records = read_waveforms(stream_or_path, sampling_rate=spec.sampling_rate, component_order=spec.component_order,
                             fill_gaps=fill_gaps, min_samples=(spec.window_length + 1) // 2,
                             missing_components=spec.missing_components)  # fmt: skip
    hook = getattr(feature_extractor, "filter_waveforms", None)
    for record in records:
        if callable(hook):
            record.data = np.asarray(hook(record.data, record.sampling_rate), dtype=np.float32)
    return records


def window_starts(length: int, window: int, stride: int, *, cover_end: bool = True) -> list[int]:
    """Window start indices every `stride` samples; with `cover_end` a last window ends at the record end (per-
    sample outputs); without, the starts stay evenly spaced (per-window outputs form a regular series)."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, max(1, int(stride))))
    if cover_end and starts[-1] != length - window:
        starts.append(length - window)
    return starts


def sliding_windows(data: np.ndarray, starts: list[int], window: int) -> np.ndarray:
    """`(N, C, window)` copies of `data[:, s : s + window]` for each start `s`, gathered from a strided view."""
    view = np.lib.stride_tricks.sliding_window_view(data, window, axis=-1)  # (C, T - window + 1, window), no copy
    return view.transpose(1, 0, 2)[np.asarray(starts, dtype=np.intp)]


def padded(data: np.ndarray, window: int) -> np.ndarray:
    """`data` `(C, T)` zero-padded at the end to at least `window` samples."""
    if data.shape[-1] >= window:
        return data
    return np.concatenate([data, np.zeros((data.shape[0], window - data.shape[-1]), data.dtype)], axis=-1)


def is_dead(windows: np.ndarray) -> np.ndarray:
    """`(N,)` True for `(N, C, W)` windows whose every channel is constant (no signal to classify)."""
    return np.ptp(np.asarray(windows), axis=-1).max(axis=-1) == 0


def model_precision(model, feature_extractor, precision: str | None = "auto") -> str:
    """ "fp32" or "bf16" for `model` (`geohub.runtime.resolve_precision`: "auto" = bf16 where the device runs it
    natively and the feature extractor records bf16 picks agreeing with fp32); fp32 for models that are not plain
    floating-point torch modules (ONNX or int8 exports)."""
    resolved = resolve_precision(precision, feature_extractor, getattr(model, "device", None))
    if resolved == "bf16" and not _float_torch_model(model):
        return "fp32"
    return resolved


def _float_torch_model(model) -> bool:
    if not isinstance(model, torch.nn.Module):
        return False
    quantized = any("quantized" in type(m).__module__ for m in model.modules())
    first = next(model.parameters(), None)
    return not quantized and first is not None and first.dtype == torch.float32


def precision_context(model, precision: str):
    """Context in which `model` runs at `precision` ("fp32": as it is; "bf16": its family's `precision` hook when it
    declares one, else `torch.autocast` in bfloat16 on the model's device, outputs cast back to float32 by the
    adapters)."""
    import contextlib

    if precision != "bf16":
        return contextlib.nullcontext()
    hook = waveform_adapter(model).precision
    if hook is not None:
        return hook(model, precision)
    return torch.autocast(getattr(model, "device", torch.device("cpu")).type, dtype=torch.bfloat16)


@torch.inference_mode()
def predict_windows(model, feature_extractor, windows: np.ndarray, *, batch_size: int = 32,
                    precision: str | None = "auto") -> np.ndarray:  # fmt: skip
    """Model outputs `(N, K, W)` or `(N, K)` for raw windows `(N, C, W)`; windows without signal get `empty`.
    `precision`: "auto" (default, `model_precision`), "fp32" or "bf16"."""
    adapter = waveform_adapter(model)
    dead = is_dead(windows)
    outputs = []
    with precision_context(model, model_precision(model, feature_extractor, precision)):
        for begin in range(0, len(windows), max(1, int(batch_size))):
            features = feature_extractor(windows[begin : begin + batch_size], return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in features.items() if isinstance(v, torch.Tensor)}
            outputs.append(adapter.outputs(model(**inputs)))
    result = np.concatenate(outputs).astype(np.float32)
    if dead.any():
        empty = np.asarray(adapter.empty, dtype=np.float32)
        result[dead] = empty.reshape((-1,) + (1,) * (result.ndim - 2))
    return result


def _taper(window: int, taper: int) -> np.ndarray:
    if taper <= 0:
        return np.ones(window)
    ramp = np.minimum(np.arange(window) + 1, window - np.arange(window)) / float(taper)
    return np.minimum(1.0, ramp) + 1e-3


def assemble(outputs: np.ndarray, starts: list[int], length: int, spec: WaveformSpec) -> tuple[np.ndarray, float]:
    """Per-window outputs -> one `(K, N)` series and its offset (seconds) from the record start."""
    if spec.kind != "samples":
        return np.ascontiguousarray(outputs.T), spec.output_offset / spec.sampling_rate
    window = outputs.shape[-1]
    total = np.zeros((outputs.shape[1], max(length, window)))
    weight = np.zeros(max(length, window))
    taper = _taper(window, spec.taper)
    for start, out in zip(starts, outputs):
        total[:, start : start + window] += out * taper
        weight[start : start + window] += taper
    return (total / weight)[:, :length].astype(np.float32), 0.0


_MAX_SHIFTED = 9  # windows at most for one short record (the shift grows on records close to two windows)


def window_layout(data: np.ndarray, spec: WaveformSpec, stride=None) -> tuple[np.ndarray, list[int], int]:
    """(padded data, window starts in it, `lead` samples of zeros before the record) for one `(C, T)` record: the
    record zero-padded at its end to one window and windows every `stride` (default the model's); with the model's
    own stride, a per-sample model that sets `short_record_shift` reads a record shorter than two windows also at
    shifts of that many samples (zero-padded by it at both ends, at most 9 windows; see `WaveformSpec`)."""
    shift = int(spec.short_record_shift)
    if spec.kind == "samples" and stride is None and shift > 0 and data.shape[-1] < 2 * spec.window_length:
        data = np.pad(padded(data, spec.window_length), ((0, 0), (shift, shift)))
        step = max(shift, -(-(data.shape[-1] - spec.window_length) // (_MAX_SHIFTED - 1)))
        return data, window_starts(data.shape[-1], spec.window_length, step), shift
    data = padded(data, spec.window_length)
    starts = window_starts(data.shape[-1], spec.window_length, stride or spec.stride, cover_end=spec.kind == "samples")
    return data, starts, 0


def assemble_record(outputs: np.ndarray, starts: list[int], num_samples: int, lead: int,
                    spec: WaveformSpec) -> tuple[np.ndarray, float]:  # fmt: skip
    """`assemble` for the layout of `window_layout`: the series of the record's own `num_samples` samples."""
    if lead == 0:
        return assemble(outputs, starts, num_samples, spec)
    series, offset = assemble(outputs, starts, starts[-1] + spec.window_length, spec)  # the padded data's length
    return np.ascontiguousarray(series[:, lead : lead + num_samples]), offset


def annotate_record(record: WaveformRecord, model, feature_extractor, spec: WaveformSpec, *, stride=None,
                    batch_size: int = 32, precision: str | None = "auto") -> StationAnnotation:  # fmt: skip
    """One station's `StationAnnotation` (steps 2-4 of the module docstring; `precision` as `predict_windows`)."""
    data, starts, lead = window_layout(record.data, spec, stride)
    windows = sliding_windows(data, starts, spec.window_length)
    outputs = predict_windows(model, feature_extractor, windows, batch_size=batch_size, precision=precision)
    series, offset = assemble_record(outputs, starts, record.num_samples, lead, spec)
    rate = spec.output_rate if stride is None else spec.sampling_rate / stride
    return StationAnnotation(record.station_id, record.starttime, record.sampling_rate, record.data, series,
                             spec.component_order, spec.labels, rate if spec.kind != "samples" else None, offset,
                             spec.code)  # fmt: skip


# --- picks and detections --------------------------------------------------------------------------------------
def _pick(annotation: StationAnnotation, phase: str, index: float) -> Pick:
    """The pick at output column `index` (a fractional index is rounded for the probability)."""
    seconds = annotation.output_offset + index / (annotation.output_rate or annotation.sampling_rate)
    return Pick(annotation.starttime + seconds, phase, float(annotation.row(phase)[int(round(index))]),
                annotation.station, int(round(seconds * annotation.sampling_rate)), annotation.code)  # fmt: skip


def _detection(annotation: StationAnnotation, a: int, b: int, probability: float) -> Detection:
    rate = annotation.output_rate or annotation.sampling_rate
    start = annotation.starttime + annotation.output_offset
    return Detection(start + a / rate, start + b / rate, float(probability), annotation.station)


def picks_and_detections(annotation: StationAnnotation, spec: WaveformSpec, thresholds: dict | None = None,
                         feature_extractor=None):  # fmt: skip
    """(picks sorted by time, detections) of one station by the model's own pick rule (`spec.picking`, the `picks`
    hook of its family's `waveform_<family>.py`); `thresholds` override the model's defaults by label ("P", "S",
    "D"; None values are ignored)."""
    if spec.picking is None:
        return [], []
    merged = dict(spec.thresholds)
    merged.update({k: float(v) for k, v in (thresholds or {}).items() if v is not None})
    found, spans = spec.picking(annotation, merged, feature_extractor)
    picks = [_pick(annotation, phase, index) for phase, index, _ in found]
    detections = [_detection(annotation, a, b, probability) for a, b, probability in spans]
    return sorted(picks, key=lambda p: p.sample), detections


def annotation_stream(annotations: list[StationAnnotation]):
    """`obspy.Stream` of the outputs: one trace per station and label, channel "<CODE>_<label>"."""
    from obspy import Stream, Trace

    traces = []
    for annotation in annotations:
        network, station, location = (annotation.station.split(".") + ["", "", ""])[:3]
        for label, row in zip(annotation.labels, annotation.probabilities):
            header = {
                "network": network,
                "station": station,
                "location": location,
                "channel": f"{annotation.code}_{label}",
                "sampling_rate": annotation.output_rate or annotation.sampling_rate,
                "starttime": annotation.starttime + annotation.output_offset,
            }
            traces.append(Trace(np.ascontiguousarray(row, dtype=np.float32), header=header))  # fmt: skip
    return Stream(traces)


# --- the model wrapper -----------------------------------------------------------------------------------------
def load_waveform_model(path):
    """(model, feature extractor or None) from a model folder, Hub repo id or export folder of any seismic family
    (one that declares `waveform=`), through the one loader (`geohub.inference.loading`): the model class and
    processor are the ones the family declares in its `family.py`."""
    from .loading import check_family, load_model_and_processor, read_config, resolve_source

    folder = resolve_source(path, WaveformError)
    seismic = tuple(sorted(f.name for f in families().values() if f.waveform and f.models))
    family = check_family(read_config(folder, WaveformError), seismic, path=folder / "config.json",
                          error=WaveformError, what="geohub seismic model")  # fmt: skip
    model, _ = load_model_and_processor(folder, family=family.name, error=WaveformError, processor=False)
    extractor = None
    if family.processor:
        try:
            extractor = family.processor_class().from_pretrained(os.fspath(folder))
        except (OSError, ValueError, KeyError):
            extractor = None
    return model, extractor


class WaveformModel:
    """A seismic model with the waveform API (`annotate`, `classify`); other attributes are the model's.

    Args:
        model: a loaded geohub seismic model (U-Net picker, magnitude model, EQTransformer, GPD).
        feature_extractor: its feature extractor (None: `model.name_or_path`'s, or defaults from the config).
        precision: "auto" (default: bfloat16 where the CPU/GPU runs it natively and the feature extractor records
            that the model's bf16 picks agree with its fp32 picks, `geohub.runtime`), "fp32" or "bf16".
            `self.precision` is the resolved choice.
    """

    def __init__(self, model, feature_extractor=None, *, precision: str | None = "auto"):
        if isinstance(model, (str, os.PathLike)):
            model, saved = load_waveform_model(model)
            feature_extractor = feature_extractor if feature_extractor is not None else saved
        self.model = model.eval()
        self.feature_extractor = feature_extractor if feature_extractor is not None else default_extractor(model)
        self.adapter = waveform_adapter(model)
        self.spec = self.adapter.spec(model, self.feature_extractor)
        try:
            self.precision = model_precision(model, self.feature_extractor, precision)
        except ValueError as err:
            raise WaveformError(str(err), field="precision", expected="auto, fp32 or bf16") from None

    @classmethod
    def from_pretrained(cls, path, *, precision: str | None = "auto") -> WaveformModel:
        return cls(path, precision=precision)

    def __getattr__(self, name):
        return getattr(self.__dict__["model"], name)

    def annotate_records(self, stream_or_path, *, stride=None, batch_size: int = 32,
                         fill_gaps: str = "interpolate") -> list[StationAnnotation]:  # fmt: skip
        records = prepare(stream_or_path, self.spec, self.feature_extractor, fill_gaps=fill_gaps)
        return [annotate_record(r, self.model, self.feature_extractor, self.spec, stride=stride,
                                batch_size=batch_size, precision=self.precision) for r in records]  # fmt: skip

    def annotate(self, stream_or_path, *, stride=None, batch_size: int = 32, fill_gaps: str = "interpolate"):
        """`obspy.Stream` of output traces (one per station and output, channel "<CODE>_<label>")."""
        return annotation_stream(self.annotate_records(stream_or_path, stride=stride, batch_size=batch_size,
                                                       fill_gaps=fill_gaps))  # fmt: skip

    def classify(self, stream_or_path, *, stride=None, batch_size: int = 32, fill_gaps: str = "interpolate",
                 **thresholds) -> ClassifyOutput:  # fmt: skip
        """Picks and detections (pickers), or one magnitude per station (magnitude model; window placed with the
        record's peak amplitude 40% into it). Thresholds as `P=0.2, S=0.2, D=0.5`."""
        if self.spec.kind == "regression":
            return ClassifyOutput(magnitudes=station_magnitudes(self, stream_or_path, fill_gaps=fill_gaps))
        result = ClassifyOutput()
        for annotation in self.annotate_records(stream_or_path, stride=stride, batch_size=batch_size,
                                                fill_gaps=fill_gaps):  # fmt: skip
            picks, detections = picks_and_detections(annotation, self.spec, thresholds, self.feature_extractor)
            result.picks += picks
            result.detections += detections
            result.traces.append(annotation)
        return result


def default_extractor(model):
    """The feature extractor saved with `model` (its `name_or_path`, the family's processor class), else the
    family's `default_feature_extractor(model)` (U-Net picker and magnitude model: built from the config), else the
    processor's defaults."""
    model_type = model.config.model_type
    path = getattr(model, "name_or_path", None)
    family = family_for_model_type(model_type)
    if path and family is not None and family.processor:
        try:
            return family.processor_class().from_pretrained(path)
        except (OSError, ValueError, KeyError):
            pass
    module = family.module(family.waveform) if family is not None and family.waveform else None
    if module is not None and hasattr(module, "default_feature_extractor"):
        return module.default_feature_extractor(model)
    if family is not None and family.processor:
        return family.processor_class()()
    raise WaveformError(f"no feature extractor saved with the {model_type} model", field="feature_extractor",
                        expected="a model folder with preprocessor_config.json, or feature_extractor=...")  # fmt: skip


def magnitude_window(record: WaveformRecord, window: int, onset: int | None = None) -> int:
    """Start of the magnitude window: `onset` - 10% of a window when given, else the record's peak amplitude
    (all components, after demeaning) 40% into the window."""
    if onset is None:
        peak = int(np.abs(record.data - record.data.mean(axis=1, keepdims=True)).max(axis=0).argmax())
        start = peak - int(0.4 * window)
    else:
        start = onset - int(0.1 * window)
    return int(np.clip(start, 0, max(0, record.num_samples - window)))


def station_magnitudes(wrapper: WaveformModel, stream_or_path, *, fill_gaps="interpolate", records=None,
                       onsets=None) -> list[MagnitudeEstimate]:  # fmt: skip
    """One `MagnitudeEstimate` per station (or per `onsets[i]` sample of `records[i]`); a window without signal
    gets magnitude None and event probability 0."""
    spec = wrapper.spec
    records = records if records is not None else prepare(stream_or_path, spec, wrapper.feature_extractor,
                                                          fill_gaps=fill_gaps)  # fmt: skip
    estimates = []
    for i, record in enumerate(records):
        onset = None if onsets is None else onsets[i]
        start = magnitude_window(record, spec.window_length, onset)
        window = padded(record.data, spec.window_length)[:, start : start + spec.window_length]
        outputs = predict_windows(wrapper.model, wrapper.feature_extractor, window[None], precision=wrapper.precision)
        magnitude, uncertainty, probability = outputs[0]
        estimates.append(
            MagnitudeEstimate(
                record.time_of(start),
                None if np.isnan(magnitude) else float(magnitude),
                None if np.isnan(uncertainty) else float(uncertainty),
                record.station_id,
                None,
                float(probability),
            )
        )
    return estimates
