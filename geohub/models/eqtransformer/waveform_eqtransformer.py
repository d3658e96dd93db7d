"""How the waveform API (`geohub.inference.waveform`) reads EQTransformer: its `WaveformSpec` fields, its output
probabilities and its pick rule (declared as `waveform=` in this family's `family.py`)."""

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
        "picking": picks,
        "short_record_shift": int(setting("short_record_shift", 0)),
    }


def outputs(output) -> np.ndarray:
    """`(B, 3, T)` float32: detection, P and S probabilities."""
    return torch.sigmoid(output.logits.float()).cpu().numpy()


def trigger_spans(row, on: float, off: float) -> list[tuple[int, int]]:
    """ObsPy's `trigger_onset(row, on, off)` as (first, last) index pairs; none for a row that never reaches `on` or
    holds a NaN."""
    from obspy.signal.trigger import trigger_onset

    row = np.asarray(row, dtype=np.float64)
    if not np.isfinite(row).all() or row.max(initial=0.0) < on:
        return []
    return [(int(a), int(b)) for a, b in trigger_onset(row, on, off)]


def eqt_picks(detection, p, s, thresholds: dict, *, min_detection_samples: int = 10,
              p_lead_samples: int = 100) -> dict:  # fmt: skip
    """EQTransformer's pick rule (Mousavi et al. 2020, `mseed_predictor._picker`) on `(T,)` probability rows.

    Detections are ObsPy `trigger_onset(detection, D, D)` runs of at least `min_detection_samples` samples
    (probability: their mean); every P or S probability peak above its threshold (`scipy.signal.find_peaks`) inside
    a detection is a pick (a P peak may lead its detection by `p_lead_samples`). Returns {"detections": [(start, end,
    probability)], "picks": [(phase, sample, probability)]}, picks sorted by sample.
    """
    from scipy.signal import find_peaks

    detection = np.asarray(detection, dtype=np.float64)
    triggers = trigger_spans(detection, thresholds["D"], thresholds["D"])
    spans = [(a, b) for a, b in triggers if b - a >= min_detection_samples]
    found = []
    for phase, trace, lead in (("P", p, p_lead_samples), ("S", s, 0)):
        trace = np.asarray(trace, dtype=np.float64)
        peaks, _ = find_peaks(np.nan_to_num(trace), height=thresholds[phase])
        found += [(phase, int(k), float(trace[k])) for k in peaks if any(a - lead < k < b for a, b in spans)]
    return {"detections": [(a, b, float(detection[a : b + 1].mean())) for a, b in spans],
            "picks": sorted(found, key=lambda pick: pick[1])}  # fmt: skip


def picks(annotation, thresholds: dict, feature_extractor=None):
    """The waveform API's pick hook: `eqt_picks` on one station's rows (`annotation.row("D")`, ...) with the feature
    extractor's `min_detection_samples` / `p_lead_samples` (saved with the model). Returns ([(phase, column,
    probability)], [(first column, last column, probability)])."""
    found = eqt_picks(annotation.row("D"), annotation.row("P"), annotation.row("S"), thresholds,
                      min_detection_samples=int(getattr(feature_extractor, "min_detection_samples", 10)),
                      p_lead_samples=int(getattr(feature_extractor, "p_lead_samples", 100)))  # fmt: skip
    return found["picks"], found["detections"]
