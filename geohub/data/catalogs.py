"""Earthquake catalogues for forecasting: readers, completeness filter, windows by date, training sequences.

    from geohub.data.catalogs import read_catalog, benchmark_windows
    catalog = read_catalog("../shared/data/earthquake-catalogs/SanJac_catalog.csv",
                           region=[(33, -117), (33, -116), (34, -116), (34, -117)])
    catalog = catalog.complete_above(1.0, delta_m=0.1)

Sources: a CSV file (columns `time` and `magnitude` at least; optional `longitude`, `latitude`, `depth`; times
ISO-8601 UTC, e.g. `2016-01-01 00:00:00.000`), a QuakeML file (read with ObsPy) or an ObsPy `Catalog`. A CSV must
be sorted by time; a QuakeML document has no meaningful order, so its events are sorted. Bad input (unsorted or
duplicate times, a missing or non-numeric magnitude, an unparseable time, a time outside 1900-2100, a file that is
not UTF-8) is a `DataError` naming the file and the row (CSV rows are counted from 1 after the header; the error
gives the file's line number).

Times are kept as `datetime64[ms]`; models see days (`float64`) since an origin (`days_since`). A `CatalogWindow`
is the events of `[start, end)` together with their history (every earlier event from the auxiliary start), the
conditioning of the EarthquakeNPP benchmark (Stockman, Lawson & Werner 2024).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = [
    "EarthquakeCatalog",
    "CatalogWindow",
    "read_catalog",
    "read_csv_catalog",
    "from_obspy",
    "to_datetime64",
    "days_since",
    "point_in_polygon",
    "catalog_window",
    "split_windows",
    "sequence_features",
    "sequence_dataset",
]

_MS_PER_DAY = 86_400_000.0
_EARLIEST, _LATEST = np.datetime64("1900-01-01", "ms"), np.datetime64("2100-01-01", "ms")


def to_datetime64(value, *, field: str = "time") -> np.datetime64:
    """A time given as text, `datetime`, ObsPy `UTCDateTime` or `datetime64` -> `datetime64[ms]` (UTC)."""
    if hasattr(value, "datetime") and not isinstance(value, np.datetime64):  # obspy UTCDateTime
        value = value.datetime
    try:
        text = value.strip().replace("T", " ").rstrip("Z") if isinstance(value, str) else value
        result = np.datetime64(text, "ms")
    except (ValueError, TypeError):
        raise DataError(
            f"cannot read time {value!r}", field=field, expected="YYYY-MM-DD[ HH:MM:SS[.fff]] UTC"
        ) from None
    if np.isnat(result):
        raise DataError(f"time {value!r} is empty", field=field, expected="a date")
    return result


def days_since(times: np.ndarray, origin) -> np.ndarray:
    """Days (float64) from `origin` to each of `times` (`datetime64`)."""
    origin = to_datetime64(origin)
    return (np.asarray(times, dtype="datetime64[ms]") - origin).astype(np.int64) / _MS_PER_DAY


def point_in_polygon(lat: np.ndarray, lon: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """Which (lat, lon) points lie inside or on the edge of `polygon` ((lat, lon) vertices), by ray casting."""
    vertices = np.asarray(polygon, dtype=float)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
        raise DataError("region must be at least 3 (latitude, longitude) vertices", field="region")
    x, y = np.asarray(lat, float), np.asarray(lon, float)
    inside = np.zeros(x.shape, bool)
    on_edge = np.zeros(x.shape, bool)
    for (x1, y1), (x2, y2) in zip(vertices, np.roll(vertices, -1, axis=0)):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        within = (np.minimum(x1, x2) <= x) & (x <= max(x1, x2)) & (np.minimum(y1, y2) <= y) & (y <= max(y1, y2))
        on_edge |= within & (np.abs(cross) < 1e-12)
    return inside | on_edge


@dataclass(frozen=True)
class EarthquakeCatalog:
    """Events sorted by time.

    Args:
        times: `(N,)` `datetime64[ms]`, strictly increasing (UTC).
        magnitudes: `(N,)` float64.
        longitudes, latitudes, depths: `(N,)` float64 (degrees, degrees, km), NaN where unknown.
        source: where the events came from (a path or "obspy"), for error messages.
    """

    times: np.ndarray
    magnitudes: np.ndarray
    longitudes: np.ndarray
    latitudes: np.ndarray
    depths: np.ndarray
    source: str = "catalog"

    def __len__(self) -> int:
        return len(self.times)

    @property
    def span(self) -> tuple[np.datetime64, np.datetime64]:
        if not len(self):
            raise DataError("the catalogue has no events", path=self.source)
        return self.times[0], self.times[-1]

    def subset(self, mask: np.ndarray) -> EarthquakeCatalog:
        return EarthquakeCatalog(self.times[mask], self.magnitudes[mask], self.longitudes[mask],
                                 self.latitudes[mask], self.depths[mask], self.source)  # fmt: skip

    def between(self, start=None, end=None) -> EarthquakeCatalog:
        """Events with `start <= time < end` (either bound may be None)."""
        mask = np.ones(len(self), bool)
        if start is not None:
            mask &= self.times >= to_datetime64(start, field="start")
        if end is not None:
            mask &= self.times < to_datetime64(end, field="end")
        return self.subset(mask)

    def complete_above(self, mc: float, delta_m: float = 0.0) -> EarthquakeCatalog:
        """Events at or above the magnitude of completeness `mc`, after rounding magnitudes half up to bins of
        `delta_m` (0: no binning), as the benchmark's ETAS code does."""
        magnitudes = self.magnitudes
        if delta_m > 0:
            magnitudes = np.floor(magnitudes / delta_m + 0.5 + 1e-9) * delta_m
        keep = magnitudes >= mc - 1e-9
        kept = self.subset(keep)
        return EarthquakeCatalog(kept.times, magnitudes[keep], kept.longitudes, kept.latitudes, kept.depths,
                                 self.source)  # fmt: skip

    def in_region(self, polygon: Sequence[Sequence[float]]) -> EarthquakeCatalog:
        """Events inside (or on the edge of) a polygon of (latitude, longitude) vertices."""
        if np.isnan(self.latitudes).any() or np.isnan(self.longitudes).any():
            raise DataError("a region filter needs latitude and longitude for every event", path=self.source,
                            field="latitude/longitude")  # fmt: skip
        return self.subset(point_in_polygon(self.latitudes, self.longitudes, polygon))


