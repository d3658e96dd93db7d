"""The "seismic-denoising" transformers pipeline: an ObsPy record in, the denoised `obspy.Stream` out.

    from transformers import pipeline
    import geohub  # registers the task

    denoiser = pipeline("seismic-denoising", model="runs/seismic_denoiser/phasenet_noise")
    clean = denoiser("record.mseed")          # or an obspy.Stream / Trace, or {"waveforms": (C, T), "sampling_rate"}
    clean = denoiser(stream, overlap=0.25)    # window overlap fraction (default 0.5)
    cleans = denoiser(["a.mseed", "b.mseed"], batch_size=16)   # a list: one Stream per input

The transformers contract, on the helpers of `geohub.inference.denoise` (so the samples equal `denoise()`'s):
`preprocess` reads the record (one record per station at the model's rate and component order) and yields one
window `(1, C, W)` per item (`ChunkPipeline`), so `batch_size` batches windows, across stations and inputs;
`_forward` standardises the windows with the feature extractor, runs the model and scales the output back to the
data's units; `postprocess` overlap-adds each station's windows (Hann weights) and returns one `obspy.Stream` with a
trace per recorded input trace (same id and start time, resampled back to the input's rate). `return_noise=True`
returns `{"denoised": Stream, "noise": Stream}` instead. `fill_gaps` is passed to the reader.

`explain=True` (integrated gradients; or `"saliency"` / `"input_x_gradient"`, with `explain_steps=` /
`explain_max_steps=`) returns `{"denoised": Stream, "explanation": [...]}` (plus `"noise"` with `return_noise`):
per station, the denoised output at the record's largest denoised sample (`peak_time`, component and sample in
`target`) attributed per sample of the standardised input window that holds it most centrally, as an
`obspy.Stream` (channel `ATTR_<component>`) with the method, output, completeness gap and steps
(`geohub.explain.explanation_entry`). Without `explain` the result is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from transformers.pipelines.base import no_collate_fn
from transformers.pipelines.pt_utils import PipelineChunkIterator, PipelineIterator, PipelinePackIterator

from ..errors import WaveformError
from ..explain import attribution_stream, explain_denoised_peak, explanation_entry, pipeline_settings
from ..inference.denoise import denoise_windows, load_denoiser, overlap_add, read_records, record_traces, window_plan
from ..models.seismic_denoiser import SeismicDenoiserFeatureExtractor
from .seismic import WaveformChunkPipeline, as_stream

__all__ = ["SeismicDenoisingPipeline"]


def _collate(items: list[dict]) -> dict:
    """A batch of window items -> lists per key (windows of different stations may differ in length)."""
    return {key: [item[key] for item in items] for key in ("denoised_input", "meta", "is_last")}


class SeismicDenoisingPipeline(WaveformChunkPipeline):
    """Task "seismic-denoising": the denoised `obspy.Stream` of a record (see the module docstring)."""

    default_batch_size = 16

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        folder = getattr(self.model, "name_or_path", None)
        extractor = self.feature_extractor
        if extractor is None and folder and (Path(folder) / "preprocessor_config.json").is_file():
            extractor = SeismicDenoiserFeatureExtractor.from_pretrained(folder)  # the saved one, else the config's
        self.model, self.feature_extractor = load_denoiser(self.model, extractor)

    def _sanitize_parameters(self, overlap=None, fill_gaps=None, return_noise=None, explain=None, explain_steps=None,
                             explain_max_steps=None):  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        preprocess = {}
        if overlap is not None:
            if not 0.0 <= overlap < 1.0:
                raise WaveformError(f"overlap {overlap}", field="overlap", expected="in [0, 1)")
            preprocess["overlap"] = float(overlap)
        if fill_gaps is not None:
            preprocess["fill_gaps"] = fill_gaps
        postprocess = {"return_noise": bool(return_noise)} if return_noise is not None else {}
        return preprocess, {}, {**postprocess, "explain": settings}

    def get_iterator(self, inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params):
        """As `ChunkPipeline.get_iterator`, with a collate that needs no padding value (every batch size)."""
        from torch.utils.data import DataLoader

        dataset = PipelineChunkIterator(inputs, self.preprocess, preprocess_params)
        collate = _collate if batch_size > 1 else no_collate_fn  # batch 1: transformers does not unbatch
        loader = DataLoader(dataset, num_workers=min(num_workers, 1), batch_size=batch_size, collate_fn=collate)
        windows = PipelinePackIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(windows, self.postprocess, postprocess_params)

    def preprocess(self, inputs, overlap: float = 0.5, fill_gaps: str = "interpolate"):
        extractor = self.feature_extractor
        records, rates = read_records(as_stream(inputs, extractor.component_order), extractor, fill_gaps)
        for r, record in enumerate(records):
            data = np.asarray(record.data, dtype=np.float32)
            starts, window = window_plan(data.shape[-1], extractor.window_length, overlap)
            meta = {"record": record, "starts": starts, "rates": rates}
            for i, start in enumerate(starts):
                yield {
                    "denoised_input": np.ascontiguousarray(data[:, start : start + window]),
                    "meta": meta if i == 0 else None,
                    "is_last": r == len(records) - 1 and i == len(starts) - 1,
                }  # fmt: skip

    def _forward(self, model_inputs):
        windows = model_inputs.pop("denoised_input")
        batched = isinstance(windows, list)
        windows = windows if batched else [windows]
        denoised: list = [None] * len(windows)
        for shape in {w.shape for w in windows}:  # one model call per window length (stations shorter than one)
            rows = [i for i, w in enumerate(windows) if w.shape == shape]
            for i, values in zip(rows, denoise_windows(np.stack([windows[i] for i in rows]), self.model,
                                                       self.feature_extractor)):  # fmt: skip
                denoised[i] = values
        return {"denoised": denoised if batched else denoised[0][None], **model_inputs}

    def postprocess(self, model_outputs, return_noise: bool = False, explain: dict | None = None):
        import obspy

        groups = []
        for item in model_outputs:
            if item["meta"] is not None:
                groups.append((item["meta"], []))
            groups[-1][1].append(np.asarray(item["denoised"])[0])
        clean, noise, explanations = obspy.Stream(), obspy.Stream(), []
        model_type = self.model.config.model_type
        for meta, windows in groups:
            record = meta["record"]
            values = overlap_add(windows, meta["starts"], record.num_samples)
            clean.extend(record_traces(record, values, meta["rates"], model_type))
            if return_noise:
                noise.extend(record_traces(record, record.data - values, meta["rates"], model_type))
            if explain is not None:
                e = explain_denoised_peak(
                    record, values, meta["starts"], self.model, self.feature_extractor, **explain
                )
                explanations.append(explanation_entry(e, attribution_stream(e, self.feature_extractor.component_order),
                                                      station=record.station_id, peak_time=e.extra["peak_time"]))  # fmt: skip
        if explain is None:
            return {"denoised": clean, "noise": noise} if return_noise else clean
        return {"denoised": clean, **({"noise": noise} if return_noise else {}), "explanation": explanations}
