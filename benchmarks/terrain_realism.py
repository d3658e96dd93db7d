"""Terrain realism: the trained GAN vs the spectral-synthesis baseline, both against held-out real DEM patches.

    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32
    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32 --geotiff my_dem.tif
    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32 --landform-model runs/landform/synthetic

Real patches come from the same DEM and split as the GAN's training (`load_gan_patches` with the recipe's
defaults: matplotlib's Jacksboro DEM, bottom 25 % of rows held out, never seen in training). The baseline is
spectral synthesis (`spectral_terrain`) with the power-law exponent measured on the TRAINING patches and, per
patch, the (minimum, relief) pair of a random training patch, so both generators see the same training data.
With `--geotiff`, its patches (resampled to the model's grid spacing) are scored as a second reference set.
With `--landform-model`, a Frechet distance on the landform CNN's pooled features is added (FID-style).
Also timed: generation throughput (patches/s, one CPU thread, median of repeats) of both generators.
Hillshade PNGs of 4 x 4 mosaics (GAN, baseline, real) are written to `--output-dir`.

Prints one `BENCHMARK_JSON {...}` line, then a table; lower distances are better.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DISTANCES = ("wasserstein_elevation_m", "wasserstein_slope_deg", "wasserstein_curvature_per_km")


def baseline_generator(train: np.ndarray, beta: float, size: int):
    """Spectral-synthesis baseline fitted to the training patches: returns `generate(n, seed) -> (n, size, size)`."""
    from geohub.data.synthetic_terrain import spectral_terrain

    minima = train.min(axis=(1, 2))
    reliefs = train.max(axis=(1, 2)) - minima

    def generate(count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        picks = rng.integers(len(train), size=count)
        return np.stack(
            [spectral_terrain(size, beta, relief_m=float(reliefs[i]), base_m=float(minima[i]), rng=rng) for i in picks]
        )

    return generate


def throughput(generate, count: int, repeats: int = 5) -> float:
    """Median patches per second of `generate(count, seed)` over `repeats` timed runs (after one warm-up)."""
    generate(count, 0)
    rates = []
    for repeat in range(repeats):
        start = time.perf_counter()
        generate(count, repeat + 1)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def mosaic(patches: np.ndarray, side: int = 4) -> np.ndarray:
    rows = [np.concatenate(list(patches[r * side : (r + 1) * side]), axis=1) for r in range(side)]
    return np.concatenate(rows, axis=0)


def landform_features(model, processor, patches: np.ndarray, spacing_m: float) -> np.ndarray:
    """Pooled landform-CNN features `(N, F)` of patches resampled to the classifier's spacing (central window)."""
    size = model.config.image_size
    windows = []
    for patch in patches:
        resampled = processor.resample(patch, spacing_m)
        top, left = (resampled.shape[0] - size) // 2, (resampled.shape[1] - size) // 2
        windows.append(resampled[top : top + size, left : left + size])
    with torch.no_grad():
        return model(pixel_values=processor(np.stack(windows))["pixel_values"]).pooler_output.numpy()


