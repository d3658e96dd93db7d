"""A tiny picker and a tiny synthetic SDS archive for the `geohub annotate` tests (2 stations x 2 hours)."""

from __future__ import annotations

from pathlib import Path

import torch

START = "2024-01-01T00:00:00"
END = "2024-01-01T02:00:00"
# A random picker's S probability is near 1 almost everywhere; these thresholds keep a few hundred picks.
THRESHOLDS = ["--p-threshold", "0.85", "--s-threshold", "0.999", "--detection-threshold", "0.5"]


def save_tiny_picker(folder: Path) -> Path:
    """A randomly initialised 10 s-window picker saved with its feature extractor (no training)."""
    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    torch.manual_seed(0)
    config = SeismicPickerConfig(hidden_sizes=[4, 8, 12], window_length=1000)
    SeismicPickerForPhasePicking(config).save_pretrained(folder)
    SeismicFeatureExtractor(window_length=1000).save_pretrained(folder)
    return folder


def save_tiny_magnitude_model(folder: Path) -> Path:
    from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
    from geohub.models.seismic_picker import SeismicFeatureExtractor

    torch.manual_seed(0)
    config = SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000)
    SeismicMagnitudeForRegression(config).save_pretrained(folder)
    SeismicFeatureExtractor(window_length=1000, return_amplitude=True).save_pretrained(folder)
    return folder


def write_sds(root: Path, stations=("AAA", "BBB"), hours: float = 2.0, gaps: int = 3) -> Path:
    """Day files `YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY` of synthetic 100 Hz records with events every
    ~20 min (one right at the 1-hour chunk boundary) and `gaps` short gaps per channel."""
    import numpy as np
    from obspy import Stream

    from geohub.data.synthetic_seismic import synthetic_stream

    duration = hours * 3600.0
    for k, station in enumerate(stations):
        events = [{"time_s": t, "magnitude": 3.0, "distance_km": 30.0} for t in np.arange(300.0, duration, 1190.0)]
        events.append({"time_s": 3598.0, "magnitude": 3.5, "distance_km": 20.0})
        stream, _ = synthetic_stream(duration, events=events, seed=k, station=station, starttime=START)
        for trace in stream:
            pieces, t0 = Stream(), trace.stats.starttime
            cuts = np.linspace(0, duration, gaps + 2)[1:-1]
            edges = [0.0] + [c for cut in cuts for c in (cut, cut + 2.0)] + [duration]
            for a, b in zip(edges[::2], edges[1::2]):
                pieces += trace.slice(t0 + a, t0 + b - 0.01)
            folder = root / str(t0.year) / trace.stats.network / station / f"{trace.stats.channel}.D"
            folder.mkdir(parents=True, exist_ok=True)
            pieces.write(str(folder / f"{trace.id}.D.{t0.year}.{t0.julday:03d}"), format="MSEED", encoding="FLOAT32")
    return root
