"""Cheap checks of an input's size and numbers, run BEFORE the expensive step (decoding, resampling, merging,
tokenising), so that a small hostile file cannot cost gigabytes and a bad number is an error, not a silent result.

Every check reads only headers or metadata (zip directory, `.npy` header, GeoTIFF tags, miniSEED headers) or
streams through a compressed file with bounded memory; each raises a `geohub.errors` exception naming the file
and the field, with what was expected.

    check_array_file("tile.npz", max_cells=1_000_000)          # .npy/.npz headers: shape, dtype, declared size
    check_geotiff("site.tif", max_cells=1_000_000)              # width x height x bands from rasterio metadata
    check_resampled_cells((64, 64), (12000.0, 12000.0), 50.0, max_cells=1_000_000)   # cells AFTER resampling
    check_decompressed_size("record.mseed.gz", max_bytes=64 * 2**20)                  # gzip/bz2/xz/zip bombs
    read_waveform_header("record.mseed.gz")                     # the one header read of a waveform file
    check_waveform_read("record.win")        # before any other obspy.read: format (as ObsPy detects it) x size
    check_waveform_span("record.mseed", max_seconds=600)        # span per trace id, gaps included, headers only
    check_text(text, max_characters=20_000)                     # before tokenising
    check_count(num_samples, "num_samples"); check_seed(seed); check_top_k(top_k); check_positive(spacing, "spacing_m")
    check_finite_array(elevation, "elevation", max_abs=MAX_ABS_ELEVATION_M)
    check_memory(batch_size, "batch_size", window_bytes(6000, 3), what="windows")   # memory budget (2 GiB default,
    check_explain_steps(max_steps)                                                 # $GEOHUB_MEMORY_BUDGET_MB)
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import numbers
import os
import tarfile
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, CorpusError, DataError, RasterError, WaveformError

__all__ = [
    "MAX_ABS_ELEVATION_M",
    "MAX_SPACING_M",
    "DEFAULT_MAX_DEM_CELLS",
    "MAX_GAP_FILL_SAMPLES",
    "DEFAULT_MEMORY_BUDGET_MB",
    "memory_budget_bytes",
    "memory_cap",
    "check_memory",
    "check_explain_steps",
    "window_bytes",
    "check_count",
    "check_seed",
    "check_top_k",
    "check_positive",
    "check_finite_array",
    "npy_header",
    "check_array_file",
    "check_geotiff",
    "resampled_shape",
    "check_resampled_cells",
    "check_decompressed_size",
    "check_text",
    "max_decompressed_waveform_bytes",
    "WAVEFORM_MEMORY_FACTORS",
    "REFUSED_WAVEFORM_FORMATS",
    "detect_waveform_format",
    "check_waveform_format",
    "check_waveform_read",
    "read_waveform_header",
    "check_waveform_span",
]

MAX_ABS_ELEVATION_M = 1e5  # Earth's relief spans -11 km..+9 km; beyond 100 km is a nodata marker or wrong units
MAX_SPACING_M = 1e6  # a grid spacing beyond 1000 km is not a DEM
DEFAULT_MAX_DEM_CELLS = 2**27  # 134 M cells = 512 MiB of float32: the library's ceiling for one raster
MAX_GAP_FILL_SAMPLES = 2**24  # samples that gap filling may add per trace: 46 h at 100 Hz, 128 MiB of float64
_CHUNK = 1 << 20
DEFAULT_MEMORY_BUDGET_MB = 2048  # what one call may allocate for its batches, steps or simulations
MEMORY_BUDGET_ENV = "GEOHUB_MEMORY_BUDGET_MB"
ACTIVATION_FACTOR = 16  # a waveform window's activations, as a multiple of its float32 input (conv/LSTM pickers)


# --- memory budget -----------------------------------------------------------------------------------------------
def memory_budget_bytes() -> int:
    """The memory budget in bytes: `$GEOHUB_MEMORY_BUDGET_MB` (a positive number of MiB) or 2048 MiB.

    Hard caps on batch sizes, explanation steps and simulated events are derived from it (`memory_cap`), so one
    setting bounds what a call may allocate. A bad value is a ConfigError naming the variable."""
    raw = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_MEMORY_BUDGET_MB * 2**20
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{MEMORY_BUDGET_ENV}={raw!r}", field=MEMORY_BUDGET_ENV, expected="a positive number of MiB")
    return int(value * 2**20)


def memory_cap(bytes_per_item: float) -> int:
    """How many items of `bytes_per_item` bytes fit the memory budget (at least 1)."""
    return max(1, int(memory_budget_bytes() // max(1.0, float(bytes_per_item))))


def check_memory(count, field: str, bytes_per_item: float, *, what: str = "items", error=ConfigError) -> int:
    """`count` (a whole number >= 1) if `count` items of `bytes_per_item` bytes fit the memory budget; otherwise
    an error naming `field`, the cap and how to raise it, BEFORE anything is allocated.

    The one check of the hard caps: pipelines' `batch_size` (windows), explanation steps, and (H7's forecasts)
    simulated events: `check_memory(num_simulations * max_events, "max_events", bytes_per_event)`."""
    count = check_count(count, field, error=error)
    cap = memory_cap(bytes_per_item)
    if count > cap:
        budget = memory_budget_bytes() / 2**20
        raise error(f"{count} {what} need about {count * bytes_per_item / 2**20:.0f} MiB, over the memory budget of "
                    f"{budget:.0f} MiB (${MEMORY_BUDGET_ENV})", field=field,
                    expected=f"at most {cap} {what}, or a larger ${MEMORY_BUDGET_ENV}")  # fmt: skip
    return count


def window_bytes(window_length: int, channels: int = 3) -> int:
    """Memory of one waveform window through a model: its float32 input times `ACTIVATION_FACTOR`."""
    return int(window_length) * int(channels) * 4 * ACTIVATION_FACTOR


def explain_step_bytes() -> int:
    """Memory per integrated-gradients step count, for the Gauss-Legendre rule's n x n companion matrix (float64,
    about 4 copies in `numpy.polynomial.legendre.leggauss`): steps are capped at sqrt(budget / 32)."""
    return 32


def check_explain_steps(max_steps, field: str = "max_steps", *, error=ConfigError) -> int:
    """`max_steps` if the Gauss-Legendre nodes of that many steps fit the memory budget (n^2 x 32 bytes; 8192
    steps for 2 GiB); the interpolated inputs themselves are bounded by the internal batch size."""
    steps = check_count(max_steps, field, error=error)
    cap = max(1, math.isqrt(memory_budget_bytes() // explain_step_bytes()))
    if steps > cap:
        raise error(f"{steps} integrated-gradients steps need about {steps * steps * 32 / 2**30:.1f} GiB, over the "
                    f"memory budget of {memory_budget_bytes() / 2**20:.0f} MiB (${MEMORY_BUDGET_ENV})", field=field,
                    expected=f"at most {cap} steps, or a larger ${MEMORY_BUDGET_ENV}")  # fmt: skip
    return steps


# --- numbers ---------------------------------------------------------------------------------------------------
def check_count(value, field: str, minimum: int = 1, maximum: int | None = None, *, error=ConfigError) -> int:
    """`value` as an int in [minimum, maximum]; floats must be whole numbers (2.0 is 2; 2.7, NaN, True raise).

    Raises:
        ConfigError (or `error`) naming `field`.
    """
    bad = isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
    if not bad and not isinstance(value, numbers.Integral):
        bad = not math.isfinite(float(value)) or float(value) != int(float(value))
    bounds = f"a whole number >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if bad:
        raise error(f"{value!r} is not a whole number", field=field, expected=bounds)
    count = int(value)
    if count < minimum or (maximum is not None and count > maximum):
        raise error(f"{count} is out of range", field=field, expected=bounds)
    return count


def check_seed(value, field: str = "seed") -> int | None:
    """A random seed: None, or a whole number in [0, 2**32) (floats must be whole: 2.7 raises, never truncated)."""
    if value is None:
        return None
    return check_count(value, field, minimum=0, maximum=2**32 - 1)


def check_top_k(value, num_classes: int | None = None, field: str = "top_k") -> int | None:
    """None (every class) or a whole number >= 1; values above `num_classes` mean every class."""
    if value is None:
        return None
    top_k = check_count(value, field, minimum=1)
    return min(top_k, num_classes) if num_classes else top_k


def check_positive(value, field: str, maximum: float | None = None, *, error=DataError, path=None) -> float:
    """`value` as a finite float > 0 (and <= maximum): zero, negative, NaN, Inf and non-numbers raise."""
    expected = "a finite number > 0" + (f" and <= {maximum:g}" if maximum is not None else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{value!r} is not a number", path=path, field=field, expected=expected)
    number = float(value)
    if not math.isfinite(number) or number <= 0 or (maximum is not None and number > maximum):
        raise error(f"{number:g} is out of range", path=path, field=field, expected=expected)
    return number


def check_finite_array(array, field: str, max_abs: float | None = None, *, allow_nan: bool = False,
                       error=DataError, path=None, hint: str = "", unit: str = "") -> np.ndarray:  # fmt: skip
    """`array` (numeric) with no Inf (and no NaN unless `allow_nan`: NaN then means missing) and |x| <= max_abs.

    Returns the array unchanged. Raises `error` naming `field`, the offending value and its index."""
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise error(f"dtype {array.dtype}", path=path, field=field, expected="integer or float numbers")
    if array.dtype.kind != "f":
        values = array
    else:
        values = np.where(np.isnan(array), 0, array) if allow_nan else array
        bad = ~np.isfinite(values)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise error(f"{int(bad.sum())} non-finite value(s) ({array[index]} at index {index}){hint}",
                        path=path, field=field, expected="finite numbers" + ("; NaN marks missing cells" if allow_nan else ""))  # fmt: skip
    if max_abs is not None and values.size:
        peak = float(np.max(np.abs(values.astype(np.float64, copy=False))))
        if peak > max_abs:
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(values))), values.shape))
            raise error(f"absurd value {array[index]:.6g}{unit} at index {index}{hint}", path=path, field=field,
                        expected=f"|values| <= {max_abs:g}")  # fmt: skip
    return array


# --- arrays and rasters ----------------------------------------------------------------------------------------
def npy_header(handle, source: str = "array") -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header of an open `.npy` stream (reads only the header bytes)."""
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = npy_format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error) as err:
        raise RasterError(
            f"cannot read .npy file: corrupt header ({err})", path=source, expected="a NumPy array file"
        ) from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _check_declared_array(shape, dtype: np.dtype, max_cells: int, source: str, member: str | None) -> None:
    cells = math.prod(shape) if shape else 1
    where = f" member '{member}'" if member else ""
    if dtype.hasobject:
        raise RasterError(f"array{where} holds Python objects", path=source, field=member,
                          expected="a numeric array (saved without pickles)")  # fmt: skip
    if cells > max_cells:
        raise RasterError(f"array{where} declares shape {shape} = {cells:,} cells, over the limit of {max_cells:,}",
                          path=source, field=member, expected="a smaller array")  # fmt: skip


