"""How the waveform API (`geohub.inference.waveform`) reads EQTransformer: its `WaveformSpec` fields and its output
probabilities (declared as `waveform=` in this family's `family.py`)."""

from __future__ import annotations

import numpy as np
import torch

EMPTY = (0.0, 0.0, 0.0)  # detection, P, S of a window without signal


def spec(model, setting) -> dict:
    """`WaveformSpec` fields; `setting(name, default)` reads the feature extractor, else `default`. Windows overlap
    by the extractor's `overlap` (0.3 of a window by default); picks follow the original's rule (peaks inside
    detections)."""
    config = model.config
    window = int(config.window_length)
    overlap = float(setting("overlap", 0.3))
    thresholds = {label: float(setting(name, getattr(config, name)))
                  for label, name in (("D", "detection_threshold"), ("P", "p_threshold"), ("S", "s_threshold"))}  # fmt: skip
    return {
        "code": "EQT",
        "sampling_rate": float(setting("sampling_rate", config.sampling_rate)),
        "window_length": window,
        "component_order": setting("component_order", config.component_order),
        "kind": "samples",
        "labels": ("D", "P", "S"),
        "stride": max(1, int(round(window * (1.0 - overlap)))),
        "taper": 500,
        "thresholds": thresholds,
        "picking": "eqt",
    }


def outputs(output) -> np.ndarray:
    """`(B, 3, T)` float32: detection, P and S probabilities."""
    return torch.sigmoid(output.logits.float()).cpu().numpy()
