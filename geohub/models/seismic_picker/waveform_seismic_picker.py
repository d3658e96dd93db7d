"""How the waveform API (`geohub.inference.waveform`) reads the U-Net picker: its `WaveformSpec` fields and its
output probabilities (declared as `waveform=` in this family's `family.py`)."""

from __future__ import annotations

import numpy as np
import torch

EMPTY = (1.0, 0.0, 0.0, 0.0)  # noise, P, S, detection of a window without signal


def spec(model, setting) -> dict:
    """`WaveformSpec` fields; `setting(name, default)` reads the feature extractor, else `default`."""
    config = model.config
    window = int(setting("window_length", config.window_length))
    return {
        "code": "UNET",
        "sampling_rate": float(setting("sampling_rate", config.sampling_rate)),
        "window_length": window,
        "component_order": setting("component_order", config.component_order),
        "kind": "samples",
        "labels": ("N", "P", "S", "D"),
        "stride": window // 2,
        "taper": int(0.1 * window),
        "thresholds": {"P": config.p_threshold, "S": config.s_threshold, "D": config.detection_threshold},
        "picking": "peaks",
    }


def outputs(output) -> np.ndarray:
    """`(B, 4, T)` float32: phase probabilities (noise, P, S) and the detection probability."""
    phase = torch.softmax(output.logits.float(), dim=1)
    detection = torch.sigmoid(output.detection_logits.float())[:, None]
    return torch.cat([phase, detection], dim=1).cpu().numpy()


def default_feature_extractor(model):
    """A feature extractor from the config's fields, for a folder saved without one."""
    from .processing_seismic_picker import SeismicFeatureExtractor

    config = model.config
    return SeismicFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length,
                                   component_order=config.component_order)  # fmt: skip
