"""transformers pipelines for the seismic models, on the shared waveform API (`geohub.inference.waveform`).

    from transformers import pipeline
    import geohub  # registers the tasks

    picker = pipeline("seismic-phase-picking", model="path/to/picker")   # U-Net picker, EQTransformer or GPD
    picker("record.mseed")        # or an obspy.Stream, or {"waveforms": (C, T) array, "sampling_rate": 100.0}
    # -> {"picks": [{"time", "phase", "probability", "station"}], "detections": [{"start", "end", "probability",
    #     "station"}]}
    picker(["a.mseed", "b.mseed"], batch_size=32, num_workers=2)   # lists; batch_size = model windows per forward

    magnitude = pipeline("seismic-magnitude", model="path/to/magnitude_model")
    magnitude("record.mseed")     # -> [{"station", "start", "magnitude", "uncertainty", "event_probability"}]

The transformers contract: `preprocess` reads the record (any rate 1-2000 Hz, one to three components), and
yields one model window per item (`ChunkPipeline`), so `batch_size` batches windows, across records too;
`_forward` runs the model on a batch of windows; `postprocess` stacks a record's windows and picks by the model's
own rule. Picking accepts `stride` (samples between windows) or `overlap` (fraction of a window), `p_threshold`,
`s_threshold`, `detection_threshold` and `output="obspy"` (an `obspy.Stream` of probability traces and
`obspy.core.event.Pick`s); both accept `fill_gaps`. `batch_size` defaults to 32 windows and is capped by the memory
budget (`geohub.data.limits.check_memory`). A list is checked item by item before any work (a file's headers are
read): with `errors="raise"` (default) a bad item (None, a missing, unreadable or truncated file) is a
`WaveformError` naming its index, never a TypeError after the good items ran; with `errors="return"` each bad item
gets `{"index", "input", "error", "error_type"}` in its place and the good items their results, an item that fails
only when its data is read included (`geohub.pipelines.items`).
The magnitude pipeline scores, per station, the window placed so that the record's peak amplitude falls 40% into
it; a station without signal (all-zero or constant) gets `event_probability` 0 and magnitude None.

Explanations (`geohub.explain`): `explain=True` (integrated gradients) or a method name (`"saliency"`,
`"input_x_gradient"`), with `explain_steps=` / `explain_max_steps=` (integrated gradients' first and largest step
counts). Picking adds `"explanation"`: one entry per station, the P probability at its strongest P pick (without a
pick: at its highest P probability) attributed over the model window centred on it (None for a station without
signal); magnitude adds `"explanation"`
to each station's row (the predicted magnitude over the scored window; None for a station without signal). An
entry (`geohub.explain.explanation_entry`) holds `attributions` (an `obspy.Stream`, channel `ATTR_<component>`, per
sample of the model input after normalisation), `method`, `target`, `output`, `baseline_output`,
`completeness_gap`, `relative_completeness_gap`, `n_steps`, `station`. Without `explain` the results are unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline

from ..data.waveforms import stream_from_array
from ..errors import WaveformError
from ..explain import attribution_stream, explain_station_p, explain_window, explanation_entry, pipeline_settings
from ..inference.waveform import (
    ClassifyOutput,
    StationAnnotation,
    WaveformModel,
    annotation_stream,
    assemble_record,
    is_dead,
    magnitude_window,
    model_precision,
    padded,
    picks_and_detections,
    precision_context,
    prepare,
    waveform_adapter,
    window_layout,
)
from .items import check_errors_mode, check_items, check_waveform_file, run_items

__all__ = ["SeismicPhasePickingPipeline", "SeismicMagnitudePipeline", "WaveformChunkPipeline", "as_stream"]


def as_stream(inputs, component_order: str):
    """A path, Stream or Trace unchanged; a dict `{"waveforms": (C, T), "sampling_rate": Hz}` -> `obspy.Stream`
    (components in `component_order` when there are as many rows, one row: Z)."""
    if isinstance(inputs, dict):
        if "waveforms" not in inputs or "sampling_rate" not in inputs:
            raise WaveformError("a dict input needs 'waveforms' (C, T) and 'sampling_rate' (Hz)", field="inputs")
        waveforms = np.asarray(inputs["waveforms"])
        order = inputs.get("component_order", component_order if waveforms.shape[0] == len(component_order) else
                           "Z" if waveforms.ndim == 2 and waveforms.shape[0] == 1 else component_order)  # fmt: skip
        return stream_from_array(waveforms, float(inputs["sampling_rate"]), component_order=order,
                                 starttime=inputs.get("starttime"))  # fmt: skip
    return inputs


class WaveformChunkPipeline(ChunkPipeline):
    """Base of the waveform pipelines (picking, magnitude, denoising): the subclass gets its feature extractor from
    the model folder itself (transformers loads no processor), `batch_size` defaults to `default_batch_size`
    windows, and inputs stay numpy / ObsPy objects until `_forward` moves the windows to the model's device."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False
    default_batch_size = 32

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._batch_size is None:
            self._batch_size = self.default_batch_size

    def _ensure_tensor_on_device(self, inputs, device):
        return inputs  # windows are moved in `_forward`; records stay numpy / obspy objects

    def __call__(self, inputs, *args, errors: str = "raise", **kwargs):
        """Checks before any work: `batch_size` against the memory budget (`geohub.data.limits.check_memory`), and
        every input (each item of a list) is a path to a file whose headers read (`check_waveform_file`), an
        `obspy` Stream/Trace or a `{"waveforms", "sampling_rate"}` dict. `errors="raise"` (default): a bad item is
        an error naming its index (`inputs[1]`) before any work; `errors="return"`: a bad item's result is its
        error (`geohub.pipelines.items`), the others their results."""
        from ..data.limits import check_memory, window_bytes

        window = getattr(getattr(self, "spec", None), "window_length", None)
        window = window or getattr(self.model.config, "window_length", None) or 6000
        batch = kwargs.get("batch_size") or self._batch_size
        check_memory(batch, "batch_size", window_bytes(window), what="windows", error=WaveformError)
        if check_errors_mode(errors) == "return":
            return run_items(inputs, check_waveform_input, lambda items: super(WaveformChunkPipeline, self).__call__(
                items, *args, **kwargs), lambda item: super(WaveformChunkPipeline, self).__call__(item, *args, **kwargs))  # fmt: skip
        check_items(inputs, check_waveform_input)
        return super().__call__(inputs, *args, **kwargs)