def check_array_file(path: str | os.PathLike, max_cells: int, max_bytes: int | None = None) -> dict:
    """Check a `.npy`/`.npz` from its headers only: {member: (shape, dtype)} (".npy" -> key None).

    `.npz`: every member's uncompressed size from the zip directory (zipfile never inflates a member past its
    declared size) must sum to <= max_bytes (default 8 bytes x max_cells + 1 MiB), and every `.npy` header must
    declare <= max_cells cells. Raises `RasterError` naming the file and the member."""
    path = Path(path)
    source = os.fspath(path)
    max_bytes = max_bytes if max_bytes is not None else 8 * max_cells + _CHUNK
    if path.stat().st_size == 0:
        raise RasterError("the file is empty", path=source, expected="a NumPy array file")
    if path.suffix.lower() == ".npy":
        with path.open("rb") as handle:
            shape, dtype = npy_header(handle, source)
        _check_declared_array(shape, dtype, max_cells, source, None)
        return {None: (shape, dtype)}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > max_bytes:
                biggest = max(infos, key=lambda info: info.file_size)
                raise RasterError(
                    f"archive inflates to {total:,} bytes ('{biggest.filename}': {biggest.file_size:,} bytes from "
                    f"{biggest.compress_size:,}), over the limit of {max_bytes:,}",
                    path=source, field=biggest.filename, expected="a smaller archive (not a decompression bomb)",
                )  # fmt: skip
            members = {}
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as handle:
                    shape, dtype = npy_header(handle, source)
                _check_declared_array(shape, dtype, max_cells, source, key)
                members[key] = (shape, dtype)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as err:
        raise RasterError(f"corrupt .npz: {err}", path=source, expected="a NumPy archive") from None
    return members


