"""Detection F1 and P/S pick errors of the geohub picker next to ObsPy's classical pickers, on held-out real data.

    python benchmarks/seismic_picking.py --model runs/seismic_picking/phasenet \
        --data ../shared/data/phasenet-ncedc [--repeats 5] [--seed 123]

Data: the PhaseNet NCEDC records, split by station exactly as `recipes/seismic_picking/config_phasenet.yaml`
(split_seed 0, validation 0.15, test 0.2); the test stations are never seen in training. Each test record gives
`--repeats` 30 s windows with the P arrival at a random position (5-85% of the window) or, with probability 0.25,
a noise window cut before P.

Rows (same windows, same scoring, one run):
- geohub: the picker's window-level detection (max detection probability >= threshold) and P/S picks (highest
  probability >= threshold), thresholds tuned for F1 on the validation stations' windows (the config's defaults
  in the row "geohub (config thresholds)");
- sta_lta: `recursive_sta_lta` (0.5 s / 5 s, on the 1-20 Hz band-passed Z) + `trigger_onset`; the threshold is
  tuned for detection F1 on the same validation windows; the first trigger onset is the P pick;
- sta_lta+ar_pick: windows triggered by sta_lta picked by the AR-AIC picker `ar_pick` (Leonard & Kennett) for P
  and S;
- sta_lta+pk_baer: windows triggered by sta_lta picked by the Baer-Kradolfer picker `pk_baer` for P.
A pick counts when within 0.5 s of the analyst pick; MAE/RMSE are over those picks (geohub/metrics/seismic_picking).
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
from geohub.inference.seismic import load_feature_extractor  # noqa: E402
from geohub.models.seismic_picker import SeismicPickerForPhasePicking  # noqa: E402
from geohub.training.seismic import cut_windows, load_picking_metric, window_picks  # noqa: E402

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
        tp, fp, fn = (detected & labels).sum(), (detected & ~labels).sum(), (~detected & labels).sum()
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
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


@torch.no_grad()
def geohub_probabilities(model, extractor, windows: np.ndarray, batch_size: int = 64):
    """(P probabilities `(N, T)`, S probabilities `(N, T)`, window detection probability `(N,)`)."""
    rows = []
    for start in range(0, len(windows), batch_size):
        inputs = extractor(windows[start : start + batch_size], return_tensors="pt")["inputs"]
        output = model(inputs=inputs)
        phase = torch.softmax(output.logits, dim=1).numpy()
        detection = torch.sigmoid(output.detection_logits).amax(dim=-1).numpy()
        rows.append((phase[:, 1], phase[:, 2], detection))
    return tuple(np.concatenate(parts) for parts in zip(*rows))


def _f1(predicted: np.ndarray, reference: np.ndarray, tolerance: int | None = None) -> float:
    if tolerance is None:
        tp, fp, fn = (predicted & reference).sum(), (predicted & ~reference).sum(), (~predicted & reference).sum()
    else:
        hit = (predicted >= 0) & (reference >= 0) & (np.abs(predicted - reference) <= tolerance)
        tp, fp, fn = hit.sum(), ((predicted >= 0) & ~hit).sum(), ((reference >= 0) & ~hit).sum()
    return 2 * tp / max(1, 2 * tp + fp + fn)


def tune_geohub_thresholds(probabilities, data) -> dict[str, float]:
    """Detection, P and S thresholds with the best F1 on the given (validation) windows."""
    p_prob, s_prob, det = probabilities
    grid = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    labels = np.asarray(data["label"]) > 0
    ref_p, ref_s = np.asarray(data["p_arrival_sample"]), np.asarray(data["s_arrival_sample"])
    tolerance = int(0.5 * RATE)
    return {
        "detection": max(grid, key=lambda t: _f1(det >= t, labels)),
        "p": max(grid, key=lambda t: _f1(window_picks(p_prob, t), ref_p, tolerance)),
        "s": max(grid, key=lambda t: _f1(window_picks(s_prob, t), ref_s, tolerance)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/seismic_picking/phasenet")
    parser.add_argument("--data", default="../shared/data/phasenet-ncedc")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"real data folder {args.data} is absent (the PhaseNet NCEDC set, see ../shared/data/README.md)")
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        sys.exit(f"no trained picker at {args.model}: run recipes/seismic_picking (see its README) first")
    torch.set_num_threads(args.threads)
    splits = split_by_group(
        from_phasenet_npz(args.data), by="station_id", validation_fraction=0.15, test_fraction=0.2, seed=0
    )
    test = cut_windows(splits["test"], 3000, repeats=args.repeats, seed=args.seed, noise_probability=0.25).with_format(
        "numpy"
    )
    validation = cut_windows(
        splits["validation"], 3000, repeats=args.repeats, seed=args.seed + 1, noise_probability=0.25
    )
    validation = validation.with_format("numpy")
    windows = np.asarray(test["waveforms"], dtype=np.float32)
    ref_p, ref_s = np.asarray(test["p_arrival_sample"]), np.asarray(test["s_arrival_sample"])
    ref_det = np.asarray(test["label"]) > 0
    metric = load_picking_metric()

    def score(det, p, s):
        scores = metric.compute(predicted_detection=det.astype(int), reference_detection=ref_det.astype(int),
                                predicted_p=p, reference_p=ref_p, predicted_s=s, reference_s=ref_s, sampling_rate=RATE)  # fmt: skip
        return {k: float(v) for k, v in scores.items()}

    model = SeismicPickerForPhasePicking.from_pretrained(args.model).eval()
    extractor = load_feature_extractor(model)
    validation_windows = np.asarray(validation["waveforms"], dtype=np.float32)
    thresholds = tune_geohub_thresholds(geohub_probabilities(model, extractor, validation_windows), validation)
    timings, results = {}, {}
    start = time.perf_counter()
    p_prob, s_prob, det_prob = geohub_probabilities(model, extractor, windows)
    timings["geohub"] = time.perf_counter() - start
    results["geohub"] = score(det_prob >= thresholds["detection"], window_picks(p_prob, thresholds["p"]),
                              window_picks(s_prob, thresholds["s"]))  # fmt: skip
    config = model.config
    results["geohub (config thresholds)"] = score(det_prob >= config.detection_threshold,
                                                  window_picks(p_prob, config.p_threshold),
                                                  window_picks(s_prob, config.s_threshold))  # fmt: skip

    threshold = tune_threshold(sta_lta_onsets(validation_windows), np.asarray(validation["label"]) > 0)
    start = time.perf_counter()
    sta_p = sta_lta_picks(sta_lta_onsets(windows), threshold)
    timings["sta_lta"] = time.perf_counter() - start
    triggered = sta_p >= 0
    none = np.full(len(windows), -1)
    results["sta_lta"] = score(triggered, sta_p, none)
    start = time.perf_counter()
    ar_p, ar_s = ar_picks(windows, triggered)
    timings["sta_lta+ar_pick"] = timings["sta_lta"] + time.perf_counter() - start
    results["sta_lta+ar_pick"] = score(triggered, ar_p, ar_s)
    start = time.perf_counter()
    baer_p = baer_picks(windows, triggered)
    timings["sta_lta+pk_baer"] = timings["sta_lta"] + time.perf_counter() - start
    results["sta_lta+pk_baer"] = score(triggered, baer_p, none)

    record = {
        "benchmark": "seismic_picking",
        "data": os.path.abspath(args.data),
        "split": "test stations (split_by_group station_id, seed 0, test 0.2)",
        "test_records": len(splits["test"]),
        "windows": int(len(windows)),
        "event_windows": int(ref_det.sum()),
        "repeats": args.repeats,
        "seed": args.seed,
        "threads": args.threads,
        "machine": platform.machine(),
        "model": args.model,
        "sta_lta_threshold": threshold,
        "geohub_thresholds": thresholds,
        "seconds": timings,
        "results": results,
    }
    print("BENCHMARK_JSON " + json.dumps(record, default=float))
    header = f"{'method':<28}{'det P':>7}{'det R':>7}{'det F1':>8}{'P rec':>7}{'P MAE s':>9}{'P RMSE s':>10}{'S rec':>7}{'S MAE s':>9}{'S RMSE s':>10}"
    print(f"{len(windows)} windows ({int(ref_det.sum())} with events) from {len(splits['test'])} held-out records")
    print(header)
    for name, r in results.items():
        print(f"{name:<28}{r['detection_precision']:>7.3f}{r['detection_recall']:>7.3f}{r['detection_f1']:>8.3f}"
              f"{r['p_recall']:>7.3f}{r['p_mae_s']:>9.3f}{r['p_rmse_s']:>10.3f}{r['s_recall']:>7.3f}"
              f"{r['s_mae_s']:>9.3f}{r['s_rmse_s']:>10.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
