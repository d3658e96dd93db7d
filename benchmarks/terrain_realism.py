"""Terrain realism: the trained GAN vs the spectral-synthesis baseline and the geohub 0.1 GAN, against held-out
real DEM patches, plus seams and geomorphon landform elements (issue #24).

    python benchmarks/terrain_realism.py --model geohub/models/terrain_gan/default
    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32
    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32 --geotiff my_dem.tif
    python benchmarks/terrain_realism.py --model runs/terrain_gan/jacksboro_32 --landform-model runs/landform/synthetic

Real patches come from the same DEM and split as the GAN's training (`load_gan_patches` with the recipe's
defaults: matplotlib's Jacksboro DEM, bottom 25 % of rows held out, never seen in training). The baseline is
spectral synthesis (`spectral_terrain`) with the power-law exponent measured on the TRAINING patches and, per
patch, the (minimum, relief) pair of a random training patch, so both generators see the same training data.
With `--geotiff`, its patches (resampled to the model's grid spacing) are scored as a second reference set.
With `--landform-model`, a Frechet distance on the landform CNN's pooled features is added (FID-style).
`--old-model` is the previous GAN, scored side by side (default: the shipped default before issue #24, a
geohub 0.1 "dcgan" patch generator, read from git: `git:<commit>:<folder>`; `none` skips it).
Geomorphons (`geohub.data.geomorphons`, Jasiewicz & Stepinski 2013; search 10 cells, flat 1 degree): each
generator makes maps the size of the held-out strip (the new GAN one continuous region per seed, the old GAN its
blended mosaic, the baseline one spectral map), the shares of the ten elements over interior cells (10 cells from
the edge dropped) are compared with the held-out strip's: total-variation distance (0 = same mix, 1 = disjoint).
Seams: `seam_score` (largest row- or column-mean |Laplacian| over their median) of maps of 4 x 4 and 16 x 16
training patches' extent against the median over real Jacksboro crops of the same size (16 x 16 of 32-cell
patches is 512 cells, more than the DEM: real crops are then capped at its 324-cell width); target <= 1.2x.
Also timed: generation throughput (patches/s, one CPU thread, median of repeats) of the generators.
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
OLD_MODEL = "git:f52c3943ab2b886b915618a15c1e844a1b1ec769:geohub/models/terrain_gan/default"
SEARCH_CELLS = 10


def resolve_model(spec: str, scratch: Path) -> str:
    """A model folder, or `git:<commit>:<folder>` written out of git into `scratch` (the geohub 0.1 default)."""
    import subprocess

    if not spec.startswith("git:"):
        return spec
    _, commit, folder = spec.split(":", 2)
    names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{commit}:{folder}"],
                           check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
    scratch.mkdir(parents=True, exist_ok=True)
    for name in names:
        blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{folder}/{name}"],
                              check=True, capture_output=True).stdout  # fmt: skip
        (scratch / name).write_bytes(blob)
    return str(scratch)


def landform_mix(maps: list[np.ndarray], spacing: float) -> np.ndarray:
    """Shares `(10,)` of the geomorphon elements over the interior cells of `maps` (edges see a short horizon)."""
    from geohub.data.geomorphons import geomorphons

    counts = np.zeros(10)
    for elevation in maps:
        codes = geomorphons(elevation, spacing, search_cells=SEARCH_CELLS, flat_degrees=1.0)
        inner = codes[SEARCH_CELLS:-SEARCH_CELLS, SEARCH_CELLS:-SEARCH_CELLS]
        counts += np.bincount(inner[inner > 0].ravel(), minlength=11)[1:]
    return counts / max(counts.sum(), 1.0)


def geomorphon_comparison(makers: dict, real_held: np.ndarray, real_train: np.ndarray, spacing: float) -> dict:
    """Element shares of each generator's held-out-sized maps and their total-variation distance to the held-out."""
    from geohub.data.geomorphons import GEOMORPHON_NAMES

    reference = landform_mix([real_held], spacing)
    shape = real_held.shape
    sets = {name: [make(shape, seed) for seed in range(4)] for name, make in makers.items()}
    sets["real_train_patches"] = [real_train[: shape[0], : shape[1]], real_train[-shape[0] :, : shape[1]]]
    out = {"real_held_out": dict(zip(GEOMORPHON_NAMES, np.round(reference, 4).tolist()))}
    for name, maps in sets.items():
        mix = landform_mix(maps, spacing)
        out[name] = dict(zip(GEOMORPHON_NAMES, np.round(mix, 4).tolist()))
        out[name]["total_variation"] = round(float(0.5 * np.abs(mix - reference).sum()), 4)
    return out