def _check_order(times: np.ndarray, source: str, line_offset: int | None) -> None:
    steps = np.diff(times.astype(np.int64))
    for bad, what in ((steps == 0, "has the same time as the row before (duplicate event)"),
                      (steps < 0, "is earlier than the row before (the catalogue must be sorted by time)")):  # fmt: skip
        if bad.any():
            row = int(np.argmax(bad)) + 1
            line = row + line_offset if line_offset is not None else None
            raise DataError(f"event {row + 1} at {times[row]} {what}", path=source, line=line, field="time")


def _build(times, magnitudes, lon, lat, depth, source: str, line_offset: int | None) -> EarthquakeCatalog:
    times = np.asarray(times, dtype="datetime64[ms]")
    out = (times < _EARLIEST) | (times >= _LATEST)
    if out.any():
        row = int(np.argmax(out))
        raise DataError(f"event {row + 1}: time {times[row]} out of range", path=source,
                        line=row + line_offset if line_offset is not None else None, field="time",
                        expected="a time between 1900-01-01 and 2100-01-01")  # fmt: skip
    _check_order(times, source, line_offset)
    as_float = [np.asarray(v, dtype=np.float64) for v in (magnitudes, lon, lat, depth)]
    return EarthquakeCatalog(times, *as_float, source=source)


def _number(text: str, column: str, source: str, line: int, *, required: bool) -> float:
    text = (text or "").strip()
    if not text or text.lower() in {"nan", "na", "none"}:
        if required:
            raise DataError("missing value", path=source, line=line, field=column, expected="a number")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"not a number: {text!r}", path=source, line=line, field=column) from None
    if not math.isfinite(value):
        raise DataError(f"not a finite number: {text!r}", path=source, line=line, field=column)
    return value


