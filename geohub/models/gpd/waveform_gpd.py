"""How the waveform API (`geohub.inference.waveform`) reads GPD: its `WaveformSpec` fields and its per-window class
probabilities (declared as `waveform=` in this family's `family.py`)."""

from __future__ import annotations

import numpy as np
import torch

EMPTY = (0.0, 0.0, 1.0)  # P, S, noise of a window without signal


def spec(model, setting) -> dict:
    """`WaveformSpec` fields; `setting(name, default)` reads the feature extractor, else `default`. One class vector
    per window every `stride` samples, time-stamped at the window's centre; picks by `trigger_onset` as the
    original (threshold 0.994)."""
    config = model.config
    window = int(setting("window_length", getattr(config, "window_length", 400)))
    labels = tuple(config.id2label[i] for i in range(len(config.id2label)))
    threshold = float(setting("trigger_threshold", 0.994))
    return {
        "code": "GPD",
        "sampling_rate": float(setting("sampling_rate", getattr(config, "sampling_rate", 100.0))),
        "window_length": window,
        "component_order": setting("component_order", getattr(config, "component_order", "NEZ")),
        "kind": "windows",
        "labels": tuple("N" if label.lower() == "noise" else label[:1].upper() for label in labels),
        "stride": int(setting("stride", 10)),
        "output_offset": float(setting("pick_offset_samples", window // 2)),
        "thresholds": {"P": threshold, "S": threshold, "off": float(setting("trigger_off_threshold", 0.1))},
        "picking": "gpd",
    }


def outputs(output) -> np.ndarray:
    """`(B, 3)` float32 class probabilities in `config.id2label` order."""
    return torch.softmax(output.logits.float(), dim=-1).cpu().numpy()
