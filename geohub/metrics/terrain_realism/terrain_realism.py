"""Terrain realism: how close generated DEM patches are to real ones, as an `evaluate` module that loads offline:
`evaluate.load("geohub/metrics/terrain_realism")` (or `geohub.metrics.terrain.terrain_realism_path()`).

Inputs: `predictions` (generated patches) and `references` (held-out real patches): equally many square patches,
each a `(H, H)` list of lists of elevations in metres; `spacing_m`, the grid spacing in metres (same for both).
Outputs:
- `spectral_slope_predictions`, `spectral_slope_references`, `spectral_slope_difference`: the exponent beta of the
  radially averaged power spectrum ``P(k) ~ k^-beta`` (mean over patches, after removing a best-fit plane and
  applying a Hann window), and |difference|;
- `wasserstein_elevation_m`, `wasserstein_slope_deg`, `wasserstein_curvature_per_km`: 1-D Wasserstein (earth
  mover's) distances between the pooled per-cell distributions of elevation (m), slope (degrees, central
  differences) and Laplacian curvature (1/km) of the two sets (lower = more alike);
- `frechet_distance` when `predictions_features` / `references_features` (`(N, F)` arrays, e.g. the landform CNN's
  pooled features) are given: the Frechet distance between Gaussians fitted to them (as in FID, Heusel et al. 2017).
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np
from scipy import linalg, stats

from geohub.data.synthetic_terrain import laplacian_curvature, slope_degrees

_CITATION = """@article{huang1989fractal, title={Fractal mapping of digitized images: application to the topography
of Arizona and comparisons with synthetic images}, author={Huang, J. and Turcotte, D. L.}, journal={JGR}, year={1989}}"""

MAX_VALUES = 400_000  # cells per distribution kept for the Wasserstein distance (evenly strided)


def radial_power_spectrum(patch: np.ndarray, window: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a square patch: (wavenumbers in cycles/cell, power), DC dropped."""
    z = np.asarray(patch, dtype=np.float64)
    n = z.shape[0]
    yy, xx = np.mgrid[0:n, 0:n]
    design = np.column_stack([np.ones(n * n), xx.ravel(), yy.ravel()])
    coef, *_ = np.linalg.lstsq(design, z.ravel(), rcond=None)
    z = z - (design @ coef).reshape(n, n)
    if window:
        hann = np.hanning(n)
        z = z * np.outer(hann, hann)
    power = np.abs(np.fft.fft2(z)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    bins = np.round(k * n).astype(int)  # integer radial bins, 1 .. n/2
    counts = np.bincount(bins.ravel())
    sums = np.bincount(bins.ravel(), weights=power.ravel())
    radius = np.arange(1, n // 2 + 1)
    return radius / n, sums[radius] / np.maximum(counts[radius], 1)


def spectral_slope(patch: np.ndarray, window: bool = True, band: tuple[float, float] = (2.0 / 64, 0.25)) -> float:
    """Exponent beta of ``P(k) ~ k^-beta`` fitted by least squares in log-log over wavenumbers in `band`.

    NaN for a flat (or planar) patch, which has no spectrum to fit.
    """
    k, power = radial_power_spectrum(patch, window=window)
    in_band = (k >= band[0]) & (k <= band[1])
    if in_band.sum() >= 3 and not (power[in_band] > 1e-12 * max(float(power.max()), 1e-300)).any():
        return float("nan")
    keep = in_band & (power > 0)
    if keep.sum() < 3:
        raise ValueError(f"patch of side {np.shape(patch)[0]} has too few wavenumbers in {band}")
    slope = np.polyfit(np.log(k[keep]), np.log(power[keep]), 1)[0]
    return float(-slope)


def _curvature_per_km(patches: np.ndarray, spacing_m: float) -> np.ndarray:
    return laplacian_curvature(patches, spacing_m) * 1000.0


def _thin(values: np.ndarray) -> np.ndarray:
    values = values.ravel()
    step = max(1, values.size // MAX_VALUES)
    return values[::step]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to `(N, F)` and `(M, F)` feature sets."""
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * covmean))


def _mean_slope(patches: np.ndarray) -> float:
    slopes = np.array([spectral_slope(p) for p in patches])
    return float(np.nanmean(slopes)) if np.isfinite(slopes).any() else float("nan")


def realism_scores(generated: np.ndarray, reference: np.ndarray, spacing_m: float) -> dict[str, float]:
    """All realism figures (see the module docstring) for `(N, H, H)` and `(M, H, H)` patches in metres."""
    gen = np.asarray(generated, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if gen.ndim != 3 or ref.ndim != 3 or gen.shape[1] != gen.shape[2] or ref.shape[1] != ref.shape[2]:
        raise ValueError(f"expected (N, H, H) square patches, got {gen.shape} and {ref.shape}")
    if not (np.isfinite(gen).all() and np.isfinite(ref).all()):
        raise ValueError("patches contain NaN or Inf")
    if spacing_m <= 0:
        raise ValueError("spacing_m must be positive (metres)")
    beta_gen = _mean_slope(gen)
    beta_ref = _mean_slope(ref)
    return {
        "spectral_slope_predictions": beta_gen,
        "spectral_slope_references": beta_ref,
        "spectral_slope_difference": abs(beta_gen - beta_ref),
        "wasserstein_elevation_m": float(stats.wasserstein_distance(_thin(gen), _thin(ref))),
        "wasserstein_slope_deg": float(
            stats.wasserstein_distance(_thin(slope_degrees(gen, spacing_m)), _thin(slope_degrees(ref, spacing_m)))
        ),
        "wasserstein_curvature_per_km": float(
            stats.wasserstein_distance(
                _thin(_curvature_per_km(gen, spacing_m)), _thin(_curvature_per_km(ref, spacing_m))
            )
        ),
    }


class TerrainRealism(evaluate.Metric):
    """Power-spectrum slope and Wasserstein distances of elevation / slope / curvature (+ optional Frechet)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description="predictions, references: equally many (H, H) elevation patches in metres",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Sequence(datasets.Value("float32"))),
                    "references": datasets.Sequence(datasets.Sequence(datasets.Value("float32"))),
                }
            ),
        )

    def _compute(self, predictions, references, spacing_m=30.0, predictions_features=None, references_features=None):
        scores = realism_scores(np.asarray(predictions), np.asarray(references), float(spacing_m))
        if predictions_features is not None and references_features is not None:
            scores["frechet_distance"] = frechet_distance(predictions_features, references_features)
        return scores