def check_geotiff(path: str | os.PathLike, max_cells: int) -> tuple[int, int, int]:
    """(bands, rows, cols) of a GeoTIFF from rasterio's metadata, before any pixel is read."""
    import rasterio
    from rasterio.errors import RasterioError

    source = os.fspath(path)
    try:
        with rasterio.open(source) as src:
            bands, rows, cols = int(src.count), int(src.height), int(src.width)
    except (RasterioError, OSError) as err:
        raise RasterError(f"cannot read GeoTIFF: {err}", path=source, expected="a readable GeoTIFF") from None
    if bands < 1:
        raise RasterError("GeoTIFF has no band", path=source, expected="one elevation band")
    if rows * cols > max_cells:
        raise RasterError(f"GeoTIFF is {rows} x {cols} = {rows * cols:,} cells, over the limit of {max_cells:,}",
                          path=source, expected="a smaller tile")  # fmt: skip
    return bands, rows, cols


def resampled_shape(shape, spacing_m, target_spacing_m: float) -> tuple[int, int]:
    """(rows, cols) of a `(rows, cols)` grid with (row, col) spacing `spacing_m` after `DEM.square_cells()` and
    resampling to `target_spacing_m` (the arithmetic of `TerrainProcessor.resample`), without resampling."""
    rows, cols = int(shape[0]), int(shape[1])
    dy, dx = (float(spacing_m), float(spacing_m)) if np.isscalar(spacing_m) else map(float, spacing_m)
    if abs(dx - dy) / dy >= 1e-3:
        cols = max(2, round(cols * dx / dy))
    if abs(dy - target_spacing_m) / target_spacing_m < 1e-3:
        return rows, cols
    factor = dy / target_spacing_m
    return max(2, round(rows * factor)), max(2, round(cols * factor))


