"""transformers pipelines for the seismic models.

    from transformers import pipeline
    import geohub  # registers the tasks

    picker = pipeline("seismic-phase-picking", model="path/to/picker")
    picker("record.mseed")        # or an obspy.Stream, or {"waveforms": (C, T) array, "sampling_rate": 100.0}
    # -> {"picks": [{"time", "phase", "probability", "station"}], "detections": [{"start", "end", "probability",
    #     "station"}]}

    magnitude = pipeline("seismic-magnitude", model="path/to/magnitude_model")
    magnitude("record.mseed")     # -> [{"station", "start", "magnitude", "uncertainty", "event_probability"}]

Both accept `overlap`, `window_batch_size` and the thresholds of `geohub.inference.seismic.annotate` (picking),
and `fill_gaps`. The magnitude pipeline scores, per station, the window placed so that the record's peak
amplitude falls 40% into it.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import Pipeline

from ..data.waveforms import read_waveforms, stream_from_array
from ..errors import WaveformError
from ..inference.seismic import annotate, load_feature_extractor

__all__ = ["SeismicPhasePickingPipeline", "SeismicMagnitudePipeline"]


def _as_stream(inputs, component_order: str):
    if isinstance(inputs, dict):
        if "waveforms" not in inputs or "sampling_rate" not in inputs:
            raise WaveformError("a dict input needs 'waveforms' (C, T) and 'sampling_rate' (Hz)")
        return stream_from_array(np.asarray(inputs["waveforms"]), float(inputs["sampling_rate"]),
                                 component_order=component_order, starttime=inputs.get("starttime"))  # fmt: skip
    return inputs


class _SeismicPipeline(Pipeline):
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.feature_extractor is None:
            self.feature_extractor = load_feature_extractor(self.model, amplitude=self._amplitude)

    _amplitude = False

    def _sanitize_parameters(self, overlap=None, window_batch_size=None, p_threshold=None, s_threshold=None,
                             detection_threshold=None, fill_gaps=None):  # fmt: skip
        forward = {}
        for key, value in (("overlap", overlap), ("batch_size", window_batch_size), ("p_threshold", p_threshold),
                           ("s_threshold", s_threshold), ("detection_threshold", detection_threshold)):  # fmt: skip
            if value is not None:
                forward[key] = value
        preprocess = {"fill_gaps": fill_gaps} if fill_gaps is not None else {}
        return preprocess, forward, {}

    def _ensure_tensor_on_device(self, inputs, device):
        return inputs  # records stay numpy / obspy objects; the models are moved by `annotate`


class SeismicPhasePickingPipeline(_SeismicPipeline):
    """Task "seismic-phase-picking": P/S picks and detections for a record of any length."""

    def preprocess(self, inputs, fill_gaps: str = "interpolate"):
        return {"stream": _as_stream(inputs, self.model.config.component_order), "fill_gaps": fill_gaps}

    def _forward(self, model_inputs, **forward_parameters):
        return {"annotation": annotate(model_inputs["stream"], self.model, feature_extractor=self.feature_extractor,
                                       fill_gaps=model_inputs["fill_gaps"], **forward_parameters)}  # fmt: skip

    def postprocess(self, model_outputs):
        result = model_outputs["annotation"].to_dict()
        return {"picks": result["picks"], "detections": result["detections"]}


class SeismicMagnitudePipeline(_SeismicPipeline):
    """Task "seismic-magnitude": magnitude, its 1-std uncertainty and the event probability per station."""

    _amplitude = True

    def preprocess(self, inputs, fill_gaps: str = "interpolate"):
        config = self.model.config
        stream = _as_stream(inputs, config.component_order)
        records = read_waveforms(stream, sampling_rate=config.sampling_rate, component_order=config.component_order,
                                 fill_gaps=fill_gaps, min_samples=config.window_length)  # fmt: skip
        window = config.window_length
        windows, meta = [], []
        for record in records:
            peak = int(np.abs(record.data - record.data.mean(axis=1, keepdims=True)).max(axis=0).argmax())
            start = int(np.clip(peak - int(0.4 * window), 0, record.num_samples - window))
            windows.append(record.data[:, start : start + window])
            meta.append((record.station_id, str(record.time_of(start))))
        features = self.feature_extractor(np.stack(windows), return_tensors="pt")
        return {"features": features, "meta": meta}

    @torch.no_grad()
    def _forward(self, model_inputs, **forward_parameters):
        features = model_inputs["features"]
        output = self.model(inputs=features["inputs"].to(self.model.device),
                            log_amplitude=features["log_amplitude"].to(self.model.device))  # fmt: skip
        return {"output": output, "meta": model_inputs["meta"]}

    def postprocess(self, model_outputs):
        output = model_outputs["output"]
        return [
            {
                "station": station,
                "start": start,
                "magnitude": float(output.magnitude[i]),
                "uncertainty": float(torch.exp(0.5 * output.log_variance[i])),
                "event_probability": float(torch.sigmoid(output.detection_logits[i])),
            }  # fmt: skip
            for i, (station, start) in enumerate(model_outputs["meta"])
        ]
