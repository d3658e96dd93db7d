"""Synthetic terrain and rule-based landform labels, so that terrain models train and test without a download.

Terrain synthesis
-----------------
`spectral_terrain` draws a fractional-Brownian surface by spectral synthesis: white Gaussian noise is filtered
in the Fourier domain so that its power spectrum falls as ``P(k) ~ k^-beta`` (Fournier et al. 1982; Saupe 1988).
Real topography has ``beta`` close to 2 over a wide band of scales (Huang & Turcotte 1989), i.e. a fractal
dimension ``D = (8 - beta) / 2`` of about 3 for the surface. Optional shaping turns the smooth fBm into more
terrain-like relief: `ridged` folds the surface about its median (sharp crests, round valleys, as in Musgrave's
ridged multifractals) and `erosion_iterations` runs thermal erosion (material above the talus slope slides to
lower neighbours; Musgrave et al. 1989).

Landform labels (the rule)
--------------------------
`landform_label(elevation, spacing_m)` classifies a patch of about 1.5-2 km across (Hammond's 1-mile window)
from its geomorphometry, in this order:

1. **plain**: local relief ``R = max - min < 30 m`` (Hammond 1964, "flat or nearly flat plains": relief below
   100 ft).
2. If ``R >= 90 m``, the elevation histogram is bimodal (less than 20 % of the cells lie in the middle half of
   the relief band) and a scarp exists (the steepest 5 % of cells are steeper than 10 degrees):
   **plateau** when the centre of the patch is high (topographic position index, TPI, of the central quarter
   above +0.15 R: a table-land with its flanks, Hammond's "tablelands"), otherwise **escarpment** (a step
   across the patch).
3. **valley**: centre TPI below -0.2 R and ``R >= 30 m`` (negative TPI = valley bottoms; Weiss 2001,
   Jenness 2006).
4. **mountain**: ``R >= 300 m`` (Hammond 1964, "mountains": local relief above 1000 ft).
5. **hill**: everything else (relief 30-300 m; Hammond's "hills", Iwahashi & Pike 2007 classes of moderate
   slope and texture).

The TPI is ``(mean of the central square of half the side) - (mean of the patch)`` divided by ``R``.
`make_landform_dataset` generates patches *designed* for each class (fBm of different relief, V-shaped valleys,
mesas, fault scarps) and labels each with the rule above, so the label always follows the documented rule.

References: Hammond, E. H. (1964) Analysis of properties in land form geography, Annals AAG 54;
Weiss, A. (2001) Topographic position and landforms analysis, ESRI user conference; Jenness, J. (2006) Topographic
Position Index; Iwahashi, J. & Pike, R. J. (2007) Automated classifications of topography from DEMs,
Geomorphology 86; Huang, J. & Turcotte, D. L. (1989) Fractal mapping of digitized images, JGR 94.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LANDFORM_LABELS",
    "spectral_terrain",
    "thermal_erosion",
    "slope_degrees",
    "laplacian_curvature",
    "Geomorphometry",
    "geomorphometry",
    "landform_label",
    "synthetic_landform_patch",
    "make_landform_dataset",
    "landform_features",
]

LANDFORM_LABELS: tuple[str, ...] = ("plain", "hill", "mountain", "valley", "plateau", "escarpment")

# Thresholds of the rule (metres, degrees, fractions of relief); see the module docstring.
PLAIN_MAX_RELIEF_M = 30.0
STEP_MIN_RELIEF_M = 90.0
STEP_MAX_MIDDLE_FRACTION = 0.2
STEP_MIN_P95_SLOPE_DEG = 10.0
PLATEAU_MIN_TPI = 0.15
VALLEY_MAX_TPI = -0.2
MOUNTAIN_MIN_RELIEF_M = 300.0


def spectral_terrain(
    size: int | tuple[int, int],
    beta: float = 2.0,
    *,
    relief_m: float = 100.0,
    base_m: float = 0.0,
    seed: int | None = None,
    ridged: bool = False,
    erosion_iterations: int = 0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Fractional-Brownian terrain by spectral synthesis.

    Args:
        size: rows (= columns if an int) of the output grid.
        beta: power-law exponent of the radially averaged power spectrum, ``P(k) ~ k^-beta`` (before shaping).
        relief_m: max - min elevation of the output, in metres.
        base_m: minimum elevation of the output, in metres.
        seed: seed of the noise (same seed, same surface); ignored when `rng` is given.
        ridged: fold the surface about its median (sharp ridges).
        erosion_iterations: thermal-erosion passes after shaping (0 = none).

    Returns:
        `(rows, cols)` float32 elevations in metres.
    """
    rows, cols = (size, size) if isinstance(size, int) else size
    if rows < 2 or cols < 2:
        raise ValueError(f"size must be at least 2x2, got {rows}x{cols}")
    rng = rng if rng is not None else np.random.default_rng(seed)
    noise = rng.standard_normal((rows, cols))
    ky = np.fft.fftfreq(rows)[:, None]
    kx = np.fft.rfftfreq(cols)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    k[0, 0] = 1.0
    amplitude = k ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    surface = np.fft.irfftn(np.fft.rfftn(noise) * amplitude, s=(rows, cols))
    if ridged:
        surface = -np.abs(surface - np.median(surface))
    surface = _rescale(surface, relief_m, base_m)
    if erosion_iterations > 0:
        surface = thermal_erosion(surface, iterations=erosion_iterations)
        surface = _rescale(surface, relief_m, base_m)
    return surface.astype(np.float32)


