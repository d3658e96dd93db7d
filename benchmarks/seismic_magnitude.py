"""Magnitude MAE and residual standard deviation of the geohub magnitude model on held-out synthetic events, next
to a classical local-magnitude estimate on the same windows.

    python benchmarks/seismic_magnitude.py --model runs/seismic_magnitude/synthetic [--windows 2000] [--seed 777]

Data: `generate_synthetic_windows` with a seed never used in training (recipes train on seed 0 and evaluate on
10000 / 20000), events only. Rows:
- geohub: the CNN + BiLSTM magnitude and its predicted 1-std uncertainty (fraction of residuals inside +-1 std
  reported as `coverage_1sigma`, about 0.68 when calibrated);
- ml_true_distance: ML from the peak horizontal amplitude with the Hutton & Boore (1987) distance correction and the
  TRUE hypocentral distance (an oracle the model does not get), the classical reference;
- ml_sp_distance: the same ML with the distance estimated from the S-P time (true picks, vp 6.0, vp/vs 1.73),
  what a classical single-station workflow would do.
MagNet (Mousavi & Beroza 2020) reports a residual std of about 0.2 on STEAD.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.data.synthetic_seismic import generate_synthetic_windows  # noqa: E402
from geohub.inference.seismic import load_feature_extractor  # noqa: E402
from geohub.models.seismic_magnitude import SeismicMagnitudeForRegression  # noqa: E402


def local_magnitude(waveforms: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """ML = log10(peak horizontal amplitude, mm) + 1.11 log10(R/100) + 0.00189 (R - 100) + 3."""
    horizontal = waveforms[:, 1:] - waveforms[:, 1:].mean(axis=-1, keepdims=True)
    peak = np.abs(horizontal).max(axis=(1, 2))
    r = np.maximum(distance_km, 1.0)
    return np.log10(peak) + 1.11 * np.log10(r / 100.0) + 0.00189 * (r - 100.0) + 3.0


def summary(residual: np.ndarray) -> dict[str, float]:
    return {"mae": float(np.abs(residual).mean()), "residual_std": float(residual.std()),
            "mean_residual": float(residual.mean()), "count": int(residual.size)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/seismic_magnitude/synthetic")
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        sys.exit(f"no trained magnitude model at {args.model}: run recipes/seismic_magnitude (see its README) first")
    torch.set_num_threads(args.threads)
    model = SeismicMagnitudeForRegression.from_pretrained(args.model).eval()
    extractor = load_feature_extractor(model, amplitude=True)
    batch = generate_synthetic_windows(args.windows, seed=args.seed, noise_fraction=0.0,
                                       window_length=model.config.window_length)  # fmt: skip
    waveforms, truth = batch["waveforms"], batch["magnitude"].astype(np.float64)
    predicted, sigma = [], []
    with torch.inference_mode():
        for start in range(0, len(waveforms), 128):
            features = extractor(waveforms[start : start + 128], return_tensors="pt")
            output = model(inputs=features["inputs"], log_amplitude=features["log_amplitude"])
            predicted.append(output.magnitude.numpy())
            sigma.append(torch.exp(0.5 * output.log_variance).numpy())
    predicted, sigma = np.concatenate(predicted), np.concatenate(sigma)
    residual = predicted - truth
    results = {"geohub": summary(residual)}
    results["geohub"]["coverage_1sigma"] = float((np.abs(residual) <= sigma).mean())
    results["geohub"]["mean_predicted_std"] = float(sigma.mean())
    results["ml_true_distance"] = summary(local_magnitude(waveforms, batch["distance_km"]) - truth)
    has_s = batch["s_sample"] >= 0
    sp_seconds = (batch["s_sample"] - batch["p_sample"]) / 100.0
    distance_sp = sp_seconds * 6.0 / (1.73 - 1.0)
    results["ml_sp_distance"] = summary((local_magnitude(waveforms, distance_sp) - truth)[has_s])
    results["ml_sp_distance"]["note"] = "windows whose S arrival is inside the window"
    record = {
        "benchmark": "seismic_magnitude",
        "data": f"synthetic, seed {args.seed}, {args.windows} event windows, M 0.5-4.5, 5-120 km",
        "model": args.model,
        "threads": args.threads,
        "machine": platform.machine(),
        "results": results,
    }
    print("BENCHMARK_JSON " + json.dumps(record))
    print(f"{'method':<20}{'MAE':>8}{'resid std':>11}{'mean resid':>12}{'n':>7}")
    for name, r in results.items():
        print(f"{name:<20}{r['mae']:>8.3f}{r['residual_std']:>11.3f}{r['mean_residual']:>12.3f}{r['count']:>7}")
    print(f"geohub 1-sigma coverage {results['geohub']['coverage_1sigma']:.2f} "
          f"(mean predicted std {results['geohub']['mean_predicted_std']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
