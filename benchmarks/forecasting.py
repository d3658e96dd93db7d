"""Earthquake forecasting on the EarthquakeNPP SanJac test window (2016-2017): Poisson, ETAS and the neural point
process side by side, with the published figures beside them; optionally the calibration of 7-day forecasts.

    geohub train recipes/earthquake_forecasting/config_poisson_sanjac.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/earthquake_forecasting/config_etas_sanjac.yaml --config_file recipes/accelerate_configs/cpu.yaml
    for s in 1 2 3; do geohub train recipes/earthquake_forecasting/config_npp_sanjac.yaml \
        --config_file recipes/accelerate_configs/cpu.yaml -- --seed $s \
        --output_dir runs/earthquake_forecasting/npp_sanjac_seed$s; done
    python benchmarks/forecasting.py [--runs runs/earthquake_forecasting] [--calibration] \
        [--plot recipes/earthquake_forecasting/reliability.png]

Scores are `geohub.inference.forecast.log_likelihood`: temporal log-likelihood per test event (days), every earlier
event from 2008-01-01 as conditioning. Prints one JSON line (`BENCHMARK_JSON `), then a table. Calibration: for each 7-day window of the
test period, `--num-simulations` simulated catalogues; the share of windows whose observed count (M >= 1.0) falls
inside the simulated 95 % interval, and a reliability diagram (central intervals of every level: nominal vs
observed coverage; P(at least one M >= 2.5): forecast vs observed frequency).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "earthquake-catalogs"
# EarthquakeNPP (Stockman, Lawson & Werner 2024), Experiments/ETAS/output_data_SanJac_10/ll_scores.json
PUBLISHED = {"poisson": 0.793916834108074, "etas": 1.1325267069430716}
CAP = 5_000  # events per simulated week (the test period's busiest week has a few hundred)
WINDOWS = {"auxiliary_start": "2008-01-01", "start": "2016-01-01", "end": "2018-01-01"}


def _catalog():
    from geohub.data.catalogs import read_catalog

    return read_catalog(DATA / "SanJac_catalog.csv", region=DATA / "SanJac_shape.npy").complete_above(1.0, 0.1)


def score(runs: Path, catalog) -> dict:
    """Test log-likelihood per event of every model folder found under `runs`."""
    from geohub.inference.forecast import load_forecaster, log_likelihood

    found = {"poisson": [runs / "poisson_sanjac"], "etas": [runs / "etas_sanjac"],
             "neural_point_process": sorted(runs.glob("npp_sanjac_seed*"))}  # fmt: skip
    results = {}
    for name, folders in found.items():
        folders = [f for f in folders if (f / "config.json").is_file()]
        if not folders:
            print(f"missing: {name} (train its recipe, see the module docstring)", file=sys.stderr)
            continue
        values = []
        for folder in folders:
            model = load_forecaster(folder)
            scored = log_likelihood(model, catalog, WINDOWS["start"], WINDOWS["end"], 1.0,
                                    auxiliary_start=WINDOWS["auxiliary_start"])  # fmt: skip
            values.append({"folder": str(folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder),
                           **scored})  # fmt: skip
        temporal = np.array([v["temporal"] for v in values])
        results[name] = {"runs": values, "mean": float(temporal.mean()),
                         "std": float(temporal.std(ddof=1)) if len(temporal) > 1 else 0.0,
                         "min": float(temporal.min()), "max": float(temporal.max()),
                         "n_events": values[0]["n_events"], "published": PUBLISHED.get(name)}  # fmt: skip
    return results


def _window_starts():
    start, end = np.datetime64(WINDOWS["start"], "ms"), np.datetime64(WINDOWS["end"], "ms")
    week = np.timedelta64(7, "D")
    return [start + k * week for k in range(int((end - start) / week))]


def _simulated_counts(model, catalog, starts, num_simulations: int, seed: int):
    """`(windows, simulations)` simulated counts of M >= mc, `(windows, simulations)` of M >= 2.5, and observed."""
    from geohub.data.catalogs import days_since

    origin = np.datetime64(WINDOWS["auxiliary_start"], "ms")
    keep = catalog.times >= origin
    times, mags = days_since(catalog.times[keep], origin), catalog.magnitudes[keep]
    ends = [int(np.searchsorted(times, days_since(np.array([s]), origin)[0])) for s in starts]
    contexts = model.history_contexts(times, mags, ends) if hasattr(model, "history_contexts") else [None] * len(ends)
    counts, large, observed = [], [], []
    for index, (start, end_index, context) in enumerate(zip(starts, ends, contexts)):
        a = float(days_since(np.array([start]), origin)[0])
        # the neural model's runaway draws are censored at the cap (counted, reported) instead of failing the study
        kwargs = {"context": context, "truncate": True} if context is not None else {}
        sims, _, sim_mags = model.simulate(times[:end_index], mags[:end_index], a, a + 7.0,
                                           num_simulations=num_simulations, seed=seed + index, max_events=CAP,
                                           **kwargs)  # fmt: skip
        counts.append(np.bincount(sims, minlength=num_simulations))
        large.append(np.bincount(sims[sim_mags >= 2.5 - 1e-9], minlength=num_simulations))
        inside = (times >= a) & (times < a + 7.0)
        observed.append((int(inside.sum()), int((inside & (mags >= 2.5 - 1e-9)).sum())))
    return np.array(counts), np.array(large), np.array(observed)


def calibration(runs: Path, catalog, num_simulations: int, seed: int) -> dict:
    """Coverage of the 95 % interval of 7-day counts, and the reliability curves, for ETAS and the neural model."""
    from geohub.inference.forecast import load_forecaster

    folders = {"etas": runs / "etas_sanjac", "neural_point_process": next(iter(sorted(runs.glob("npp_sanjac_seed*"))),
                                                                          runs / "missing")}  # fmt: skip
    starts = _window_starts()
    out = {}
    for name, folder in folders.items():
        if not (folder / "config.json").is_file():
            continue
        counts, large, observed = _simulated_counts(load_forecaster(folder), catalog, starts, num_simulations, seed)
        low, high = np.percentile(counts, [2.5, 97.5], axis=1)
        inside = (observed[:, 0] >= low) & (observed[:, 0] <= high)
        levels = np.arange(0.1, 1.0, 0.1)
        coverage = []
        for level in levels:
            lo, hi = np.percentile(counts, [50 * (1 - level), 50 * (1 + level)], axis=1)
            coverage.append(float(((observed[:, 0] >= lo) & (observed[:, 0] <= hi)).mean()))
        probability = (large > 0).mean(axis=1)
        out[name] = {"folder": str(folder), "windows": len(starts), "num_simulations": num_simulations,
                     "censored_share": float((counts >= CAP).mean()), "max_observed": int(observed[:, 0].max()),
                     "coverage_95": float(inside.mean()), "below": int((observed[:, 0] < low).sum()),
                     "above": int((observed[:, 0] > high).sum()), "levels": levels.round(2).tolist(),
                     "coverage": coverage, "p_large": probability.tolist(),
                     "observed_large": (observed[:, 1] > 0).astype(int).tolist()}  # fmt: skip
    return out


def plot(calibrated: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    for name, result in calibrated.items():
        left.plot(result["levels"], result["coverage"], "o-", label=f"{name} (95 %: {result['coverage_95']:.2f})")
        p, o = np.array(result["p_large"]), np.array(result["observed_large"])
        bins = np.linspace(0, 1, 6)
        which = np.clip(np.digitize(p, bins) - 1, 0, len(bins) - 2)
        used = [b for b in range(len(bins) - 1) if (which == b).any()]
        right.plot([p[which == b].mean() for b in used], [o[which == b].mean() for b in used], "o-", label=name)
    for axis in (left, right):
        axis.plot([0, 1], [0, 1], "k--", lw=1)
        axis.legend(fontsize=8)
    left.set(xlabel="nominal central interval", ylabel="share of 7-day windows inside",
             title="SanJac 2016-2017: 7-day counts, M >= 1.0")  # fmt: skip
    right.set(xlabel="forecast P(at least one M >= 2.5 in 7 days)", ylabel="observed frequency",
              title="reliability of P(M >= 2.5)")  # fmt: skip
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "earthquake_forecasting")
    parser.add_argument("--calibration", action="store_true", help="also simulate the 7-day test windows")
    parser.add_argument("--num-simulations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None, help="write the reliability diagram (PNG) here")
    args = parser.parse_args(argv)
    if not (DATA / "SanJac_catalog.csv").is_file():
        print(f"benchmarks/forecasting.py: the SanJac catalogue is not at {DATA}", file=sys.stderr)
        return 2
    catalog = _catalog()
    results = {"test_window": WINDOWS, "models": score(args.runs, catalog)}
    if args.calibration:
        results["calibration"] = calibration(args.runs, catalog, args.num_simulations, args.seed)
        if args.plot:
            plot(results["calibration"], args.plot)
    import os
    import platform

    import torch

    results["settings"] = {"catalog": str(DATA / "SanJac_catalog.csv"), "region": "SanJac_shape.npy", "mc": 1.0,
                           "delta_m": 0.1, "torch_threads": torch.get_num_threads(), "machine": platform.node(),
                           "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0],
                           "num_simulations": args.num_simulations, "seed": args.seed}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(results, sort_keys=True))
    print(f"\n{'model':<22} {'test LL/event':>14} {'spread (std, min-max)':>26} {'runs':>5} {'published':>10}")
    for name, r in results["models"].items():
        spread = f"{r['std']:.4f}, {r['min']:.4f}-{r['max']:.4f}"
        published = f"{r['published']:.3f}" if r["published"] is not None else "-"
        print(f"{name:<22} {r['mean']:>14.4f} {spread:>26} {len(r['runs']):>5} {published:>10}")
    for name, r in results.get("calibration", {}).items():
        print(f"calibration {name}: {r['coverage_95']:.3f} of {r['windows']} 7-day windows inside the 95 % interval "
              f"({r['below']} below, {r['above']} above; {r['censored_share']:.4f} of simulations reached the cap "
              f"of {CAP})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