def _rescale(surface: np.ndarray, relief_m: float, base_m: float) -> np.ndarray:
    span = float(surface.max() - surface.min())
    scaled = (surface - surface.min()) / span if span > 0 else np.zeros_like(surface)
    return scaled * relief_m + base_m


def thermal_erosion(elevation: np.ndarray, iterations: int = 20, talus: float | None = None, rate: float = 0.25):
    """Thermal erosion: where the drop to a 4-neighbour exceeds `talus`, move `rate` of the excess downhill.

    Args:
        elevation: `(rows, cols)` elevations (any unit).
        iterations: number of passes.
        talus: critical height difference between neighbours; defaults to twice the median difference.
        rate: fraction of the excess moved per pass (0-0.5 keeps it stable).

    Returns:
        `(rows, cols)` eroded elevations (mass is conserved up to the borders).
    """
    z = np.asarray(elevation, dtype=np.float64).copy()
    if talus is None:
        talus = 2.0 * float(np.median(np.abs(np.diff(z, axis=0)))) + 1e-12
    for _ in range(iterations):
        delta = np.zeros_like(z)
        for axis in (0, 1):
            diff = np.diff(z, axis=axis)  # z[i+1] - z[i]
            excess = np.sign(diff) * np.maximum(np.abs(diff) - talus, 0.0) * rate / 2.0
            # positive excess: i+1 is higher, material moves from i+1 to i
            lower = [slice(None)] * 2
            upper = [slice(None)] * 2
            lower[axis] = slice(None, -1)
            upper[axis] = slice(1, None)
            delta[tuple(lower)] += excess
            delta[tuple(upper)] -= excess
        z += delta
    return z


def slope_degrees(elevation: np.ndarray, spacing_m: float) -> np.ndarray:
    """Slope of each cell in degrees from central differences; `elevation` `(..., rows, cols)` in metres."""
    dz_dy, dz_dx = np.gradient(np.asarray(elevation, dtype=np.float64), spacing_m, axis=(-2, -1))
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))


def laplacian_curvature(elevation: np.ndarray, spacing_m: float) -> np.ndarray:
    """Laplacian curvature ``d2z/dx2 + d2z/dy2`` in 1/m on interior cells, `(..., rows - 2, cols - 2)`.

    Positive = concave (valley bottoms), negative = convex (crests).
    """
    z = np.asarray(elevation, dtype=np.float64)
    centre = z[..., 1:-1, 1:-1]
    lap = z[..., :-2, 1:-1] + z[..., 2:, 1:-1] + z[..., 1:-1, :-2] + z[..., 1:-1, 2:] - 4.0 * centre
    return lap / spacing_m**2


@dataclass(frozen=True)
class Geomorphometry:
    """Patch descriptors used by the landform rule.

    Attributes:
        relief_m: max - min elevation (m).
        mean_slope_deg: mean slope (degrees).
        p95_slope_deg: 95th percentile of slope (degrees).
        middle_fraction: fraction of cells whose elevation lies in the middle half of the relief band.
        tpi: (mean of the central square of half the side - patch mean) / relief.
        mean_curvature: mean Laplacian curvature (1/m).
    """

    relief_m: float
    mean_slope_deg: float
    p95_slope_deg: float
    middle_fraction: float
    tpi: float
    mean_curvature: float