def check_waveform_input(item, field: str) -> None:
    """A WaveformError naming `field` unless `item` is a readable waveform file's path (headers checked, see
    `check_waveform_file`), an obspy Stream/Trace or a dict with "waveforms" and "sampling_rate"."""
    import os

    from obspy import Stream, Trace

    if isinstance(item, (Stream, Trace)) or (isinstance(item, dict) and {"waveforms", "sampling_rate"} <= set(item)):
        return
    if isinstance(item, (str, os.PathLike)) and str(item).strip():
        if not os.path.isfile(item):
            raise WaveformError("waveform file not found", path=item, field=field, expected="an existing file")
        check_waveform_file(item, field)
        return
    raise WaveformError(f"{type(item).__name__} {str(item)[:40]!r} is not a waveform input", field=field,
                        expected='a file path, an obspy Stream/Trace or {"waveforms", "sampling_rate"}')  # fmt: skip


class _SeismicPipeline(WaveformChunkPipeline):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waveform_model = WaveformModel(self.model, self.feature_extractor)
        self.feature_extractor = self.waveform_model.feature_extractor  # batching pads with it (no padding needed)
        self.spec = self.waveform_model.spec

    def _precision(self, precision: str) -> str:
        """ "fp32" or "bf16" for a `precision=` call argument ("auto", "fp32", "bf16"; see `WaveformModel`)."""
        return model_precision(self.model, self.feature_extractor, precision)

    @torch.no_grad()
    def _forward(self, model_inputs, precision=None):
        windows = model_inputs.pop("windows")
        windows = windows.numpy() if isinstance(windows, torch.Tensor) else np.asarray(windows)
        features = self.feature_extractor(windows, return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in features.items() if isinstance(v, torch.Tensor)}
        chosen = self.waveform_model.precision if precision is None else precision
        with precision_context(self.model, chosen):
            outputs = torch.from_numpy(waveform_adapter(self.model).outputs(self.model(**inputs)))
        dead = torch.from_numpy(is_dead(windows))
        if dead.any():
            empty = torch.tensor(waveform_adapter(self.model).empty, dtype=outputs.dtype)
            outputs[dead] = empty.reshape((-1,) + (1,) * (outputs.dim() - 2))
        return {"outputs": outputs, **model_inputs}


