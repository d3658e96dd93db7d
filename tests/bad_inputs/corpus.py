"""A corpus of hostile inputs, generated at test time (nothing large is committed).

`make_corpus(folder)` writes every case of `CASES` into `folder` and returns `{name: BadInput}`. Each case names
the demo endpoint it is sent to (with its `predict()` arguments; `FILE` marks the uploaded file), the regex of the
clear error the demo must answer with, and, where a library reader handles the same file, the reader and the
regex of its error. Cases: decompression bombs (.npz, gzip), headers declaring huge arrays or rasters, corrupt
headers, wrong dtypes and shapes, pickled objects, 1e30 / NaN / Inf DEMs, an absurd grid spacing, empty files,
non-UTF-8 and binary text, gapped miniSEED (2 and 30 days), a zero sampling rate.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geohub.demo.examples import DEM_EXAMPLES

FILE = object()  # placeholder for the uploaded file in `BadInput.args`
DEM_EXAMPLE = next(iter(DEM_EXAMPLES))  # a bundled real DEM tile of the Landform tab


@dataclass(frozen=True)
class BadInput:
    """One hostile input.

    Attributes:
        name: case id.
        path: the generated file (None for inputs given as values).
        endpoint: demo `api_name` it is sent to, or None (library only).
        args: `predict()` arguments, `FILE` where the upload goes.
        error: regex the demo's error message must match.
        reader: "dem", "waveform", "text" or None: the library reader that must refuse the file too.
        reader_kwargs: keyword arguments of that reader.
        reader_error: regex of the reader's error (default `error`).
    """

    name: str
    path: Path | None
    endpoint: str | None
    args: tuple
    error: str
    reader: str | None = None
    reader_kwargs: dict = field(default_factory=dict)
    reader_error: str | None = None


# --- generators: each writes its file(s) and returns the BadInput ------------------------------------------------
def _npy_header(shape, descr: str = "<f8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def npz_bomb(folder: Path) -> BadInput:
    """A ~520 KB .npz whose one float64 member inflates to 538 MB of zeros (the issue's 1 MB -> 2 GB case)."""
    path = folder / "bomb.npz"
    shape = (8200, 8200)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("elevation.npy", "w", force_zip64=True) as member:
            member.write(_npy_header(shape))
            zeros = bytes(1 << 20)
            remaining = shape[0] * shape[1] * 8
            while remaining:
                member.write(zeros[: min(remaining, len(zeros))])
                remaining -= min(remaining, len(zeros))
    return BadInput("npz_bomb", path, "classify_landform", (FILE, None, 30), r"bomb\.npz.*inflates to more than",
                    "dem", {"spacing_m": 30.0, "max_cells": 1_000_000}, r"bomb\.npz.*over the limit")  # fmt: skip


def npy_huge_header(folder: Path) -> BadInput:
    path = folder / "huge_header.npy"
    path.write_bytes(_npy_header((100_000, 100_000), "<f4") + bytes(64))
    return BadInput("npy_huge_header", path, "classify_landform", (FILE, None, 30),
                    r"huge_header\.npy.*declares shape \(100000, 100000\) = 10,000,000,000 cells, over the limit",
                    "dem", {"spacing_m": 30.0})  # fmt: skip


def npz_huge_member(folder: Path) -> BadInput:
    """A tiny zip whose member declares a 10^10-cell array (zip directory says 80 bytes: the header lies)."""
    path = folder / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("elevation.npy", _npy_header((100_000, 100_000)) + bytes(16))
    return BadInput("npz_huge_member", path, "classify_landform", (FILE, None, 30),
                    r"liar\.npz field 'elevation'.*10,000,000,000 cells", "dem", {"spacing_m": 30.0})  # fmt: skip


def npy_corrupt_header(folder: Path) -> BadInput:
    path = folder / "corrupt.npy"
    path.write_bytes(b"\x93NUMPY garbage that is not an array header at all" * 4)
    return BadInput("npy_corrupt_header", path, "classify_landform", (FILE, None, 30),
                    r"corrupt\.npy: cannot read \.npy file: corrupt header", "dem", {"spacing_m": 30.0})  # fmt: skip


def npy_pickled_objects(folder: Path) -> BadInput:
    path = folder / "objects.npy"
    array = np.empty((8, 8), dtype=object)
    array[:] = 1.0
    np.save(path, array, allow_pickle=True)
    return BadInput("npy_pickled_objects", path, "classify_landform", (FILE, None, 30),
                    r"objects\.npy: array holds Python objects", "dem", {"spacing_m": 30.0})  # fmt: skip


def npy_complex_dtype(folder: Path) -> BadInput:
    path = folder / "complex.npy"
    np.save(path, np.ones((16, 16), dtype=np.complex64))
    return BadInput("npy_complex_dtype", path, "classify_landform", (FILE, None, 30),
                    r"complex\.npy: elevation has dtype complex64", "dem", {"spacing_m": 30.0})  # fmt: skip


def npy_string_dtype(folder: Path) -> BadInput:
    path = folder / "strings.npy"
    np.save(path, np.full((16, 16), "abc"))
    return BadInput("npy_string_dtype", path, "classify_landform", (FILE, None, 30),
                    r"strings\.npy: elevation has dtype <U3", "dem", {"spacing_m": 30.0})  # fmt: skip


def npy_wrong_shape(folder: Path) -> BadInput:
    path = folder / "cube.npy"
    np.save(path, np.ones((3, 16, 16), dtype=np.float32))
    return BadInput("npy_wrong_shape", path, "classify_landform", (FILE, None, 30),
                    r"cube\.npy: elevation has shape \(3, 16, 16\)", "dem", {"spacing_m": 30.0})  # fmt: skip


def _relief(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return (200.0 + 40.0 * np.sin(x / 7.0) * np.cos(y / 9.0)).astype(np.float32)


def dem_1e30(folder: Path) -> BadInput:
    """The issue's case: values near 1e30 gave NaN scores labelled "plain"."""
    path = folder / "huge_values.npy"
    array = _relief()
    array[10:20, 10:20] = 1e30
    np.save(path, array)
    return BadInput("dem_1e30", path, "classify_landform", (FILE, None, 50),
                    r"huge_values\.npy field 'elevation': absurd value 1e\+30 m", "dem", {"spacing_m": 50.0})  # fmt: skip


def dem_all_nan(folder: Path) -> BadInput:
    path = folder / "all_nan.npy"
    np.save(path, np.full((64, 64), np.nan, dtype=np.float32))
    return BadInput("dem_all_nan", path, "classify_landform", (FILE, None, 50), r"all_nan\.npy: raster is all nodata",
                    "dem", {"spacing_m": 50.0})  # fmt: skip


def dem_inf(folder: Path) -> BadInput:
    path = folder / "inf.npy"
    array = _relief()
    array[5, 7] = np.inf
    np.save(path, array)
    return BadInput("dem_inf", path, "classify_landform", (FILE, None, 50),
                    r"inf\.npy field 'elevation': 1 non-finite value\(s\) \(inf at index \(5, 7\)\)", "dem",
                    {"spacing_m": 50.0})  # fmt: skip


def dem_float64_overflow(folder: Path) -> BadInput:
    path = folder / "overflow.npy"
    array = _relief().astype(np.float64)
    array[0, 0] = -1e300
    np.save(path, array)
    return BadInput("dem_float64_overflow", path, "classify_landform", (FILE, None, 50),
                    r"overflow\.npy field 'elevation': 1 non-finite value", "dem", {"spacing_m": 50.0})  # fmt: skip


def dem_huge_spacing(folder: Path) -> BadInput:
    """The issue's case: a 64 x 64 tile at 12000 m used 3.3 GB (resampled to the model's spacing first)."""
    path = folder / "coarse.npy"
    np.save(path, _relief())
    return BadInput("dem_huge_spacing", path, "classify_landform", (FILE, None, 12000),
                    r"coarse\.npy field 'spacing_m': the tile is 64 x 64 cells at 12000 m, which is \d+ x \d+ = "
                    r"[\d,]+ cells at the model's [\d.]+ m, over the demo's limit of 1,048,576")  # fmt: skip


def dem_nan_spacing(folder: Path) -> BadInput:
    path = folder / "nan_spacing.npy"
    np.save(path, _relief())
    return BadInput("dem_nan_spacing", path, None, (), "", "dem", {"spacing_m": float("nan")},
                    r"field 'spacing_m': nan is out of range")  # fmt: skip


def dem_zero_spacing(folder: Path) -> BadInput:
    path = folder / "zero_spacing.npy"
    np.save(path, _relief())
    return BadInput("dem_zero_spacing", path, None, (), "", "dem", {"spacing_m": (50.0, 0.0)},
                    r"field 'spacing_m': 0 is out of range \(expected a finite number > 0")  # fmt: skip


def tif_corrupt_header(folder: Path) -> BadInput:
    path = folder / "corrupt.tif"
    path.write_bytes(b"II*\x00\x08\x00\x00\x00" + bytes(range(256)) * 8)
    return BadInput("tif_corrupt_header", path, "classify_landform", (FILE, None, None),
                    r"corrupt\.tif: cannot read GeoTIFF", "dem")  # fmt: skip


def tif_huge_dimensions(folder: Path) -> BadInput:
    """A sparse GeoTIFF (no block written) declaring 60000 x 60000 float32 cells: 14 GB if read."""
    import rasterio
    from rasterio.transform import Affine

    path = folder / "huge.tif"
    profile = {"driver": "GTiff", "width": 60_000, "height": 60_000, "count": 1, "dtype": "float32",
               "tiled": True, "blockxsize": 1024, "blockysize": 1024, "compress": "deflate", "sparse_ok": True,
               "crs": "EPSG:32633", "transform": Affine(50.0, 0.0, 500_000.0, 0.0, -50.0, 6_000_000.0)}  # fmt: skip
    with rasterio.open(path, "w", **profile):
        pass
    return BadInput("tif_huge_dimensions", path, "classify_landform", (FILE, None, None),
                    r"huge\.tif: GeoTIFF is 60000 x 60000 = 3,600,000,000 cells, over the limit", "dem")  # fmt: skip


def dem_empty_file(folder: Path) -> BadInput:
    path = folder / "empty.npy"
    path.write_bytes(b"")
    return BadInput("dem_empty_file", path, "classify_landform", (FILE, None, 30),
                    r"empty\.npy: the uploaded DEM tile is empty", "dem", {"spacing_m": 30.0},
                    r"empty\.npy: the file is empty")  # fmt: skip


def text_not_utf8(folder: Path) -> BadInput:
    path = folder / "latin1.txt"
    path.write_bytes("Granit aus dem Schwarzwald, Gneis und Schiefer. ".encode("latin-1") + b"\xff\xfe\xfa\xc3\x28")
    return BadInput("text_not_utf8", path, "summarize", ("", FILE, 1),
                    r"latin1\.txt: the uploaded file is not UTF-8 text \(byte \d+\)")  # fmt: skip


def text_random_bytes(folder: Path) -> BadInput:
    """Random bytes pasted as text (decoded as Latin-1): was tagged as QUANTITY."""
    text = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes().decode("latin-1")
    return BadInput("text_random_bytes", None, "extract_knowledge", (text, None),
                    r"field 'text': the text looks like binary data", "text")  # fmt: skip


def text_nul_bytes(folder: Path) -> BadInput:
    return BadInput("text_nul_bytes", None, "summarize", ("Basalt flows\x00 cover the plateau.", None, 1),
                    r"the text looks like binary data", "text")  # fmt: skip


def text_no_words(folder: Path) -> BadInput:
    return BadInput("text_no_words", None, "summarize", ("3.14 2.71 1.41 ... 42 -- 17 %", None, 1),
                    r"the text holds no words", "text")  # fmt: skip


def text_oversized_file(folder: Path) -> BadInput:
    path = folder / "long.txt"
    path.write_bytes(b"Basalt and granite. " * 5000)  # 100 kB
    return BadInput("text_oversized_file", path, "summarize", ("", FILE, 1),
                    r"long\.txt: the uploaded text file is 100,000 bytes, more than the demo's limit of 20,000 "
                    r"characters", "text", {"max_characters": 20_000},
                    r"the text has 100,000 characters, over the limit of 20,000")  # fmt: skip


def text_empty_file(folder: Path) -> BadInput:
    path = folder / "empty.txt"
    path.write_bytes(b"")
    return BadInput("text_empty_file", path, "extract_knowledge", ("", FILE), r"empty\.txt: the uploaded text file "
                    r"is empty", "text", {}, r"no text given")  # fmt: skip


def _gapped_stream(gap_days: float):
    import obspy

    rng = np.random.default_rng(1)
    traces = []
    for start in (obspy.UTCDateTime(2024, 1, 1), obspy.UTCDateTime(2024, 1, 1) + gap_days * 86400 + 10):
        for component in "ZNE":
            data = rng.integers(-50, 50, 1000).astype(np.int32)
            traces.append(obspy.Trace(data, header={"network": "XX", "station": "GAP", "channel": f"HH{component}",
                                                    "sampling_rate": 100.0, "starttime": start}))  # fmt: skip
    return obspy.Stream(traces)


def _gap_case(folder: Path, days: int) -> BadInput:
    path = folder / f"gap_{days}d.mseed"
    _gapped_stream(days).write(str(path), format="MSEED", encoding="STEIM2", reclen=512)
    span = days * 86400 + 20
    return BadInput(f"miniseed_gap_{days}_days", path, "annotate_seismic", (FILE, None),
                    rf"gap_{days}d\.mseed field 'XX\.GAP\.\.HH[ZNE]': station XX\.GAP\. has {span} s of data, over "
                    rf"the demo's limit of 600 s \({span - 20} s of it in gaps\)", "waveform", {},
                    r"filling the gaps would add [\d,]+ samples")  # fmt: skip


def miniseed_gap_2_days(folder: Path) -> BadInput:
    """The issue's case: a 24 KB miniSEED with a 2-day gap cost 0.7 GB."""
    return _gap_case(folder, 2)


def miniseed_gap_30_days(folder: Path) -> BadInput:
    """The issue's case: a 30-day gap cost more than 5.5 GB."""
    return _gap_case(folder, 30)


def miniseed_gzip_bomb(folder: Path) -> BadInput:
    """600 MB of zeros gzipped to ~600 KB, named like a miniSEED file (ObsPy inflates gzip files by itself)."""
    path = folder / "bomb.mseed"
    zeros = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(600):
            handle.write(zeros)
    return BadInput("miniseed_gzip_bomb", path, "annotate_seismic", (FILE, None),
                    r"bomb\.mseed: the gzip file inflates to more than 67,108,864 bytes")  # fmt: skip


def miniseed_empty_file(folder: Path) -> BadInput:
    path = folder / "empty.mseed"
    path.write_bytes(b"")
    return BadInput(
        "miniseed_empty_file",
        path,
        "annotate_seismic",
        (FILE, None),
        r"empty\.mseed: the uploaded waveform file is empty",
        "waveform",
        {},
        r"waveform file is empty",
    )


def miniseed_zero_sampling_rate(folder: Path) -> BadInput:
    """A miniSEED record whose header says 0 Hz (a zero sampling rate raised ZeroDivisionError)."""
    import obspy

    path = folder / "zero_rate.mseed"
    trace = obspy.Trace(np.ones(500, dtype=np.int32), header={"station": "ZR", "channel": "HHZ", "sampling_rate": 0.0})
    trace.write(str(path), format="MSEED")
    return BadInput("miniseed_zero_sampling_rate", path, "annotate_seismic", (FILE, None),
                    r"zero_rate\.mseed field '\.ZR\.\.HHZ': sampling rate 0 Hz", "waveform", {},
                    r"zero_rate\.mseed.*(sampling rate|sampling_rate)")  # fmt: skip


CASES: dict[str, Callable[[Path], BadInput]] = {
    make.__name__: make
    for make in (npz_bomb, npy_huge_header, npz_huge_member, npy_corrupt_header, npy_pickled_objects,
                 npy_complex_dtype, npy_string_dtype, npy_wrong_shape, dem_1e30, dem_all_nan, dem_inf,
                 dem_float64_overflow, dem_huge_spacing, dem_nan_spacing, dem_zero_spacing, tif_corrupt_header,
                 tif_huge_dimensions, dem_empty_file, text_not_utf8, text_random_bytes, text_nul_bytes, text_no_words,
                 text_oversized_file, text_empty_file, miniseed_gap_2_days, miniseed_gap_30_days, miniseed_gzip_bomb,
                 miniseed_empty_file, miniseed_zero_sampling_rate)
}  # fmt: skip

# cases that depend on another engineer's reader fix (seismic reading): name -> reason
PENDING: dict[str, str] = {}


_MADE: dict[str, dict[str, BadInput]] = {}


def shared_corpus(tmp_path_factory) -> dict[str, BadInput]:
    """`make_corpus` once per test session (the bad_inputs and demo tests share it)."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _MADE:
        _MADE[key] = make_corpus(tmp_path_factory.mktemp("bad-inputs"))
    return _MADE[key]


def make_corpus(folder: Path) -> dict[str, BadInput]:
    """Write every case into `folder`; returns {name: BadInput}."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = {name: make(folder) for name, make in CASES.items()}
    assert all(case.name == name for name, case in corpus.items())
    return corpus


def predict_args(case: BadInput) -> tuple:
    """The case's `predict()` arguments with `FILE` replaced by `gradio_client.handle_file(path)`."""
    from gradio_client import handle_file

    return tuple(handle_file(str(case.path)) if arg is FILE else arg for arg in case.args)