def real_seam_score(elevation: np.ndarray, side: int) -> tuple[float, int]:
    """Median seam score of real crops `side` cells a side (capped at the DEM's size), and the side used."""
    from geohub.data.dem import seam_score

    side = min(side, *elevation.shape)
    step = max(8, side // 6)
    scores = [seam_score(elevation[r : r + side, c : c + side])
              for r in range(0, elevation.shape[0] - side + 1, step)
              for c in range(0, elevation.shape[1] - side + 1, step)]  # fmt: skip
    return float(np.median(scores)), side


def seam_comparison(models: dict, elevation: np.ndarray) -> dict:
    """Seam scores of 4 x 4 and 16 x 16 patches' extent (3 seeds, the worst kept) against real crops."""
    from geohub.data.dem import seam_score
    from geohub.inference.terrain import generate_mosaic

    out = {}
    for tiles in (4, 16):
        row = {}
        for name, (model, processor) in models.items():
            maps = [generate_mosaic(model, tiles, seed=seed, processor=processor) for seed in range(3)]
            row[name] = {"side_cells": maps[0].shape[0], "seam_score": round(max(seam_score(m) for m in maps), 3)}
        side = row[next(iter(row))]["side_cells"]
        real, real_side = real_seam_score(elevation, side)
        row["real_crops"] = {"side_cells": real_side, "seam_score": round(real, 3)}
        for name in models:
            row[name]["ratio_to_real"] = round(row[name]["seam_score"] / real, 3)
        out[f"{tiles}x{tiles}"] = row
    return out


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
    """The readable tables after the JSON line."""
    size = summary["patch_size"]
    print(f"\nheld-out real patches: {summary['num_patches']} x {size}x{size} at {summary['spacing_m']:.1f} m "
          f"({summary['dem']}, bottom 25 % of rows)")  # fmt: skip
    header = (f"{'generator':<20}{'W elev (m)':>12}{'W slope (deg)':>15}{'W curv (1/km)':>15}{'beta':>8}"
              f"{'TV landform':>13}{'FD landform':>13}{'patches/s':>12}")  # fmt: skip
    print(header)
    print("-" * len(header))
    mixes = summary["geomorphons"]
    for name, scores in results.items():
        rate = f"{rates[name]:.0f}" if name in rates else "-"
        frechet = f"{scores['frechet_distance']:.3f}" if "frechet_distance" in scores else "-"
        tv = f"{mixes[name]['total_variation']:.3f}" if name in mixes else "-"
        print(f"{name:<20}{scores['wasserstein_elevation_m']:>12.2f}{scores['wasserstein_slope_deg']:>15.3f}"
              f"{scores['wasserstein_curvature_per_km']:>15.3f}{scores['spectral_slope_predictions']:>8.2f}"
              f"{tv:>13}{frechet:>13}{rate:>12}")  # fmt: skip
    print(f"{'(held-out real)':<20}{'':>42}{results['gan']['spectral_slope_references']:>8.2f}")
    names = list(mixes["real_held_out"])
    print("\ngeomorphon element shares (interior cells of held-out-sized maps):")
    print(f"{'':<20}" + "".join(f"{n[:9]:>10}" for n in names))
    for name, mix in mixes.items():
        print(f"{name:<20}" + "".join(f"{mix[n]:>10.3f}" for n in names))
    print("\nseam score (worst of 3 seeds) / real crops of the same size (target <= 1.2x):")
    for extent, row in summary["seams"].items():
        real = row["real_crops"]
        cells = ", ".join(f"{k} {v['seam_score']:.2f} ({v['ratio_to_real']:.2f}x, {v['side_cells']} cells)"
                          for k, v in row.items() if k != "real_crops")  # fmt: skip
        print(f"  {extent}: {cells}; real {real['seam_score']:.2f} ({real['side_cells']} cells)")
    wins = summary["gan_wins_of_3_distributions"]
    print(f"\nGAN closer than the baseline on {wins} of 3 distributions (target: 2); hillshades in {summary['pngs']}/")


def map_makers(model, processor, old, train_strip: np.ndarray, beta: float) -> dict:
    """`make(shape, seed) -> (rows, cols)` metres for each generator: maps as large as the held-out strip."""
    from geohub.data.synthetic_terrain import spectral_terrain
    from geohub.inference.terrain import generate_mosaic, generate_region

    base, relief = float(train_strip.min()), float(np.ptp(train_strip))

    def old_map(shape, seed):
        step = old[0].config.image_size * 3 // 4
        tiles = -(-(max(shape) - old[0].config.image_size // 4) // step)
        return generate_mosaic(old[0], tiles, seed=seed, processor=old[1])[: shape[0], : shape[1]]

    makers = {"gan": lambda shape, seed: generate_region(model, *shape, seed=seed, processor=processor)}
    if old is not None:
        makers["old_gan"] = old_map
    makers["spectral_baseline"] = lambda shape, seed: spectral_terrain(
        shape, beta, relief_m=relief, base_m=base, rng=np.random.default_rng(seed)
    )
    return makers


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="geohub/models/terrain_gan/default", help="trained TerrainGAN folder")
    parser.add_argument("--old-model", default=OLD_MODEL, help="previous GAN folder, git:<commit>:<folder>, or none")
    parser.add_argument(
        "--dem", default=None, help="DEM the GAN was trained on (default: the model's recipe, jacksboro)"
    )
    parser.add_argument("--geotiff", default=None, help="an extra GeoTIFF whose patches form a second reference set")
    parser.add_argument("--landform-model", default=None, help="trained landform CNN: adds a Frechet distance")
    parser.add_argument("--num-samples", type=int, default=512, help="generated patches per generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs/benchmarks/terrain_realism", help="where the PNGs go")
    return parser.parse_args(argv)


def load_models(args):
    """(model, processor) of `--model` and of `--old-model` (None when 'none' or of another patch size)."""
    from geohub.inference.terrain import load_terrain_model

    model, processor = load_terrain_model(args.model)
    old = None
    if args.old_model.lower() != "none":
        old = load_terrain_model(resolve_model(args.old_model, Path(args.output_dir) / "old_model"))
        if old[0].config.image_size != model.config.image_size:
            print(f"old model skipped: {old[0].config.image_size}-cell patches, not {model.config.image_size}")
            old = None
    return model, processor, old


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)

    from geohub.data.dem import read_dem, split_dem
    from geohub.metrics.terrain import load_terrain_realism
    from geohub.metrics.terrain_realism.terrain_realism import spectral_slope
    from geohub.training.terrain import TerrainGANDataArguments, load_gan_patches

    if not (Path(args.model) / "config.json").is_file():
        print(f"no trained model at {args.model}: train one with recipes/terrain_gan/config_jacksboro_32.yaml")
        return 2
    model, processor, old = load_models(args)
    size = model.config.image_size
    data_args = TerrainGANDataArguments(dem=args.dem or "jacksboro", stride=4, max_eval_patches=10**9)
    train, held_out, spacing = load_gan_patches(data_args, size, seed=42)
    beta = float(np.mean([spectral_slope(p) for p in train[:: max(1, len(train) // 400)]]))
    baseline = baseline_generator(train, beta, size)
    count = min(args.num_samples, len(held_out))
    reference = held_out[np.linspace(0, len(held_out) - 1, count).round().astype(int)]
    generated = {"gan": model.generate(count, seed=args.seed, processor=processor)}
    if old is not None:
        generated["old_gan"] = old[0].generate(count, seed=args.seed, processor=old[1])
    generated["spectral_baseline"] = baseline(count, args.seed)
    generated["real_train_patches"] = train[np.random.default_rng(args.seed).choice(len(train), count, replace=False)]
    metric = load_terrain_realism()
    results = score(metric, generated, reference, spacing, args.landform_model)
    extra = {}
    if args.geotiff:
        other = geotiff_reference(args.geotiff, spacing, size)
        n = min(count, len(other))
        extra = {name: metric.compute(predictions=p[:n], references=other[:n], spacing_m=spacing)
                 for name, p in generated.items() if name != "real_train_patches"}  # fmt: skip
    dem = read_dem(data_args.dem).square_cells()
    train_strip, held_strip = (part.elevation for part in split_dem(dem, 0.25, "rows"))
    mixes = geomorphon_comparison(map_makers(model, processor, old, train_strip, beta), held_strip, train_strip,
                                  spacing)  # fmt: skip
    seams = seam_comparison({"gan": (model, processor), **({"old_gan": old} if old else {})}, dem.elevation)
    rates = {"gan": throughput(lambda n, s: model.generate(n, seed=s, processor=processor), 256)}
    if old is not None:
        rates["old_gan"] = throughput(lambda n, s: old[0].generate(n, seed=s, processor=old[1]), 256)
    rates["spectral_baseline"] = throughput(baseline, 256)
    out = Path(args.output_dir)
    for name, patches in {**generated, "real_held_out": reference}.items():
        save_hillshade(mosaic(patches[np.linspace(0, len(patches) - 1, 16).astype(int)]), spacing, out, name)
    save_hillshade(map_makers(model, processor, old, train_strip, beta)["gan"]((128, 128), 0), spacing, out,
                   "gan_region_128")  # fmt: skip
    wins = sum(results["gan"][d] < results["spectral_baseline"][d] for d in DISTANCES)
    summary = {
        "benchmark": "terrain_realism",
        "model": str(args.model),
        "old_model": args.old_model if old is not None else None,
        "dem": data_args.dem,
        "spacing_m": spacing,
        "patch_size": size,
        "num_patches": count,
        "train_patches": len(train),
        "baseline_beta": beta,
        "results": results,
        "geomorphons": mixes,
        "seams": seams,
        "landform_model": args.landform_model,
        "geotiff": args.geotiff,
        "geotiff_results": extra,
        "patches_per_second": rates,
        "gan_wins_of_3_distributions": int(wins),
        "target_met": bool(wins >= 2),
        "seam_target_met": all(v["ratio_to_real"] <= 1.2 for row in seams.values() for v in [row["gan"]]),
        "threads": 1,
        "machine": platform.platform(),
        "pngs": str(out),
    }
    print("BENCHMARK_JSON " + json.dumps(summary, sort_keys=True, default=float))
    print_table(results, rates, summary)
    return 0


def save_hillshade(elevation: np.ndarray, spacing: float, out: Path, name: str) -> None:
    from geohub.inference.terrain import save_hillshade_png

    save_hillshade_png(elevation, spacing, out / f"{name}.png", title=name)


if __name__ == "__main__":
    sys.exit(main())
