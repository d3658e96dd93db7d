"""Lists of inputs through a pipeline: what happens to a bad item (`errors=`), shared by the waveform, text and
landform pipelines.

    picker(["a.mseed", "b.mseed", "c.mseed"])                   # errors="raise" (the default)
    picker(["a.mseed", "broken.mseed", "c.mseed"], errors="return")
    # -> [{...a's picks...}, {"index": 1, "input": "broken.mseed", "error": "broken.mseed: ...",
    #     "error_type": "WaveformError"}, {...c's picks...}]

- `errors="raise"`: every item is checked before any work (its type; a file exists; a file's headers are read and
  checked: waveform headers with `geohub.data.limits.read_waveform_header`, compressed files inflated within a cap
  first, DEM headers), and the first bad one raises a `GeohubError` naming `inputs[i]`. A file whose headers are fine but whose data is not still fails
  when its turn comes, and then no result is returned.
- `errors="return"`: the same checks, but a bad item becomes its result, `item_error(index, err)`, in its place
  in the answer, and good items get their usual results. An item that fails later (its data, inside the
  pipeline's own preprocess/_forward/postprocess) is found the same way: the list runs batched as usual; when an
  item fails, the items whose results came back are kept, the failing item is run alone (its result or its error
  kept), and the rest of the list runs on. A single input (not a list) with `errors="return"` gives its result or
  its error dict.

The pipelines keep the transformers contract (`preprocess` / `_forward` / `postprocess`); this module only wraps
`__call__`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigError

__all__ = ["ERROR_MODES", "check_errors_mode", "item_error", "run_items", "check_items"]

ERROR_MODES = ("raise", "return")


def check_errors_mode(errors: Any) -> str:
    if errors not in ERROR_MODES:
        raise ConfigError(f"errors={errors!r}", field="errors", expected=" or ".join(repr(m) for m in ERROR_MODES))
    return errors


def _describe(item: Any) -> Any:
    """The input as shown in an error result: a path as text, anything else by its type."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return type(item).__name__


def item_error(index: int | None, err: BaseException, item: Any = None) -> dict:
    """The result of a bad item: `{"index", "input", "error" (one line), "error_type"}`."""
    return {"index": index, "input": _describe(item), "error": " ".join(str(err).split()) or type(err).__name__,
            "error_type": type(err).__name__}  # fmt: skip


def _is_item_error(err: BaseException) -> bool:
    """Errors a bad item can cause (bad values, unreadable files, a library refusing the input); not memory."""
    return isinstance(err, Exception) and not isinstance(err, MemoryError)


def check_items(inputs: Any, check: Callable[[Any, str], None]) -> None:
    """`check(item, "inputs[i]")` for each item of a list (or `check(inputs, "inputs")`): the first bad one raises."""
    if isinstance(inputs, list):  # a list, as transformers' Pipeline.__call__ tells one (a tuple is one input)
        for index, item in enumerate(inputs):
            check(item, f"inputs[{index}]")
    else:
        check(inputs, "inputs")


def run_items(
    inputs: Any,
    check: Callable[[Any, str], None],
    run_many: Callable[[Iterator[Any]], Any],
    run_one: Callable[[Any], Any],
) -> Any:
    """`errors="return"`: the result of each input in its place, `item_error(...)` for a bad one.

    Args:
        inputs: a list of inputs, or one input (a tuple too, as for transformers).
        check: raises for a bad item (before any work), given the item and its field name.
        run_many: runs the pipeline on an iterator of inputs and yields one result per input, in order.
        run_one: runs the pipeline on one input and returns its result.
    """
    if not isinstance(inputs, list):
        try:
            check(inputs, "inputs")
            return run_one(inputs)
        except Exception as err:
            if not _is_item_error(err):
                raise
            return item_error(None, err, inputs)
    results: dict[int, Any] = {}
    todo = []
    for index, item in enumerate(inputs):
        try:
            check(item, f"inputs[{index}]")
        except Exception as err:
            if not _is_item_error(err):
                raise
            results[index] = item_error(index, err, item)
        else:
            todo.append(index)
    while todo:
        produced = 0
        try:
            for result in run_many(inputs[i] for i in todo):
                results[todo[produced]] = result
                produced += 1
            todo = []
        except Exception as err:
            if not _is_item_error(err):
                raise
            first, todo = todo[produced], todo[produced + 1 :]
            try:  # the first item without a result: alone, so that its own error is told from a later item's
                results[first] = run_one(inputs[first])
            except Exception as own:
                if not _is_item_error(own):
                    raise
                results[first] = item_error(first, own, inputs[first])
    return [results[index] for index in range(len(inputs))]


def check_waveform_file(path: str | os.PathLike, field: str) -> None:
    """Headers of a waveform file, read before any work by `geohub.data.limits.read_waveform_header` (no sample
    decoded; a compressed file inflated within a cap first; the format detected first, and a file whose reader
    ignores headonly refused when it would need more than `$GEOHUB_MEMORY_BUDGET_MB`), then its sampling rates: an
    empty, unreadable, truncated, over-large compressed, over-budget or zero-rate file is a `WaveformError` naming
    it and `field`."""
    from ..data.limits import check_waveform_span, read_waveform_header

    source = os.fspath(path)
    check_waveform_span(read_waveform_header(source, field=field), source=source)


def check_dem_file(path: str | os.PathLike, field: str) -> None:
    """Headers of a DEM file, read before any work: the format by suffix and the declared size (`.npy` header,
    `.npz` directory and member headers, GeoTIFF metadata); a `RasterError` naming the file otherwise."""
    from pathlib import Path

    from ..data.limits import DEFAULT_MAX_DEM_CELLS, check_array_file, check_geotiff
    from ..errors import GeohubError, RasterError

    suffix = Path(path).suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            check_geotiff(path, DEFAULT_MAX_DEM_CELLS)
        elif suffix in (".npy", ".npz"):
            check_array_file(path, DEFAULT_MAX_DEM_CELLS)
            if suffix == ".npy":
                _check_npy_size(path)
        else:
            raise RasterError(f"unknown DEM format '{suffix}'", path=path, expected=".tif, .tiff, .npy or .npz")
    except GeohubError as err:
        if field == "inputs":  # one input: the reader's own error, as `read_dem` gives it
            raise
        raise type(err)(f"{field}: {err.message}", path=err.path or path, field=err.field or field,
                        expected=err.expected) from None  # fmt: skip


def _check_npy_size(path: str | os.PathLike) -> None:
    """A `.npy` file shorter than its header declares (a truncated copy) is a `RasterError` naming it."""
    import numpy as np

    from ..errors import RasterError

    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            return  # a newer format version: left to the full read
        shape, _fortran, dtype = read(handle)
        expected = handle.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = os.path.getsize(path)
    if size < expected:
        raise RasterError(f"the file is truncated: {size:,} bytes, its header declares {expected:,}", path=path,
                          expected="a complete NumPy array file")  # fmt: skip