def check_resampled_cells(shape, spacing_m, target_spacing_m: float, max_cells: int, *, path=None,
                          limit_name: str = "the limit") -> tuple[int, int]:  # fmt: skip
    """`resampled_shape`, raising `RasterError` when it exceeds `max_cells` (checked BEFORE resampling)."""
    rows, cols = resampled_shape(shape, spacing_m, target_spacing_m)
    if rows * cols > max_cells:
        values = [float(spacing_m)] * 2 if np.isscalar(spacing_m) else [float(v) for v in spacing_m]
        spacing = f"{values[0]:g}" if values[0] == values[1] else f"{values[0]:g} x {values[1]:g}"
        raise RasterError(
            f"the tile is {shape[0]} x {shape[1]} cells at {spacing} m, which is {rows} x {cols} = {rows * cols:,} "
            f"cells at the model's {target_spacing_m:g} m, over {limit_name} of {max_cells:,}",
            path=path, field="spacing_m", expected="a smaller tile or the right grid spacing",
        )  # fmt: skip
    return rows, cols


# --- compressed files ------------------------------------------------------------------------------------------
def check_decompressed_size(path: str | os.PathLike, max_bytes: int, *, error=DataError) -> int:
    """Decompressed size of a gzip/bzip2/xz/zip file, counted with bounded memory (1 MiB at a time) and stopped
    as soon as it passes `max_bytes`; an uncompressed file counts its own size. Raises `error` over the limit."""
    path = Path(path)
    source = os.fspath(path)
    with path.open("rb") as handle:
        magic = handle.read(6)
    openers = {b"\x1f\x8b": ("gzip", gzip.open), b"BZh": ("bzip2", bz2.open), b"\xfd7zXZ": ("xz", lzma.open)}
    kind, opener = next(((k, o) for m, (k, o) in openers.items() if magic.startswith(m)), (None, None))
    if kind is None and magic.startswith(b"PK\x03\x04"):
        kind = "zip"
    if kind is None:
        return path.stat().st_size
    size = 0
    try:
        if kind == "zip":  # zipfile never inflates a member past its declared size
            with zipfile.ZipFile(path) as archive:
                size = sum(info.file_size for info in archive.infolist())
        else:
            with opener(path, "rb") as stream:
                while size <= max_bytes and (chunk := stream.read(_CHUNK)):
                    size += len(chunk)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as err:
        raise error(f"corrupt {kind} file: {err}", path=source, expected=f"a valid {kind} file") from None
    if size > max_bytes:
        raise error(f"the {kind} file inflates to more than {max_bytes:,} bytes", path=source,
                    expected="a smaller file (not a decompression bomb)")  # fmt: skip
    return size


