"""Seismic denoising of ObsPy streams with a `SeismicDenoiserForDenoising`.

    from geohub.inference.denoise import denoise
    clean = denoise(stream, "runs/seismic_denoiser/phasenet_noise")       # obspy.Stream in, obspy.Stream out
    clean, noise = denoise("record.mseed", model, return_noise=True)

How a record goes through:
1. `geohub.data.waveforms.read_waveforms`: one record per station, resampled to the model's rate (ObsPy's
   anti-aliased resampling), components in the model's order (a missing component is zeros and is not returned);
2. windows of `window_length` samples every `window_length * (1 - overlap)` samples (the last one aligned with the
   record's end; a record shorter than one window is one window), each standardised by the feature extractor;
3. the model's denoised windows, scaled back to the data's units, are averaged where they overlap with Hann
   weights;
4. one output trace per recorded input trace (same id and start time), resampled back to the input's sampling
   rate when it differs from the model's, with `"denoised"` added to `stats.processing`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.waveforms import load_stream, read_waveforms, resample_trace
from ..errors import WaveformError

__all__ = [
    "denoise",
    "denoise_array",
    "load_denoiser",
    "check_denoiser_folder",
    "write_stream",
    "denoise_windows",
    "overlap_add",
    "record_traces",
    "read_records",
    "window_plan",
]


DENOISER_FAMILY = "seismic_denoiser"


def load_denoiser(model: Any, feature_extractor: Any = None) -> tuple[Any, Any]:
    """(model in eval mode, feature extractor) from a folder, or from objects (the extractor from the config)."""
    from ..models.seismic_denoiser import SeismicDenoiserFeatureExtractor
    from .loading import check_family, load_model_and_processor, resolve_source

    if isinstance(model, (str, os.PathLike)):  # the one loader: a model folder, a Hub repo id or an export folder
        folder = resolve_source(model, WaveformError)
        model, _ = load_model_and_processor(folder, family=DENOISER_FAMILY, error=WaveformError, processor=False)
        if feature_extractor is None and (folder / "preprocessor_config.json").is_file():
            feature_extractor = SeismicDenoiserFeatureExtractor.from_pretrained(os.fspath(folder))
    elif getattr(model, "config", None) is None:
        raise WaveformError("the model is not a seismic denoiser (it has no config)", field="model",
                            expected="a seismic denoiser model or folder")  # fmt: skip
    else:
        check_family(model.config, DENOISER_FAMILY, error=WaveformError)
    if feature_extractor is None:
        feature_extractor = SeismicDenoiserFeatureExtractor.from_config(model.config)
    if hasattr(model, "eval"):
        model.eval()
    return model, feature_extractor


def check_denoiser_folder(folder: str | os.PathLike) -> None:
    """Raise a `WaveformError` naming `folder` unless it holds a saved seismic denoiser (cheap: reads config.json)."""
    from .loading import check_family, read_config

    config = read_config(folder, error=WaveformError)
    check_family(config, DENOISER_FAMILY, path=Path(folder) / "config.json", error=WaveformError, field="model_type")


def write_stream(stream, path: str | os.PathLike, format: str = "MSEED") -> Path:
    """Write an `obspy.Stream` to `path` in one atomic step (nothing half-written on failure) -> `path`."""
    import io

    from ..atomic import atomic_write_bytes

    buffer = io.BytesIO()
    stream.write(buffer, format=format)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _window_starts(length: int, window: int, step: int) -> list[int]:
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, step))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def denoise_array(data: np.ndarray, model: Any, feature_extractor: Any, *, overlap: float = 0.5,
                  batch_size: int = 16) -> np.ndarray:  # fmt: skip
    """Denoise one record `(C, T)` (at the model's rate, in the model's component order) -> `(C, T)` float32."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2 or data.shape[-1] < feature_extractor.n_fft:
        raise WaveformError(f"record of shape {data.shape}", field="data",
                            expected=f"(channels, samples >= {feature_extractor.n_fft})")  # fmt: skip
    length = data.shape[-1]
    starts, window = window_plan(length, feature_extractor.window_length, overlap)
    batches = []
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        batches.extend(denoise_windows(np.stack([data[:, s : s + window] for s in chunk]), model, feature_extractor))
    return overlap_add(batches, starts, length)


