"""Geomorphons: the ten landform elements of Jasiewicz & Stepinski (2013) for every cell of a DEM.

    codes = geomorphons(dem.elevation, dem.spacing_m[0], search_cells=10, flat_degrees=1.0)   # uint8, 0..10
    GEOMORPHON_NAMES[codes[r, c] - 1]                     # "flat", "peak", ..., "pit" (0 = nodata)
    element_fractions(codes)                              # (10,) share of valid cells per element
    tiles, labels = landform_tiles(dem.elevation, dem.spacing_m[0], size=16, stride=8)   # labelled real tiles

Tile landform classes (`LANDFORM_CLASSES`, `tile_landform`): from a tile's element shares, convex =
peak + ridge + shoulder + spur, concave = hollow + footslope + valley + pit; "ridge" when convex - concave >=
`margin` (0.1), "valley" when concave - convex >= margin, else "hillside" (slopes, or convex and concave forms
in balance).

A thin wrapper of whitebox-workflows' `geomorphons` tool: the array goes to a GeoTIFF in a temporary folder
(projected CRS, square cells of `spacing_m` metres), whitebox classifies it, and the codes come back as numpy;
nothing is left on disk. Each cell looks `search_cells` cells along 8 directions; a direction is "up" or "down"
when its steepest zenith/nadir angle exceeds `flat_degrees`, and the up/down pattern names the element.

Grids must have square cells in METRES (`DEM.square_cells()` first): on degrees every slope looks tiny and most
cells come out flat. Cells closer than `search_cells` to the edge see a shortened horizon (lines stop at the
edge); compute geomorphons on the whole DEM and crop afterwards where that matters.

Reference: Jasiewicz, J., Stepinski, T. F. (2013). Geomorphons, a pattern recognition approach to
classification and mapping of landforms. Geomorphology 182, 147-156. doi:10.1016/j.geomorph.2012.11.005
"""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

from ..errors import RasterError
from .limits import DEFAULT_MAX_DEM_CELLS, MAX_ABS_ELEVATION_M, MAX_SPACING_M, check_finite_array, check_positive

__all__ = [
    "GEOMORPHON_NAMES",
    "LANDFORM_CLASSES",
    "LANDFORM_CLASS_MEANINGS",
    "geomorphons",
    "element_fractions",
    "convexity_balance",
    "balance_of_shares",
    "tile_landform",
    "landform_tiles",
    "MIN_CELLS",
]

GEOMORPHON_NAMES = (
    "flat", "peak", "ridge", "shoulder", "spur", "slope", "hollow", "footslope", "valley", "pit",
)  # fmt: skip
LANDFORM_CLASSES = ("ridge", "hillside", "valley")
# what each class means, in words (the demo shows it beside a prediction)
LANDFORM_CLASS_MEANINGS = {
    "ridge": "ridge crests, summits and spurs: convex geomorphons (peak, ridge, shoulder, spur) outnumber concave "
    "ones (hollow, footslope, valley, pit) by 10 % of the tile's central cells or more",
    "hillside": "hillslopes: mostly 'slope' cells, or convex and concave forms in balance (within 10 %)",
    "valley": "valley floors and hollows: concave geomorphons outnumber convex ones by 10 % of the central cells "
    "or more",
}
CONVEX = (2, 3, 4, 5)  # peak, ridge, shoulder, spur
CONCAVE = (7, 8, 9, 10)  # hollow, footslope, valley, pit
MIN_CELLS = 3
_NODATA = -32768.0
_LOCK = threading.Lock()  # whitebox keeps a process-wide raster store: one call at a time


def _check(elevation, spacing_m, search_cells, flat_degrees) -> np.ndarray:
    array = np.asarray(elevation)
    if array.ndim != 2:
        raise RasterError(f"{array.ndim}-D array of shape {array.shape}", field="elevation",
                          expected="a 2-D (rows, cols) elevation grid in metres")  # fmt: skip
    if min(array.shape) < MIN_CELLS or array.size > DEFAULT_MAX_DEM_CELLS:
        raise RasterError(f"shape {array.shape}", field="elevation",
                          expected=f">= {MIN_CELLS} x {MIN_CELLS} cells and <= {DEFAULT_MAX_DEM_CELLS} cells")  # fmt: skip
    array = check_finite_array(array, "elevation", MAX_ABS_ELEVATION_M, allow_nan=True, error=RasterError)
    array = array.astype(np.float32)
    if not np.isfinite(array).any():
        raise RasterError("every cell is NaN (nodata)", field="elevation", expected="some valid elevations")
    check_positive(spacing_m, "spacing_m", MAX_SPACING_M, error=RasterError)
    if isinstance(search_cells, bool) or not isinstance(search_cells, (int, np.integer)) or search_cells < 1:
        raise RasterError(f"{search_cells!r}", field="search_cells", expected="an integer >= 1 (cells)")
    check_positive(flat_degrees, "flat_degrees", 90.0, error=RasterError)
    return array


def geomorphons(elevation: np.ndarray, spacing_m: float, *, search_cells: int = 10,
                flat_degrees: float = 1.0) -> np.ndarray:  # fmt: skip
    """Geomorphon element of every cell.

    Args:
        elevation: `(rows, cols)` metres on square cells; NaN marks nodata.
        spacing_m: cell size in metres.
        search_cells: how far (cells) each cell looks along its 8 lines (the paper's L).
        flat_degrees: angles within +-flat_degrees of the horizon count as level (the paper's t).

    Returns:
        `(rows, cols)` uint8: 1..10 in `GEOMORPHON_NAMES` order; 0 where the input is NaN.
    """
    array = _check(elevation, spacing_m, search_cells, flat_degrees)
    # a one-cell nodata frame: whitebox leaves the outermost ring unclassified, the frame takes that place
    padded = np.pad(np.where(np.isfinite(array), array, _NODATA), 1, constant_values=_NODATA)
    with _LOCK, tempfile.TemporaryDirectory(prefix="geohub-geomorphons-") as folder:
        codes = _run_whitebox(padded, float(spacing_m), int(search_cells), float(flat_degrees), folder)
    codes = codes[1:-1, 1:-1]
    valid = np.isfinite(array) & (codes >= 1) & (codes <= 10)
    return np.where(valid, codes, 0).astype(np.uint8)