# --- text ------------------------------------------------------------------------------------------------------
def check_text(text, max_characters: int, field: str = "text", *, path=None, limit_name: str = "the limit") -> str:
    """`text` if it is a non-empty string of at most `max_characters` that looks like text: no NUL, at most 1 %
    control/unassigned characters, at least one letter. Run before tokenising. Raises `CorpusError`."""
    if not isinstance(text, str):
        raise CorpusError(f"got {type(text).__name__}", path=path, field=field, expected="a string")
    if not text.strip():
        raise CorpusError("no text given", path=path, field=field, expected="paste an abstract or upload a .txt file")
    if len(text) > max_characters:
        raise CorpusError(f"the text has {len(text):,} characters, over {limit_name} of {max_characters:,}",
                          path=path, field=field, expected="an abstract or a few paragraphs")  # fmt: skip
    odd = sum(1 for ch in text if ch not in "\n\r\t" and unicodedata.category(ch)[0] == "C")
    if "\x00" in text or odd > max(2, len(text) // 100):
        raise CorpusError(f"the text looks like binary data ({odd:,} control or unassigned characters)", path=path,
                          field=field, expected="plain UTF-8 text")  # fmt: skip
    if not any(ch.isalpha() for ch in text):
        raise CorpusError("the text holds no words", path=path, field=field, expected="sentences of a text")
    return text


# --- waveforms -------------------------------------------------------------------------------------------------
_WAVEFORM_FORMATS = "miniSEED, SAC, GSE2, K-NET or another ObsPy-readable format"
_CORRUPT_WORDS = ("corrupt", "end of file", "truncat", "not enough")  # in ObsPy's warnings about a damaged file
_INFLATE_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, ValueError,
                   NotImplementedError, RuntimeError)  # RuntimeError: an encrypted zip member  # fmt: skip


def max_decompressed_waveform_bytes() -> int:
    """Largest size a compressed waveform file may inflate to: an eighth of the memory budget (256 MiB by default),
    as ObsPy's full read holds the inflated bytes, a copy of them and the samples decoded from them at once."""
    return memory_budget_bytes() // 8


# Bytes of memory per byte of file that ObsPy's reader of a format holds at its peak, for the readers that ignore
# `headonly` (they decode every sample even for a header read, so a header read costs as much as a full one). WIN:
# 0x01 junk (autodetected as WIN) keeps 77x in RSS at 1 and 4 MiB, real WIN files 22x; the others: tracemalloc peak
# on ObsPy's own test files (1 to 200 kB, so the per-file overhead is included: an upper bound for larger files).
# Every other registered reader honours `headonly` (MSEED, SAC, SACXY, GSE2, GSE1, SEISAN, Q, SH_ASC, SLIST, TSPAIR,
# SEGY, SU, WAV, GCF, ALSEP_*, REFTEK130, RG16). Measured with ObsPy 1.5.1.
WAVEFORM_MEMORY_FACTORS = {"WIN": 80, "SEG2": 48, "AH": 20, "PDAS": 210, "KINEMETRICS_EVT": 8, "DMX": 8,
                           "CYBERSHAKE": 8, "KNET": 8, "Y": 8}  # fmt: skip
# Formats that no size bounds: a wfdisc names data files anywhere on the machine; a pickle runs code when loaded.
REFUSED_WAVEFORM_FORMATS = {
    "CSS": "a CSS wfdisc table reads the data files it names, anywhere on this machine and of any size",
    "NNSA_KB_CORE": "an NNSA KB Core wfdisc table reads the data files it names, anywhere on this machine and of any size",
    "PICKLE": "loading a pickled ObsPy Stream runs whatever code the file holds",
}


def detect_waveform_format(path: str | os.PathLike) -> str | None:
    """The format `obspy.read` would give an uncompressed file: its waveform plugins' `isFormat` tests in ObsPy's
    order (`ENTRY_POINTS['waveform']`, as `obspy.core.util.base._read_from_plugin`), or None where none matches or a
    test fails (ObsPy's own read then raises). A pickle is told by its first 100 bytes, as ObsPy's test does before
    it unpickles the file, and never loaded."""
    from obspy.core.util.base import ENTRY_POINTS
    from obspy.core.util.misc import buffered_load_entry_point

    name = os.fspath(path)
    for entry in ENTRY_POINTS["waveform"].values():
        if entry.name == "PICKLE":
            with open(name, "rb") as handle:
                if b"obspy.core.stream" in handle.read(100):
                    return "PICKLE"
            continue
        try:
            is_format = buffered_load_entry_point(entry.dist.name, f"obspy.plugin.waveform.{entry.name}", "isFormat")
            if is_format(name):
                return entry.name
        except Exception:  # noqa: BLE001 - a test that raises: ObsPy's read raises the same, with its own message
            return None
    return None


