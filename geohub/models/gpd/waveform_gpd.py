"""How the waveform API (`geohub.inference.waveform`) reads GPD: its `WaveformSpec` fields, its per-window class
probabilities and its pick rule (declared as `waveform=` in this family's `family.py`)."""

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
        "picking": picks,
    }


def outputs(output) -> np.ndarray:
    """`(B, 3)` float32 class probabilities in `config.id2label` order."""
    return torch.softmax(output.logits.float(), dim=-1).cpu().numpy()


def precision(model, precision: str):
    """The waveform API's precision hook: GPD runs bfloat16 through its own folded, frozen eval path (about 4x
    faster than float32 on CPUs with AMX/AVX512-BF16), not under autocast. Per call and thread-safe: a context
    variable (`modeling_gpd.inference_dtype`), never the shared `config.inference_dtype`; one cached path per
    dtype."""
    from .modeling_gpd import inference_dtype

    return inference_dtype("bfloat16" if precision == "bf16" else "float32")


# Copied from geohub.models.eqtransformer.waveform_eqtransformer.trigger_spans
def trigger_spans(row, on: float, off: float) -> list[tuple[int, int]]:
    """ObsPy's `trigger_onset(row, on, off)` as (first, last) index pairs; none for a row that never reaches `on` or
    holds a NaN."""
    from obspy.signal.trigger import trigger_onset

    row = np.asarray(row, dtype=np.float64)
    if not np.isfinite(row).all() or row.max(initial=0.0) < on:
        return []
    return [(int(a), int(b)) for a, b in trigger_onset(row, on, off)]


def gpd_picks(probabilities: dict, on, off: float) -> list[tuple[str, int, float]]:
    """GPD's pick rule (Ross et al. 2018, `gpd_predict.py`) on per-window class probabilities `{phase: (N,)}`:
    ObsPy `trigger_onset(probability, on, off)` per phase; a one-window trigger is dropped, as in the original; the
    pick is the arg-max inside each trigger. `on` is one threshold or one per phase. Returns [(phase, window index,
    probability)] sorted by index."""
    found = []
    for phase, values in probabilities.items():
        values = np.asarray(values, dtype=np.float64)
        for a, b in trigger_spans(values, on[phase] if isinstance(on, dict) else on, off):
            if b > a:
                best = a + int(np.argmax(values[a:b]))
                found.append((phase, best, float(values[best])))
    return sorted(found, key=lambda pick: pick[1])


def picks(annotation, thresholds: dict, feature_extractor=None):
    """The waveform API's pick hook: `gpd_picks` on one station's P and S rows (the API time-stamps each window at
    its `output_offset`, the window centre). Returns ([(phase, window index, probability)], []): GPD does not
    detect events."""
    rows = {phase: annotation.row(phase) for phase in ("P", "S")}
    return gpd_picks(rows, {phase: thresholds[phase] for phase in rows}, thresholds.get("off", 0.1)), []