def window_plan(length: int, window_length: int, overlap: float) -> tuple[list[int], int]:
    """(window starts, window samples) covering a record of `length` samples; the last window ends at its end."""
    if not 0.0 <= overlap < 1.0:
        raise WaveformError(f"overlap {overlap}", field="overlap", expected="in [0, 1)")
    window = min(window_length, length)
    return _window_starts(length, window, max(1, int(round(window * (1.0 - overlap))))), window


def read_records(stream_or_path, feature_extractor: Any, fill_gaps: str = "interpolate") -> tuple[list, dict]:
    """(records at the model's rate and component order, {trace id: input sampling rate}) of a Stream/Trace/path
    (a missing or unreadable file is a `WaveformError` naming it)."""
    original = load_stream(stream_or_path)
    records = read_waveforms(original, sampling_rate=feature_extractor.sampling_rate,
                             component_order=feature_extractor.component_order, fill_gaps=fill_gaps,
                             min_samples=feature_extractor.n_fft)  # fmt: skip
    return records, {trace.id: float(trace.stats.sampling_rate) for trace in original}


def denoise_windows(windows: np.ndarray, model: Any, feature_extractor: Any) -> np.ndarray:
    """Windows `(B, C, W)` in data units -> denoised windows `(B, C, W)` float32 in data units (one model call)."""
    features = feature_extractor(np.asarray(windows, dtype=np.float32), return_tensors="pt")
    inputs = features["inputs"]
    device = getattr(model, "device", None)
    with torch.no_grad():
        output = model(inputs=inputs.to(device) if isinstance(device, torch.device) else inputs)
    denoised = output["denoised"] if isinstance(output, dict) or hasattr(output, "keys") else output[0]
    return np.asarray(torch.as_tensor(denoised).float().cpu()) * features["scale"].numpy()


def overlap_add(windows, starts: list[int], length: int) -> np.ndarray:
    """Denoised windows `(C, W)` starting at `starts` -> one record `(C, length)`, Hann-weighted where they overlap."""
    window = windows[0].shape[-1]
    weight = np.hanning(window + 2)[1:-1].astype(np.float32) if len(starts) > 1 else np.ones(window, np.float32)
    total = np.zeros((windows[0].shape[0], length), dtype=np.float32)
    norm = np.zeros(length, dtype=np.float32)
    for start, values in zip(starts, windows):
        total[:, start : start + window] += values * weight
        norm[start : start + window] += weight
    return total / np.maximum(norm, 1e-6)


def record_traces(record, values: np.ndarray, rates: dict[str, float], model_type: str) -> list:
    """`obspy.Trace`s of `values` `(C, T)` for each recorded channel of `record` (same id and start), resampled
    back to the input trace's rate in `rates` (by trace id) when it differs from the model's."""
    import obspy

    network, station, location = (record.station_id.split(".") + ["", "", ""])[:3]
    traces = []
    for row, channel in enumerate(record.channels):
        if not channel:
            continue
        trace = obspy.Trace(values[row].astype(np.float64))
        trace.stats.update({"network": network, "station": station, "location": location, "channel": channel,
                            "starttime": record.starttime, "sampling_rate": record.sampling_rate})  # fmt: skip
        rate = rates.get(trace.id, record.sampling_rate)
        if abs(rate - record.sampling_rate) > 1e-9:
            resample_trace(trace, rate)
        trace.stats.processing = [f"geohub: denoised ({model_type})"]
        traces.append(trace)
    return traces


def denoise(stream_or_path, model: Any, feature_extractor: Any = None, *, overlap: float = 0.5,
            batch_size: int = 16, fill_gaps: str = "interpolate", return_noise: bool = False):  # fmt: skip
    """Denoise every station of an `obspy.Stream` (or any file ObsPy reads) -> `obspy.Stream` (see module docstring).

    With `return_noise=True` returns `(denoised, noise)` streams, `noise = input - denoised` at the model's rate
    resampled like the output.
    """
    import obspy

    model, feature_extractor = load_denoiser(model, feature_extractor)
    records, rates = read_records(stream_or_path, feature_extractor, fill_gaps)
    denoised, noise = obspy.Stream(), obspy.Stream()
    for record in records:
        clean = denoise_array(record.data, model, feature_extractor, overlap=overlap, batch_size=batch_size)
        denoised.extend(record_traces(record, clean, rates, model.config.model_type))
        if return_noise:
            noise.extend(record_traces(record, record.data - clean, rates, model.config.model_type))
    return (denoised, noise) if return_noise else denoised