def _run_whitebox(padded: np.ndarray, spacing_m: float, search_cells: int, flat_degrees: float,
                  folder: str) -> np.ndarray:  # fmt: skip
    import rasterio
    import whitebox_workflows
    from affine import Affine

    path = os.path.join(folder, "elevation.tif")
    rows, cols = padded.shape
    profile = dict(driver="GTiff", height=rows, width=cols, count=1, dtype="float32", nodata=_NODATA,
                   crs="EPSG:32616", transform=Affine(spacing_m, 0.0, 500_000.0, 0.0, -spacing_m, 4_000_000.0))  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(padded.astype(np.float32), 1)
    env = whitebox_workflows.WbEnvironment()
    try:
        out = env.geomorphons(env.read_raster(path), search_distance=search_cells,
                              flatness_threshold=flat_degrees, output_forms=True)  # fmt: skip
        codes = np.asarray(out.to_numpy(), dtype=np.float64)
    finally:
        env.clear_raster_memory()
    if codes.shape != padded.shape:
        raise RasterError(f"whitebox returned shape {codes.shape}", field="geomorphons",
                          expected=f"the input's shape {padded.shape}")  # fmt: skip
    return np.rint(np.nan_to_num(codes, nan=0.0)).clip(0, 255).astype(np.uint8)


def element_fractions(codes: np.ndarray) -> np.ndarray:
    """Share of valid (non-zero) cells per element: `(10,)` float64 in `GEOMORPHON_NAMES` order (sums to 1).

    All zeros when no cell is valid."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise RasterError(f"dtype {codes.dtype}", field="codes", expected="integer geomorphon codes 0..10")
    counts = np.bincount(codes[(codes >= 1) & (codes <= 10)].ravel().astype(np.int64) - 1, minlength=10)
    total = counts.sum()
    return counts / total if total else np.zeros(10)


def convexity_balance(codes: np.ndarray) -> float:
    """Share of convex elements (peak, ridge, shoulder, spur) less share of concave ones (hollow, footslope,
    valley, pit) among the valid cells of `codes`: in [-1, 1]."""
    return float(balance_of_shares(element_fractions(codes)))


def balance_of_shares(shares: np.ndarray) -> np.ndarray:
    """`convexity_balance` from element shares `(..., 10)` (as `element_fractions` gives them)."""
    shares = np.asarray(shares)
    return shares[..., [c - 1 for c in CONVEX]].sum(-1) - shares[..., [c - 1 for c in CONCAVE]].sum(-1)


def tile_landform(codes: np.ndarray, margin: float = 0.1) -> int:
    """Index in `LANDFORM_CLASSES` of a tile of geomorphon codes: "ridge" when the convex elements' share exceeds
    the concave elements' by `margin` or more, "valley" for the reverse, else "hillside"."""
    balance = convexity_balance(codes)
    if balance >= margin:
        return LANDFORM_CLASSES.index("ridge")
    if balance <= -margin:
        return LANDFORM_CLASSES.index("valley")
    return LANDFORM_CLASSES.index("hillside")


def landform_tiles(elevation: np.ndarray, spacing_m: float, *, size: int = 16, stride: int = 8,
                   search_cells: int = 10, flat_degrees: float = 1.0, margin: float = 0.1,
                   context_cells: int = 0, max_nodata: float = 0.0) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Tiles of a DEM part labelled from its geomorphons (computed once over the whole part, then cropped).

    Returns `(tiles (N, size, size) float32 metres, labels (N,) int64 in LANDFORM_CLASSES, shares (N, 10) float64
    (`element_fractions` of each core), corners (N, 2) int64 row/column of each tile's top-left cell)`. The label describes the tile's core, `context_cells` in from each
    edge (0: the whole tile), so that the tile shows the terrain around what is labelled. Tiles with more than
    `max_nodata` NaN cells are skipped."""
    array = _check(elevation, spacing_m, search_cells, flat_degrees)
    if size - 2 * context_cells < MIN_CELLS or context_cells < 0 or stride < 1 or min(array.shape) < size:
        raise RasterError(f"size {size}, context {context_cells}, stride {stride} on a {array.shape} grid",
                          field="size", expected=f"a core (size - 2 context) >= {MIN_CELLS} cells, size <= the "
                          "grid's shorter side, stride >= 1")  # fmt: skip
    codes = geomorphons(array, spacing_m, search_cells=search_cells, flat_degrees=flat_degrees)
    tiles, labels, shares, corners = [], [], [], []
    for row in range(0, array.shape[0] - size + 1, stride):
        for col in range(0, array.shape[1] - size + 1, stride):
            tile = array[row : row + size, col : col + size]
            if np.mean(~np.isfinite(tile)) > max_nodata:
                continue
            tiles.append(tile)
            core = codes[
                row + context_cells : row + size - context_cells, col + context_cells : col + size - context_cells
            ]
            labels.append(tile_landform(core, margin))
            shares.append(element_fractions(core))
            corners.append((row, col))
    if not tiles:
        raise RasterError("no tile with few enough nodata cells", field="elevation", expected="valid tiles")
    return (np.stack(tiles).astype(np.float32), np.asarray(labels, np.int64), np.asarray(shares, np.float64),
            np.asarray(corners, np.int64))  # fmt: skip