def geomorphometry(elevation: np.ndarray, spacing_m: float) -> Geomorphometry:
    """Descriptors of one `(rows, cols)` patch in metres with grid spacing `spacing_m` (m)."""
    z = np.asarray(elevation, dtype=np.float64)
    rows, cols = z.shape
    relief = float(z.max() - z.min())
    slope = slope_degrees(z, spacing_m)
    if relief > 0:
        position = (z - z.min()) / relief
        middle = float(np.mean((position > 0.25) & (position < 0.75)))
        centre = z[rows // 4 : rows - rows // 4, cols // 4 : cols - cols // 4]
        tpi = float((centre.mean() - z.mean()) / relief)
    else:
        middle, tpi = 1.0, 0.0
    return Geomorphometry(
        relief_m=relief,
        mean_slope_deg=float(slope.mean()),
        p95_slope_deg=float(np.percentile(slope, 95)),
        middle_fraction=middle,
        tpi=tpi,
        mean_curvature=float(laplacian_curvature(z, spacing_m).mean()) if min(rows, cols) > 2 else 0.0,
    )


def landform_label(elevation: np.ndarray, spacing_m: float) -> str:
    """The landform class of a patch by the rule in the module docstring (one of `LANDFORM_LABELS`)."""
    g = geomorphometry(elevation, spacing_m)
    if g.relief_m < PLAIN_MAX_RELIEF_M:
        return "plain"
    stepped = g.middle_fraction < STEP_MAX_MIDDLE_FRACTION and g.p95_slope_deg > STEP_MIN_P95_SLOPE_DEG
    if g.relief_m >= STEP_MIN_RELIEF_M and stepped:
        return "plateau" if g.tpi > PLATEAU_MIN_TPI else "escarpment"
    if g.tpi < VALLEY_MAX_TPI:
        return "valley"
    if g.relief_m >= MOUNTAIN_MIN_RELIEF_M:
        return "mountain"
    return "hill"


def _oriented_distance(size: int, rng: np.random.Generator, max_offset: float) -> np.ndarray:
    """Signed distance (pixels) of each cell from a random line through (near) the patch centre."""
    theta = rng.uniform(0, np.pi)
    offset = rng.uniform(-max_offset, max_offset) * size
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
    return xx * np.cos(theta) + yy * np.sin(theta) - offset


def synthetic_landform_patch(kind: str, size: int, spacing_m: float, rng: np.random.Generator) -> np.ndarray:
    """A `(size, size)` float32 patch in metres designed to look like landform `kind` (before the rule)."""
    base = rng.uniform(0.0, 1500.0)
    beta = rng.uniform(2.0, 3.0)
    if kind == "plain":
        z = spectral_terrain(size, beta + 0.5, relief_m=rng.uniform(3, 25), base_m=base, rng=rng)
    elif kind == "hill":
        z = spectral_terrain(
            size, beta, relief_m=rng.uniform(45, 260), base_m=base, ridged=rng.random() < 0.5, rng=rng
        )
    elif kind == "mountain":
        z = spectral_terrain(
            size,
            beta - 0.3,
            relief_m=rng.uniform(400, 1500),
            base_m=base,
            ridged=rng.random() < 0.7,
            rng=rng,
            erosion_iterations=int(rng.integers(0, 10)),
        )
    elif kind == "valley":
        depth = rng.uniform(80, 600)
        width = rng.uniform(0.2, 0.4) * size
        distance = np.abs(_oriented_distance(size, rng, 0.05))
        shape = np.minimum(distance / width, 1.0) ** rng.uniform(0.8, 2.0)  # V (1) to U (2) cross-sections
        z = base + depth * shape + spectral_terrain(size, beta, relief_m=0.1 * depth, rng=rng)
    elif kind == "plateau":
        height = rng.uniform(120, 600)
        radius = rng.uniform(0.22, 0.36) * size
        yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
        distance = np.hypot(xx, yy * rng.uniform(0.7, 1.3))
        z = base + height / (1 + np.exp(-(radius - distance) / rng.uniform(0.5, 1.2)))
        z = z + spectral_terrain(size, beta, relief_m=0.05 * height, rng=rng)
    elif kind == "escarpment":
        height = rng.uniform(120, 700)
        distance = _oriented_distance(size, rng, 0.06)
        z = base + height / (1 + np.exp(-distance / rng.uniform(0.6, 2.0)))
        z = z + spectral_terrain(size, beta, relief_m=0.05 * height, rng=rng)
    else:
        raise ValueError(f"unknown landform kind {kind!r}; expected one of {LANDFORM_LABELS}")
    return np.asarray(z, dtype=np.float32)


def landform_features(size: int):
    """`datasets.Features` of a labelled landform set: elevation `(size, size)` float32 m, spacing, label."""
    from datasets import Array2D, ClassLabel, Features, Value

    return Features(
        {
            "elevation": Array2D(shape=(size, size), dtype="float32"),
            "spacing_m": Value("float32"),
            "label": ClassLabel(names=list(LANDFORM_LABELS)),
        }
    )


def make_landform_dataset(num_samples: int, size: int = 32, spacing_m: float = 50.0, seed: int = 0):
    """A labelled `datasets.Dataset` of synthetic patches, classes drawn in turn, labels from `landform_label`.

    Args:
        num_samples: number of patches.
        size: patch side in cells.
        spacing_m: grid spacing in metres (size x spacing should be about 1.5-2 km, the rule's window).
        seed: reproducible by seed.

    Returns:
        `datasets.Dataset` with the features of `landform_features(size)`.
    """
    from datasets import Dataset

    rng = np.random.default_rng(seed)
    elevations, labels = [], []
    for index in range(num_samples):
        kind = LANDFORM_LABELS[index % len(LANDFORM_LABELS)]
        patch = synthetic_landform_patch(kind, size, spacing_m, rng)
        elevations.append(patch)
        labels.append(LANDFORM_LABELS.index(landform_label(patch, spacing_m)))
    data = {"elevation": elevations, "spacing_m": [float(spacing_m)] * num_samples, "label": labels}
    return Dataset.from_dict(data, features=landform_features(size))