class SeismicPhasePickingPipeline(_SeismicPipeline):
    """Task "seismic-phase-picking": P/S picks and detections for a record of any length, any picking model."""

    def _sanitize_parameters(self, overlap=None, stride=None, p_threshold=None, s_threshold=None,
                             detection_threshold=None, fill_gaps=None, output="dict", explain=None, explain_steps=None,
                             explain_max_steps=None, precision=None):  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        forward = {} if precision is None else {"precision": self._precision(precision)}
        preprocess = {"fill_gaps": fill_gaps} if fill_gaps is not None else {}
        if overlap is not None:
            if not 0.0 <= overlap < 1.0:
                raise ValueError(f"overlap must be in [0, 1), got {overlap}")
            stride = max(1, int(round(self.spec.window_length * (1.0 - overlap))))
        if stride is not None:
            preprocess["stride"] = int(stride)
        thresholds = {"P": p_threshold, "S": s_threshold, "D": detection_threshold}
        if output not in ("dict", "obspy"):
            raise ValueError(f"output must be 'dict' or 'obspy', got {output!r}")
        return preprocess, forward, {"thresholds": thresholds, "output": output, "explain": settings}

    def preprocess(self, inputs, fill_gaps: str = "interpolate", stride: int | None = None):
        spec = self.spec
        records = prepare(as_stream(inputs, spec.component_order), spec, self.feature_extractor, fill_gaps=fill_gaps)
        for r, record in enumerate(records):
            data, starts, lead = window_layout(record.data, spec, stride)
            meta = {"record": record, "starts": starts, "stride": stride, "lead": lead}
            for i, start in enumerate(starts):
                yield {
                    "windows": torch.from_numpy(np.ascontiguousarray(data[None, :, start : start + spec.window_length])),
                    "meta": meta if i == 0 else None,
                    "is_last": r == len(records) - 1 and i == len(starts) - 1,
                }  # fmt: skip

    def postprocess(self, model_outputs, thresholds=None, output="dict", explain=None):
        spec = self.spec
        result = ClassifyOutput()
        groups = []
        for item in model_outputs:
            if item["meta"] is not None:
                groups.append((item["meta"], []))
            groups[-1][1].append(item["outputs"][0].numpy())
        for meta, outputs in groups:
            record = meta["record"]
            series, offset = assemble_record(np.stack(outputs), meta["starts"], record.num_samples, meta["lead"], spec)
            rate = spec.output_rate if meta["stride"] is None else spec.sampling_rate / meta["stride"]
            trace = StationAnnotation(record.station_id, record.starttime, record.sampling_rate, record.data, series,
                                      spec.component_order, spec.labels, rate if spec.kind != "samples" else None,
                                      offset, spec.code)  # fmt: skip
            picks, detections = picks_and_detections(trace, spec, thresholds, self.feature_extractor)
            result.picks += picks
            result.detections += detections
            result.traces.append(trace)
        if output == "obspy":
            answer = {"annotations": annotation_stream(result.traces), "picks": [p.to_obspy() for p in result.picks],
                      "detections": result.detections}  # fmt: skip
        else:
            as_dict = result.to_dict()
            answer = {"picks": as_dict["picks"], "detections": as_dict["detections"]}
        if explain is not None:
            answer["explanation"] = [self._explain_station(trace, result.picks, explain) for trace in result.traces]
        return answer

    def _explain_station(self, trace, picks, settings: dict) -> dict | None:
        if is_dead(trace.waveforms[None])[0]:
            return None  # no signal: the pipeline reports no picks, nothing to explain
        e = explain_station_p(trace, picks, self.model, self.feature_extractor, **settings)
        return explanation_entry(e, attribution_stream(e, self.spec.component_order), station=trace.station,
                                 explained=e.extra["which"], pick_time=e.extra["pick_time"],
                                 share_near_pick=e.extra["share_near_pick"])  # fmt: skip


class SeismicMagnitudePipeline(_SeismicPipeline):
    """Task "seismic-magnitude": magnitude, its 1-std uncertainty and the event probability per station."""

    def _sanitize_parameters(self, fill_gaps=None, explain=None, explain_steps=None, explain_max_steps=None):
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        return ({"fill_gaps": fill_gaps} if fill_gaps is not None else {}), {}, {"explain": settings}

    def preprocess(self, inputs, fill_gaps: str = "interpolate"):
        spec = self.spec
        records = prepare(as_stream(inputs, spec.component_order), spec, self.feature_extractor, fill_gaps=fill_gaps)
        for r, record in enumerate(records):
            start = magnitude_window(record, spec.window_length)
            window = padded(record.data, spec.window_length)[:, start : start + spec.window_length]
            yield {"windows": torch.from_numpy(np.ascontiguousarray(window[None])),
                   "meta": {"record": record, "start": start}, "is_last": r == len(records) - 1}  # fmt: skip

    def postprocess(self, model_outputs, explain=None):
        rows = []
        for item in model_outputs:
            magnitude, uncertainty, probability = (float(v) for v in item["outputs"][0])
            record, start = item["meta"]["record"], item["meta"]["start"]
            rows.append({
                "station": record.station_id,
                "start": str(record.time_of(start)),
                "magnitude": None if np.isnan(magnitude) else magnitude,
                "uncertainty": None if np.isnan(uncertainty) else uncertainty,
                "event_probability": probability,
            })  # fmt: skip
            if explain is not None:
                rows[-1]["explanation"] = None if np.isnan(magnitude) else self._explain_window(record, start, explain)
        return rows

    def _explain_window(self, record, start: int, settings: dict) -> dict:
        e = explain_window(self.model, self.feature_extractor, record.data, start, starttime=record.starttime,
                           sampling_rate=record.sampling_rate, station_id=record.station_id, **settings)  # fmt: skip
        return explanation_entry(e, attribution_stream(e, self.spec.component_order), station=record.station_id)