def check_waveform_format(path: str | os.PathLike, *, source=None, field: str | None = None,
                          member: str | None = None) -> str | None:  # fmt: skip
    """The detected format of an uncompressed waveform file (`detect_waveform_format`), checked BEFORE ObsPy reads
    it (detection itself holds at most twice the file's first line, `_check_first_line`): a format in
    `REFUSED_WAVEFORM_FORMATS`, or a file whose size times its reader's memory factor
    (`WAVEFORM_MEMORY_FACTORS`) exceeds the memory budget, is a WaveformError naming `source` (default `path`), the
    archive `member`, the format, the size and the limit."""
    source = os.fspath(path if source is None else source)
    inside = f"archive member '{member}': " if member else ""
    _check_first_line(path, source, field, inside)
    fmt = detect_waveform_format(path)
    if fmt in REFUSED_WAVEFORM_FORMATS:
        raise WaveformError(f"{inside}the file is ObsPy format {fmt}, which geohub does not read: "
                            f"{REFUSED_WAVEFORM_FORMATS[fmt]}", path=source, field=field, expected=_WAVEFORM_FORMATS)  # fmt: skip
    factor = WAVEFORM_MEMORY_FACTORS.get(fmt, 0)
    size, budget = os.path.getsize(path), memory_budget_bytes()
    if factor and size * factor > budget:
        raise WaveformError(
            f"{inside}the file is detected as ObsPy format {fmt}, whose reader decodes every sample even for its "
            f"headers and holds about {factor} bytes of memory per byte of file: {size:,} bytes would need about "
            f"{size * factor / 2**20:,.0f} MiB, over the memory budget of {budget / 2**20:,.0f} MiB "
            f"(${MEMORY_BUDGET_ENV})", path=source, field=field,
            expected=f"a {fmt} file of at most {budget // factor:,} bytes, another format, or a larger "
                     f"${MEMORY_BUDGET_ENV}",
        )  # fmt: skip
    return fmt


def _check_first_line(path, source: str, field: str | None, inside: str) -> None:
    """ObsPy's tests of the text formats (SACXY, GSE1, SLIST, TSPAIR, CSS, PDAS) read the file's first line whole,
    holding about twice its length: a first line (bytes before the first newline) longer than a quarter of the
    memory budget is refused, found 1 MiB at a time. Binary records have a newline byte every few hundred bytes."""
    limit = memory_budget_bytes() // 4
    if os.path.getsize(path) <= limit:
        return
    with open(path, "rb") as handle:
        seen = 0
        while seen <= limit and (chunk := handle.read(_CHUNK)):
            if b"\n" in chunk:
                return
            seen += len(chunk)
    raise WaveformError(f"{inside}the file has no line break in its first {limit:,} bytes: ObsPy's format tests "
                        f"would read that much as one line, over a quarter of the memory budget "
                        f"(${MEMORY_BUDGET_ENV})", path=source, field=field, expected=_WAVEFORM_FORMATS)  # fmt: skip


def check_waveform_read(path: str | os.PathLike, *, field: str | None = None,
                        max_decompressed_bytes: int | None = None) -> list[str | None]:  # fmt: skip
    """The guard before any `obspy.read` of a file (a full read, or a header read that keeps ObsPy's own handling
    of truncated files): a compressed file is inflated as `read_waveform_header` inflates it (within the cap, to a
    temporary folder removed afterwards) and each member's format checked with `check_waveform_format`; a plain file
    is checked as it is. Returns the detected format of each member (None: left to ObsPy, which raises)."""
    source = os.fspath(path)
    cap = max_decompressed_waveform_bytes() if max_decompressed_bytes is None else int(max_decompressed_bytes)
    with tempfile.TemporaryDirectory(prefix="geohub-waveform-") as scratch:
        members = _inflated_members(source, cap, scratch, field)
        return [check_waveform_format(member, source=source, field=field, member=name)
                for member, name in members or [(source, None)]]  # fmt: skip