def geotiff_reference(path: str, spacing_m: float, size: int) -> np.ndarray:
    from geohub.data.dem import read_dem, tile_dem
    from geohub.models.terrain_gan import TerrainProcessor

    dem = read_dem(path).square_cells()
    processor = TerrainProcessor(spacing_m=spacing_m)
    elevation = processor.resample(np.nan_to_num(dem.elevation, nan=np.nan), dem.spacing_m[0])
    return tile_dem(elevation, size, size // 2)


def score(metric, generated: dict, reference: np.ndarray, spacing: float, landform_model: str | None) -> dict:
    """Realism figures of each generated set against `reference` (+ Frechet on landform features if a model)."""
    from geohub.inference.terrain import load_terrain_model

    features = {}
    if landform_model:
        classifier, classifier_processor = load_terrain_model(landform_model)
        for name, patches in {**generated, "reference": reference}.items():
            features[name] = landform_features(classifier, classifier_processor, patches, spacing)
    results = {}
    for name, patches in generated.items():
        extra = {}
        if features:
            extra = {"predictions_features": features[name], "references_features": features["reference"]}
        results[name] = metric.compute(predictions=patches, references=reference, spacing_m=spacing, **extra)
    return results


def print_table(results: dict, rates: dict, summary: dict) -> None:
    """The readable table after the JSON line."""
    size = summary["patch_size"]
    print(f"\nheld-out real patches: {summary['num_patches']} x {size}x{size} at {summary['spacing_m']:.1f} m "
          f"({summary['dem']}, bottom 25 % of rows)")  # fmt: skip
    header = (f"{'generator':<20}{'W elev (m)':>12}{'W slope (deg)':>15}{'W curv (1/km)':>15}{'beta':>8}"
              f"{'FD landform':>13}{'patches/s':>12}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, scores in results.items():
        rate = f"{rates[name]:.0f}" if name in rates else "-"
        frechet = f"{scores['frechet_distance']:.3f}" if "frechet_distance" in scores else "-"
        print(f"{name:<20}{scores['wasserstein_elevation_m']:>12.2f}{scores['wasserstein_slope_deg']:>15.3f}"
              f"{scores['wasserstein_curvature_per_km']:>15.3f}{scores['spectral_slope_predictions']:>8.2f}"
              f"{frechet:>13}{rate:>12}")  # fmt: skip
    print(f"{'(held-out real)':<20}{'':>42}{results['gan']['spectral_slope_references']:>8.2f}")
    wins = summary["gan_wins_of_3_distributions"]
    print(f"\nGAN closer than the baseline on {wins} of 3 distributions (target: 2); hillshades in {summary['pngs']}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/terrain_gan/jacksboro_32", help="trained TerrainGAN folder")
    parser.add_argument(
        "--dem", default=None, help="DEM the GAN was trained on (default: the model's recipe, jacksboro)"
    )
    parser.add_argument("--geotiff", default=None, help="an extra GeoTIFF whose patches form a second reference set")
    parser.add_argument("--landform-model", default=None, help="trained landform CNN: adds a Frechet distance")
    parser.add_argument("--num-samples", type=int, default=512, help="generated patches per generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs/benchmarks/terrain_realism", help="where the PNGs go")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from geohub.inference.terrain import load_terrain_model, save_hillshade_png
    from geohub.metrics.terrain import load_terrain_realism
    from geohub.metrics.terrain_realism.terrain_realism import spectral_slope
    from geohub.training.terrain import TerrainGANDataArguments, load_gan_patches

    if not (Path(args.model) / "config.json").is_file():
        print(f"no trained model at {args.model}: train one with recipes/terrain_gan/config_jacksboro_32.yaml")
        return 2
    model, processor = load_terrain_model(args.model)
    size = model.config.image_size
    data_args = TerrainGANDataArguments(dem=args.dem or "jacksboro", stride=4, max_eval_patches=10**9)
    train, held_out, spacing = load_gan_patches(data_args, size, seed=42)
    beta = float(np.mean([spectral_slope(p) for p in train[:: max(1, len(train) // 400)]]))
    baseline = baseline_generator(train, beta, size)
    count = min(args.num_samples, len(held_out))
    reference = held_out[np.linspace(0, len(held_out) - 1, count).round().astype(int)]
    generated = {
        "gan": model.generate(count, seed=args.seed, processor=processor),
        "spectral_baseline": baseline(count, args.seed),
        "real_train_patches": train[np.random.default_rng(args.seed).choice(len(train), count, replace=False)],
    }
    metric = load_terrain_realism()
    results = score(metric, generated, reference, spacing, args.landform_model)
    extra = {}
    if args.geotiff:
        other = geotiff_reference(args.geotiff, spacing, size)
        n = min(count, len(other))
        extra = {name: metric.compute(predictions=p[:n], references=other[:n], spacing_m=spacing)
                 for name, p in generated.items() if name != "real_train_patches"}  # fmt: skip
    rates = {
        "gan": throughput(lambda n, s: model.generate(n, seed=s, processor=processor), 256),
        "spectral_baseline": throughput(baseline, 256),
    }
    out = Path(args.output_dir)
    for name, patches in {**generated, "real_held_out": reference}.items():
        save_hillshade_png(
            mosaic(patches[np.linspace(0, len(patches) - 1, 16).astype(int)]), spacing, out / f"{name}.png", title=name
        )
    wins = sum(results["gan"][d] < results["spectral_baseline"][d] for d in DISTANCES)
    summary = {
        "benchmark": "terrain_realism",
        "model": str(args.model),
        "dem": data_args.dem,
        "spacing_m": spacing,
        "patch_size": size,
        "num_patches": count,
        "train_patches": len(train),
        "baseline_beta": beta,
        "results": results,
        "landform_model": args.landform_model,
        "geotiff": args.geotiff,
        "geotiff_results": extra,
        "patches_per_second": rates,
        "gan_wins_of_3_distributions": int(wins),
        "target_met": bool(wins >= 2),
        "threads": 1,
        "machine": platform.platform(),
        "pngs": str(out),
    }
    print("BENCHMARK_JSON " + json.dumps(summary, sort_keys=True, default=float))
    print_table(results, rates, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
