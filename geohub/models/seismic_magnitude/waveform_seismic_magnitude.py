"""How the waveform API (`geohub.inference.waveform`) reads the magnitude model: its `WaveformSpec` fields and its
outputs (declared as `waveform=` in this family's `family.py`)."""

from __future__ import annotations

import numpy as np
import torch

EMPTY = (float("nan"), float("nan"), 0.0)  # magnitude, its standard deviation, detection: no signal, no magnitude


def spec(model, setting) -> dict:
    """`WaveformSpec` fields; `setting(name, default)` reads the feature extractor, else `default`."""
    config = model.config
    window = int(setting("window_length", config.window_length))
    return {
        "code": "MAG",
        "sampling_rate": float(setting("sampling_rate", config.sampling_rate)),
        "window_length": window,
        "component_order": setting("component_order", config.component_order),
        "kind": "regression",
        "labels": ("M", "U", "E"),
        "stride": window // 2,
        "output_offset": 0.0,
    }


def outputs(output) -> np.ndarray:
    """`(B, 3)` float32: magnitude, its standard deviation, event probability."""
    rows = [output.magnitude.float(), torch.exp(0.5 * output.log_variance.float()),
            torch.sigmoid(output.detection_logits.float())]  # fmt: skip
    return torch.stack(rows, dim=1).cpu().numpy()


def default_feature_extractor(model):
    """The family's feature extractor (with amplitudes) from the config's fields, for a folder saved without one."""
    from .processing_seismic_magnitude import SeismicMagnitudeFeatureExtractor

    config = model.config
    return SeismicMagnitudeFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length,
                                            component_order=config.component_order)  # fmt: skip