def read_waveform_header(path: str | os.PathLike, *, field: str | None = None,
                         max_decompressed_bytes: int | None = None):  # fmt: skip
    """The traces of a waveform file with their headers only (`obspy.read(headonly=True)`: no sample decoded), the
    one header read of geohub (pipelines' checks of file items, `check_waveform_span`).

    A compressed file is read as ObsPy's loaders read it (`.gz` and `.bz2` by name, zip and tar archives of any
    compression by content; xz or a gzip file named otherwise is not inflated by them, so not here either): each
    member is inflated to a temporary file, 1 MiB at a time, and refused as soon as the members pass
    `max_decompressed_bytes` (default `max_decompressed_waveform_bytes()`), so a decompression bomb never fills
    memory or disk; then its headers are read like a plain file's. Each file (or member) has its format detected
    first as ObsPy detects it, and one whose reader ignores `headonly` and would need more than the memory budget
    for its size, or a refused format (a pickle, a CSS wfdisc), is refused before ObsPy reads it
    (`check_waveform_format`).

    Returns:
        an `obspy.Stream` of the file's traces (headers only), members of an archive together.

    Raises:
        WaveformError naming the file (and `field`): empty, unreadable, truncated or corrupt (ObsPy's warnings about
        a short or damaged record are errors here), a corrupt or over-large compressed file, no trace, a format
        refused or over the memory budget.
    """
    source = os.fspath(path)
    if os.path.getsize(source) == 0:
        raise WaveformError("waveform file is empty", path=source, field=field)
    cap = max_decompressed_waveform_bytes() if max_decompressed_bytes is None else int(max_decompressed_bytes)
    with tempfile.TemporaryDirectory(prefix="geohub-waveform-") as scratch:
        members = _inflated_members(source, cap, scratch, field)
        stream = None
        for member, name in members or [(source, None)]:
            fmt = check_waveform_format(member, source=source, field=field, member=name)
            part = _read_headers(member, source, field, name, inflated=member != source, fmt=fmt)
            stream = part if stream is None else stream + part
    if len(stream) == 0:
        raise WaveformError("no traces in the record", path=source, field=field, expected="at least one trace")
    return stream


def _read_headers(
    member: str, source: str, field: str | None, name: str | None, *, inflated: bool, fmt: str | None = None
):
    """`obspy.read(member, headonly=True)`, its failures and corruption warnings a WaveformError naming `source`
    (and the archive member `name`)."""
    import obspy

    inside = f"archive member '{name}': " if name else ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:  # an inflated member is not inflated again, as in ObsPy's own read
            stream = obspy.read(member, format=fmt, headonly=True, check_compression=not inflated)
        except Exception as err:  # ObsPy raises bare Exception/TypeError for unreadable files
            raise WaveformError(f"{inside}cannot read the file's headers ({type(err).__name__}: {err}); it may be "
                                "truncated, corrupt or not a waveform", path=source, field=field,
                                expected=_WAVEFORM_FORMATS) from None  # fmt: skip
    for warning in caught:
        text = str(warning.message)
        if any(word in text.lower() for word in _CORRUPT_WORDS):
            raise WaveformError(f"{inside}file is truncated or corrupt: {text}", path=source, field=field)
    return stream


def _inflated_members(source: str, cap: int, scratch: str, field: str | None) -> list[tuple[str, str | None]]:
    """(temporary path, member name) of each inflated member of a compressed `source`, in ObsPy's order of tests
    (`obspy.core.util.decorator.uncompress_file`); [] for a file ObsPy reads as it is."""
    kind = "tar" if tarfile.is_tarfile(source) else "zip" if zipfile.is_zipfile(source) else None
    kind = kind or ("bzip2" if source.endswith(".bz2") else "gzip" if source.endswith(".gz") else None)
    if kind is None:
        return []
    budget = [cap]  # bytes left to inflate, shared by the members
    too_large = WaveformError(f"the {kind} file inflates to more than {cap:,} bytes", path=source, field=field,
                              expected=f"a smaller file (not a decompression bomb), or a larger ${MEMORY_BUDGET_ENV}")  # fmt: skip

    def copy(stream, name: str | None) -> None:
        target = os.path.join(scratch, str(len(members)))
        with open(target, "wb") as out:
            while chunk := stream.read(min(_CHUNK, budget[0] + 1)):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise too_large
                out.write(chunk)
        members.append((target, name))

    members: list[tuple[str, str | None]] = []
    try:
        if kind == "tar":
            with tarfile.open(source, "r|*") as archive:
                for info in archive:
                    if archive.offset > cap:  # declared sizes and headers so far: refused before inflating
                        raise too_large
                    if info.isfile() and info.size:  # ObsPy skips empty members of a tar archive
                        copy(archive.extractfile(info), info.name)
        elif kind == "zip":
            with zipfile.ZipFile(source) as archive:
                if b"obspy_no_uncompress" in archive.comment:
                    return []
                for info in archive.infolist():
                    with archive.open(info) as stream:
                        copy(stream, info.filename)
        else:
            with (bz2.open if kind == "bzip2" else gzip.open)(source, "rb") as stream:
                copy(stream, None)
    except WaveformError:
        raise
    except _INFLATE_ERRORS as err:
        raise WaveformError(f"corrupt {kind} file: {err}", path=source, field=field,
                            expected=f"a valid {kind} file of {_WAVEFORM_FORMATS}") from None  # fmt: skip
    return members