def read_csv_catalog(path: str | os.PathLike) -> EarthquakeCatalog:
    """Read a CSV catalogue (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("catalogue file not found", path=path, expected="a CSV or QuakeML file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"not UTF-8 text (byte 0x{raw[err.start]:02x})", path=path, line=line,
                        expected="a UTF-8 encoded CSV file") from None  # fmt: skip
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    missing = [c for c in ("time", "magnitude") if c not in columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", path=path, line=1,
                        expected="a header with at least 'time' and 'magnitude'")  # fmt: skip
    times, values = [], {c: [] for c in ("magnitude", "longitude", "latitude", "depth")}
    for line, row in enumerate(reader, start=2):
        try:
            times.append(to_datetime64(row[columns["time"]] or "", field="time"))
        except DataError as err:
            raise DataError(err.message, path=path, line=line, field="time", expected=err.expected) from None
        for name in values:
            cell = row.get(columns[name]) if name in columns else None
            values[name].append(_number(cell, name, str(path), line, required=name == "magnitude"))
    if not times:
        raise DataError("the catalogue has no events", path=path, expected="one event per row after the header")
    return _build(times, values["magnitude"], values["longitude"], values["latitude"], values["depth"], str(path),
                  line_offset=2)  # event 0 is on line 2, after the header  # fmt: skip


def from_obspy(catalog, source: str = "obspy") -> EarthquakeCatalog:
    """An ObsPy `Catalog` -> `EarthquakeCatalog` (preferred origin and magnitude of each event; sorted by time)."""
    rows = []
    for index, event in enumerate(catalog):
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        magnitude = event.preferred_magnitude() or (event.magnitudes[0] if event.magnitudes else None)
        if origin is None or origin.time is None:
            raise DataError(f"event {index + 1} has no origin time", path=source, field="origin")
        if magnitude is None or magnitude.mag is None:
            raise DataError(f"event {index + 1} ({origin.time}) has no magnitude", path=source, field="magnitude")
        depth = origin.depth / 1000.0 if origin.depth is not None else math.nan  # QuakeML depths are metres
        rows.append((to_datetime64(origin.time), float(magnitude.mag),
                     math.nan if origin.longitude is None else float(origin.longitude),
                     math.nan if origin.latitude is None else float(origin.latitude), depth))  # fmt: skip
    if not rows:
        raise DataError("the catalogue has no events", path=source)
    rows.sort(key=lambda r: r[0])
    columns = list(zip(*rows))
    return _build(np.array(columns[0], dtype="datetime64[ms]"), *columns[1:], source=source, line_offset=None)


def read_catalog(source, *, region: Sequence[Sequence[float]] | str | os.PathLike | None = None) -> EarthquakeCatalog:
    """Read a catalogue from a CSV or QuakeML path, an ObsPy `Catalog` or an `EarthquakeCatalog`.

    `region`: (latitude, longitude) polygon vertices, or a `.npy` file of them; events outside are dropped."""
    if isinstance(source, EarthquakeCatalog):
        catalog = source
    elif hasattr(source, "events") and hasattr(source, "write"):
        catalog = from_obspy(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError("catalogue file not found", path=path, expected="a CSV or QuakeML file")
        with open(path, "rb") as handle:
            head = handle.read(512).lstrip()
        if head.startswith(b"<"):
            import obspy

            try:
                catalog = from_obspy(obspy.read_events(str(path), format="QUAKEML"), source=str(path))
            except DataError:
                raise
            except Exception as err:  # ObsPy raises many types for malformed XML
                raise DataError(f"cannot read QuakeML: {err}", path=path, expected="a QuakeML 1.2 document") from None
        else:
            catalog = read_csv_catalog(path)
    if region is not None:
        if isinstance(region, (str, os.PathLike)):
            region = np.load(region, allow_pickle=False)
        catalog = catalog.in_region(region)
    return catalog


@dataclass(frozen=True)
class CatalogWindow:
    """The events of `[start, end)` (`events`) and their conditioning history (`history`: earlier events).

    `times_days()` gives both in days since `origin` (the auxiliary start)."""

    events: EarthquakeCatalog
    history: EarthquakeCatalog
    start: np.datetime64
    end: np.datetime64
    origin: np.datetime64

    @property
    def duration_days(self) -> float:
        return float(days_since(np.array([self.end]), self.start)[0])

    def times_days(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(history times, event times, window start, window end), all days since `origin`."""
        start, end = days_since(np.array([self.start, self.end]), self.origin)
        return days_since(self.history.times, self.origin), days_since(self.events.times, self.origin), start, end


