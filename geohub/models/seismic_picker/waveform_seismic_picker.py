"""How the waveform API (`geohub.inference.waveform`) reads the U-Net picker: its `WaveformSpec` fields, its output
probabilities and its pick rule (declared as `waveform=` in this family's `family.py`)."""

from __future__ import annotations

import bisect

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
        "picking": picks,
    }


def outputs(output) -> np.ndarray:
    """`(B, 4, T)` float32: phase probabilities (noise, P, S) and the detection probability."""
    phase = torch.softmax(output.logits.float(), dim=1)
    detection = torch.sigmoid(output.detection_logits.float())[:, None]
    return torch.cat([phase, detection], dim=1).cpu().numpy()


def segments(probability, threshold: float, min_length: int) -> list[tuple[int, int]]:
    """(first, last) index of each run of at least `min_length` samples with `probability >= threshold`."""
    above = np.concatenate([[False], np.asarray(probability) >= threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_length]


def drop_weaker_coincident(found: list, separation: int) -> list:
    """Of a P and an S pick `(phase, sample, probability)` within `separation` samples of each other, keep only the
    more probable. Sorted neighbour search, O(n log n): a day of picks from a noisy record must not cost n^2
    comparisons."""
    others = {phase: sorted((sample, probability) for name, sample, probability in found if name == phase)
              for phase in ("P", "S")}  # fmt: skip
    kept = []
    for phase, sample, probability in found:
        rivals = others["S" if phase == "P" else "P"]
        lo = bisect.bisect_left(rivals, (sample - separation, float("-inf")))
        hi = bisect.bisect_right(rivals, (sample + separation, float("inf")))
        if not any(other > probability for _, other in rivals[lo:hi]):
            kept.append((phase, sample, probability))
    return kept


def picks(annotation, thresholds: dict, feature_extractor=None):
    """The waveform API's pick hook (geohub U-Net): probability peaks >= threshold at least 0.5 s apart per phase; of
    a P and an S peak within 0.5 s the more probable is kept; detections are stretches >= 1 s with detection
    probability >= threshold. Returns ([(phase, sample, probability)], [(first, last sample, peak probability)])."""
    from scipy.signal import find_peaks

    rate = annotation.sampling_rate
    found = []
    for phase in ("P", "S"):
        row = annotation.row(phase)
        peaks, _ = find_peaks(row, height=thresholds[phase], distance=max(1, int(0.5 * rate)))
        found += [(phase, int(i), float(row[i])) for i in peaks]
    found = drop_weaker_coincident(found, int(0.5 * rate))
    row = annotation.row("D")
    detections = [(a, b, float(row[a : b + 1].max())) for a, b in segments(row, thresholds["D"], int(1.0 * rate))]
    return found, detections


def default_feature_extractor(model):
    """A feature extractor from the config's fields, for a folder saved without one."""
    from .processing_seismic_picker import SeismicFeatureExtractor

    config = model.config
    return SeismicFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length,
                                   component_order=config.component_order)  # fmt: skip