def _header_stream(stream_or_path, source):
    import obspy

    if isinstance(stream_or_path, obspy.Stream):
        return stream_or_path
    if isinstance(stream_or_path, obspy.Trace):
        return obspy.Stream([stream_or_path])
    return read_waveform_header(stream_or_path)


def check_waveform_span(stream_or_path, max_seconds: float | None = None, *, max_fill_samples: int | None = None,
                        max_stations: int | None = None, sampling_rate: float | None = None,
                        source=None, limit_name: str = "the limit") -> dict[str, float]:  # fmt: skip
    """Span (seconds, gaps included) of every trace id of a Stream/Trace or file, from headers only (a path is
    read with `obspy.read(headonly=True)`), checked BEFORE merging fills the gaps.

    Args:
        max_seconds: longest span per trace id (first sample to last sample + one sample).
        max_fill_samples: most samples gap filling may add per trace id (span x rate - samples present), at
            `sampling_rate` if given (the rate the record is resampled to) else the recorded rate.
        max_stations: most stations (network.station.location).

    Returns:
        {trace id: span seconds}.

    Raises:
        WaveformError naming the trace: a non-positive/non-finite sampling rate, or a limit exceeded.
    """
    if source is None and isinstance(stream_or_path, (str, os.PathLike)):
        source = os.fspath(stream_or_path)
    stream = _header_stream(stream_or_path, source)
    groups: dict[str, list] = {}
    for trace in stream:
        rate = float(trace.stats.sampling_rate)
        if not math.isfinite(rate) or rate <= 0:
            raise WaveformError(f"sampling rate {rate:g} Hz", path=source, field=trace.id, expected="a rate > 0 Hz")
        groups.setdefault(trace.id, []).append(trace)
    stations = {tid.rsplit(".", 1)[0] for tid in groups}
    if max_stations is not None and len(stations) > max_stations:
        raise WaveformError(f"the record has {len(stations)} stations, over {limit_name} of {max_stations}",
                            path=source, expected="fewer stations per file")  # fmt: skip
    spans = {}
    for tid, traces in groups.items():
        rate = max(float(tr.stats.sampling_rate) for tr in traces)
        start = min(tr.stats.starttime for tr in traces)
        end = max(tr.stats.endtime for tr in traces)
        span = float(end - start) + 1.0 / rate
        present = sum(int(tr.stats.npts) for tr in traces)
        gap_s = max(0.0, span - present / rate)
        spans[tid] = span
        note = f" ({gap_s:.0f} s of it in gaps)" if gap_s >= 1.0 else ""
        if max_seconds is not None and span > max_seconds + 0.5 / rate:
            raise WaveformError(f"station {tid.rsplit('.', 1)[0]} has {span:.0f} s of data, over {limit_name} of "
                                f"{max_seconds:.0f} s{note}", path=source, field=tid,
                                expected="a shorter record (cut it with ObsPy's Stream.trim)")  # fmt: skip
        fill = span * float(sampling_rate or rate) - present * float(sampling_rate or rate) / rate
        if max_fill_samples is not None and fill > max_fill_samples:
            raise WaveformError(
                f"filling the gaps would add {fill:,.0f} samples ({gap_s:,.0f} s at {rate:g} Hz), over {limit_name} "
                f"of {max_fill_samples:,}", path=source, field=tid,
                expected="a record without long gaps (split it at the gaps, or read with fill_gaps='raise')",
            )  # fmt: skip
    return spans