def catalog_window(catalog: EarthquakeCatalog, start, end, *, auxiliary_start=None, magnitude_threshold=None,
                   allow_empty: bool = False) -> CatalogWindow:  # fmt: skip
    """The window `[start, end)` of `catalog` with every event from `auxiliary_start` (default: the first event)
    before `start` as history, keeping magnitudes >= `magnitude_threshold` (None: all)."""
    start, end = to_datetime64(start, field="start"), to_datetime64(end, field="end")
    if not end > start:
        raise DataError(f"window end {end} is not after its start {start}", field="end")
    if magnitude_threshold is not None:
        catalog = catalog.subset(catalog.magnitudes >= float(magnitude_threshold) - 1e-9)
    if not len(catalog):
        raise DataError("no events at or above the magnitude threshold", path=catalog.source, field="magnitude")
    first, last = catalog.span
    origin = to_datetime64(auxiliary_start, field="auxiliary_start") if auxiliary_start is not None else first
    origin = min(origin, start)
    if end <= first or start > last + np.timedelta64(3650, "D"):
        raise DataError(f"window {start} to {end} is outside the catalogue ({first} to {last})", path=catalog.source,
                        field="start", expected="a window that overlaps the catalogue or starts within 10 years of its "
                        "last event")  # fmt: skip
    events = catalog.between(start, end)
    if not len(events) and not allow_empty:
        raise DataError(f"no events in the window {start} to {end}", path=catalog.source, field="start/end",
                        expected="a window containing at least one event")  # fmt: skip
    return CatalogWindow(events, catalog.between(origin, start), start, end, origin)


def split_windows(catalog: EarthquakeCatalog, *, auxiliary_start, train_start, validation_start=None,
                  test_start, test_end, magnitude_threshold=None) -> dict[str, CatalogWindow]:  # fmt: skip
    """Training / (validation) / test windows by date, each conditioned on all earlier events from
    `auxiliary_start`: train `[train_start, validation_start or test_start)`, validation
    `[validation_start, test_start)`, test `[test_start, test_end)`."""
    bounds = [("train", train_start, validation_start or test_start)]
    if validation_start is not None:
        bounds.append(("validation", validation_start, test_start))
    bounds.append(("test", test_start, test_end))
    return {name: catalog_window(catalog, a, b, auxiliary_start=auxiliary_start,
                                 magnitude_threshold=magnitude_threshold) for name, a, b in bounds}  # fmt: skip


def sequence_features(num_states: int = 0):
    """`datasets.Features` of the training sequences (`sequence_dataset`): per chunk, event times (days since the
    window's origin), magnitudes, whether each event is scored, and `num_states` per-event history states."""
    import datasets

    features = {
        "times": datasets.Sequence(datasets.Value("float64")),
        "magnitudes": datasets.Sequence(datasets.Value("float32")),
        "scored": datasets.Sequence(datasets.Value("bool")),
    }
    if num_states:
        features["states"] = datasets.Sequence(datasets.Sequence(datasets.Value("float32"), length=num_states))
    return datasets.Features(features)


def sequence_dataset(window: CatalogWindow, *, length: int, warmup: int, states: np.ndarray | None = None):
    """Chunks of `warmup + length` consecutive events (history then window) as a `datasets.Dataset`, one every
    `length` events; only the window's events after each chunk's warm-up are `scored`, so each window event is
    scored exactly once. `states`: `(N_history + N_window, S)` per-event features cut alongside."""
    import datasets

    if length < 1 or warmup < 1:
        raise ValueError("length and warmup must be >= 1")
    history_t, event_t, _, _ = window.times_days()
    times = np.concatenate([history_t, event_t])
    mags = np.concatenate([window.history.magnitudes, window.events.magnitudes])
    first_scored = len(history_t)
    num_states = 0 if states is None else states.shape[1]
    rows = {name: [] for name in sequence_features(num_states)}
    for begin in range(max(first_scored - warmup, 0), len(times), length):
        chunk = slice(begin, min(begin + warmup + length, len(times)))
        index = np.arange(chunk.start, chunk.stop)
        scored = (index >= max(begin + warmup, first_scored, 1)) & (index < begin + warmup + length)
        if not scored.any():
            continue
        rows["times"].append(times[chunk])
        rows["magnitudes"].append(mags[chunk].astype(np.float32))
        rows["scored"].append(scored)
        if num_states:
            rows["states"].append(states[chunk])
    return datasets.Dataset.from_dict(rows, features=sequence_features(num_states))
