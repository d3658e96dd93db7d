"""Waveform sources for archive-scale picking: discovery, station x time chunks, span reads and a linear gap merge.

    from geohub.inference.archive_sources import open_source, make_chunks, read_chunk

    source = open_source("/data/SDS", start=UTCDateTime("2024-01-01"), end=UTCDateTime("2024-02-01"),
                         stations=["GH.*"])          # an SDS archive, a folder of ObsPy-readable files, or one file
    chunks = make_chunks(source, chunk_seconds=86400)             # sorted list[Chunk], one per station x day
    window = ChunkWindow.around(chunks[0], pad_s=45.0, grid_s=15.0)  # padded span aligned to the window grid
    stream, covered, errors, window = read_chunk(source, chunks[0], window)  # gap-free Stream of the padded span

- `SDSSource` discovers station-days from the SDS file names (`obspy.clients.filesystem.sds.Client.FMTSTR`) and
  reads spans from the day files the SDS client names for them with ObsPy's miniSEED reader (only the records
  inside the span are unpacked; no per-trace trim).
- `FolderSource` indexes every file of a folder (or one file) with `obspy.read(headonly=True)`; a file ObsPy cannot
  read, or that `geohub.data.limits.check_waveform_read` refuses first (a format whose reader would need more than
  the memory budget for the file's size, a compressed file past its cap), is reported (`source.errors`: path,
  reason) and skipped, so the full reads of `read` only see files that passed.
- `merge_to_grid` puts a channel's segments onto one sample grid and fills gaps by linear interpolation (edges by
  the nearest sample), vectorised over the missing samples: time and memory are linear in the number of samples
  and do not grow with the number of gaps (a day with 500 gaps merges as fast as a day with none).

Stations are keyed "NET.STA.LOC.BB" (band + instrument code); times are integer nanoseconds (`UTCDateTime.ns`).
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.waveforms import component_of
from ..errors import WaveformError

__all__ = [
    "Chunk",
    "ChunkWindow",
    "FolderSource",
    "SDSSource",
    "open_source",
    "make_chunks",
    "read_chunk",
    "merge_to_grid",
    "station_key",
    "unsafe_code",
]

NS = 1_000_000_000

_CORRUPT_WORDS = ("corrupt", "end of file", "truncat", "not enough", "error")


_SKIP = re.compile(r"skip bytes (\d+) to (\d+)", re.IGNORECASE)
_LAST = re.compile(r"only has (\d+) byte", re.IGNORECASE)


def _read_checked(read, *args, **kwargs):
    """`read(*args, **kwargs)` and what ObsPy warned about corrupt or truncated records, as `(stream, problem)`.

    ObsPy decodes what it can and only warns: a record that is "Not a SEED record" is skipped (its samples become
    a gap, which the grid merge would interpolate over) and an incomplete last record is dropped. The decoded
    samples are kept; `problem` (None when ObsPy did not warn) says how many bytes were skipped, how many samples
    are missing inside the file where records were skipped, and where a truncated file's data ends, so that
    `errors.csv` lists the loss instead of a silent "ok"."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = read(*args, **kwargs)
    texts = [str(w.message) for w in caught]
    bad = [t for t in texts if _SKIP.search(t) or _LAST.search(t) or any(w in t.lower() for w in _CORRUPT_WORDS)]
    if not bad:
        return stream, None
    skipped = sum(int(b) - int(a) + 1 for t in bad for a, b in _SKIP.findall(t))
    tail = sum(int(n) for t in bad for n in _LAST.findall(t))
    parts = [f"truncated or corrupt ({len(bad)} warning(s) from ObsPy, first: {bad[0][:160]})"]
    if skipped:
        parts.append(f"{skipped} bytes skipped as not SEED records")
    parts.append(f"{missing_samples(stream)} samples missing inside the file (gaps where records were lost)")
    if tail:
        end = max((tr.stats.endtime for tr in stream), default=None)
        parts.append(f"incomplete last record ({tail} bytes): the file's data ends at {end}, later samples lost")
    return stream, "; ".join(parts)


def missing_samples(stream) -> int:
    """Samples missing between consecutive segments of each channel of `stream` (gaps inside one file)."""
    lost = 0
    by_id: dict[str, list] = {}
    for trace in stream:
        by_id.setdefault(trace.id, []).append(trace.stats)
    for segments in by_id.values():
        segments.sort(key=lambda st: st.starttime.ns)
        for before, after in zip(segments, segments[1:]):
            gap = (after.starttime.ns - before.endtime.ns) * before.sampling_rate / NS - 1
            lost += max(0, int(round(gap)))
    return lost


def utc_datetime(ns: int):
    from obspy import UTCDateTime

    return UTCDateTime(ns=int(ns))


def station_key(stats) -> str:
    """ "NET.STA.LOC.BB" of a trace's stats (BB: band and instrument code, e.g. "HH")."""
    return f"{stats.network}.{stats.station}.{stats.location}.{stats.channel[:2]}"


# Codes from file headers become file names (chunk parts, probability files): untrusted input. SEED codes are ASCII
# letters and digits (network <= 2, station <= 5, location <= 2, channel 3); "_" and "-" and up to 8 characters
# are accepted for SAC and other headers. Anything else ("../..", "/", NUL, unicode, dots, spaces) is refused.
_SAFE_CODE = re.compile(r"[A-Za-z0-9_-]{0,8}")
_CODE_FIELDS = ("network", "station", "location", "channel")


def unsafe_code(codes: dict) -> str | None:
    """Why the NET/STA/LOC/CHA codes in `codes` cannot name files (None when they can): each code must be 0 to 8
    ASCII letters, digits, "_" or "-", and the station and channel codes not empty."""
    for name in _CODE_FIELDS:
        value = str(codes.get(name, ""))
        if not _SAFE_CODE.fullmatch(value) or (not value and name in ("station", "channel")):
            return (f"refused: {name} code {value[:40]!r}{'...' if len(value) > 40 else ''} in the file header "
                    "(expected 0-8 ASCII letters, digits, '_' or '-'; station and channel not empty)")  # fmt: skip
    return None


def _selected(key: str, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    net, sta = key.split(".")[:2]
    names = (key, f"{net}.{sta}", sta, key.rsplit(".", 1)[0])
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


@dataclass(frozen=True, order=True)
class Chunk:
    """One station x time span of work: `[start_ns, end_ns)` of station `station` ("NET.STA.LOC.BB")."""

    station: str
    start_ns: int
    end_ns: int

    @property
    def chunk_id(self) -> str:
        return f"{self.station}.{utc_datetime(self.start_ns).strftime('%Y%m%dT%H%M%S')}"

    @property
    def start(self):
        return utc_datetime(self.start_ns)

    @property
    def end(self):
        return utc_datetime(self.end_ns)


@dataclass(frozen=True)
class ChunkWindow:
    """The padded span `[start_ns, end_ns)` read for a chunk, its start aligned to a multiple of `grid_ns` since the
    epoch so that neighbouring chunks slide their model windows over the same absolute times."""

    start_ns: int
    end_ns: int
    pad_ns: int = 0
    grid_ns: int = 1

    @classmethod
    def around(cls, chunk: Chunk, pad_s: float, grid_s: float) -> ChunkWindow:
        grid = max(1, int(round(grid_s * NS)))
        pad = int(math.ceil(pad_s * NS))
        start = ((chunk.start_ns - pad) // grid) * grid
        end = start + -(-(chunk.end_ns + pad - start) // grid) * grid
        return cls(start, end, pad, grid)

    def shrink(self, data_start_ns: int, data_end_ns: int) -> ChunkWindow:
        """This window cut to `[data_start_ns, data_end_ns]` (the chunk's own data) plus the padding, still on the
        grid: a chunk with one hour of data costs one hour, whatever its length."""
        start = max(self.start_ns, ((data_start_ns - self.pad_ns) // self.grid_ns) * self.grid_ns)
        end = min(self.end_ns, -(-(data_end_ns + self.pad_ns) // self.grid_ns) * self.grid_ns)
        return ChunkWindow(start, max(end, start + self.grid_ns), self.pad_ns, self.grid_ns)


@dataclass
class _Span:
    start_ns: int
    end_ns: int
    path: str
    channel: str = ""


@dataclass
class FolderSource:
    """Every ObsPy-readable file under `root` (or the single file `root`), indexed by station from headers."""

    root: Path
    start_ns: int | None = None
    end_ns: int | None = None
    stations: list[str] | None = None
    spans: dict[str, list[_Span]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    kind = "folder"

    def __post_init__(self):
        import obspy

        from ..data.limits import check_waveform_read

        root = Path(self.root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.name.startswith("."):
                continue
            try:
                formats = set(check_waveform_read(path))  # the format's memory x size, before ObsPy reads it
                fmt = formats.pop() if len(formats) == 1 else None  # detected once: ObsPy skips its own tests
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    headers = obspy.read(str(path), headonly=True, format=fmt)
            except Exception as err:  # ObsPy raises bare Exception/TypeError for unreadable files
                self.errors.append((str(path), f"cannot read the file: {type(err).__name__}: {err}"))
                continue
            for trace in headers:
                reason = unsafe_code(trace.stats)
                if reason is not None:
                    self.errors.append((str(path), reason))
                    continue
                key = station_key(trace.stats)
                if _selected(key, self.stations):
                    span = _Span(trace.stats.starttime.ns, trace.stats.endtime.ns + 1, str(path), trace.stats.channel)
                    self.spans.setdefault(key, []).append(span)

    def read(self, station: str, start_ns: int, end_ns: int):
        """Traces of `station` within `[start_ns, end_ns]` and the (path, reason) of files that failed."""
        import obspy

        stream, errors = obspy.Stream(), []
        paths = sorted({s.path for s in self.spans.get(station, []) if s.start_ns <= end_ns and s.end_ns >= start_ns})
        for path in paths:
            try:
                part, problem = _read_checked(
                    obspy.read, path, starttime=utc_datetime(start_ns), endtime=utc_datetime(end_ns)
                )
            except Exception as err:
                errors.append((path, _reason(err)))
                continue
            if problem:
                errors.append((path, problem))
            stream += obspy.Stream([tr for tr in part if station_key(tr.stats) == station])
        return stream, errors


_SDS_NAME = re.compile(
    r"^(?P<net>[^.]*)\.(?P<sta>[^.]*)\.(?P<loc>[^.]*)\.(?P<cha>[^.]*)\.(?P<type>\w)\.(?P<year>\d{4})\.(?P<doy>\d{3})$"
)


@dataclass
class SDSSource:
    """A SeisComP Data Structure archive read with ObsPy's SDS client (`YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY`)."""

    root: Path
    start_ns: int | None = None
    end_ns: int | None = None
    stations: list[str] | None = None
    sds_type: str = "D"
    spans: dict[str, list[_Span]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    kind = "sds"

    def __post_init__(self):
        from obspy import UTCDateTime
        from obspy.clients.filesystem.sds import Client

        self.client = Client(str(self.root), sds_type=self.sds_type)
        for path in sorted(Path(self.root).glob(f"[0-9][0-9][0-9][0-9]/*/*/*.{self.sds_type}/*")):
            match = _SDS_NAME.match(path.name)
            if not match or not path.is_file():
                continue
            reason = unsafe_code({"network": match["net"], "station": match["sta"], "location": match["loc"],
                                  "channel": match["cha"]})  # fmt: skip
            if reason is not None:
                self.errors.append((str(path), reason))
                continue
            key = f"{match['net']}.{match['sta']}.{match['loc']}.{match['cha'][:2]}"
            if not _selected(key, self.stations):
                continue
            day = UTCDateTime(year=int(match["year"]), julday=int(match["doy"])).ns
            self.spans.setdefault(key, []).append(_Span(day, day + 86400 * NS, str(path), match["cha"]))

    def read(self, station: str, start_ns: int, end_ns: int):
        """Traces of `station` overlapping `[start_ns, end_ns]`, from the day files ObsPy's SDS client names for the
        span, read by ObsPy's miniSEED reader (whole records: not trimmed, which `read_chunk`'s grid does for free;
        `Client.get_waveforms` spends as much on per-trace trims as on decoding a day with 500 gaps), and the
        (path, reason) of the day files that failed (then every other file of the span is still read)."""
        import obspy
        from obspy.io.mseed import ObsPyMSEEDFilesizeTooSmallError
        from obspy.io.mseed.core import _read_mseed

        net, sta, loc, band = station.split(".")
        t0, t1 = utc_datetime(start_ns), utc_datetime(end_ns)
        stream, errors = obspy.Stream(), []
        for path in sorted(self.client._get_filenames(net, sta, loc, f"{band}?", t0, t1, sds_type=self.sds_type)):
            try:
                part, problem = _read_checked(_read_mseed, path, starttime=t0, endtime=t1, sourcename=f"{station}?")
            except ObsPyMSEEDFilesizeTooSmallError:  # a file being created (as the SDS client: skipped)
                continue
            except Exception as err:
                errors.append((path, _reason(err)))
                continue
            stream += part
            if problem:
                errors.append((path, problem))
        return stream.select(network=net, station=sta, location=loc, channel=f"{band}?"), errors


def _reason(err: Exception) -> str:
    if isinstance(err, WaveformError):
        return f"cannot read the file: {err}"
    return f"cannot read the file: {type(err).__name__}: {err}"


def _is_sds(root: Path) -> bool:
    return root.is_dir() and any(
        _SDS_NAME.match(p.name) for p in root.glob("[0-9][0-9][0-9][0-9]/*/*/*.?/*") if p.is_file()
    )


def open_source(path, *, kind: str = "auto", start=None, end=None, stations: list[str] | None = None):
    """An `SDSSource` or a `FolderSource` for `path` (`kind`: "auto", "sds", "folder" or "file")."""
    root = Path(path)
    if not root.exists():
        raise WaveformError(
            "source not found", path=root, expected="an SDS archive, a folder of waveform files or a file"
        )
    if kind not in {"auto", "sds", "folder", "file"}:
        raise WaveformError(f"unknown source kind {kind!r}", field="--format", expected="auto, sds, folder or file")
    start_ns = None if start is None else start.ns
    end_ns = None if end is None else end.ns
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise WaveformError(f"--end {end} is not after --start {start}", field="--end")
    if kind == "sds" or (kind == "auto" and _is_sds(root)):
        return SDSSource(root, start_ns, end_ns, stations)
    return FolderSource(root, start_ns, end_ns, stations)


def make_chunks(source, chunk_seconds: float = 86400.0) -> list[Chunk]:
    """Sorted station x time chunks on a grid of `chunk_seconds` since the epoch, clipped to the source's
    `start_ns`/`end_ns`, keeping only chunks that overlap some data."""
    size = int(round(chunk_seconds * NS))
    if size <= 0:
        raise WaveformError(f"chunk length {chunk_seconds} s", field="--chunk-seconds", expected="a positive number")
    chunks = set()
    for station, spans in source.spans.items():
        for span in spans:  # half-open [start_ns, end_ns)
            lo = span.start_ns if source.start_ns is None else max(span.start_ns, source.start_ns)
            hi = span.end_ns if source.end_ns is None else min(span.end_ns, source.end_ns)
            for begin in range((lo // size) * size, hi, size):
                start = begin if source.start_ns is None else max(begin, source.start_ns)
                end = begin + size if source.end_ns is None else min(begin + size, source.end_ns)
                chunks.add(Chunk(station, start, end))
    return sorted(chunks)


def merge_to_grid(traces, start_ns: int, num_samples: int, sampling_rate: float,
                  dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One channel's segments on the grid `start + k / sampling_rate`, k < `num_samples`.

    Returns `(data, covered)`: `dtype` `(num_samples,)` samples with gaps filled by linear interpolation between
    the samples on either side (before the first / after the last sample: that sample's value; computed in
    float64), and a boolean mask of the samples that hold recorded data. Overlaps keep the later segment's
    samples. Cost: O(samples) copies plus O(missing samples) for the fill, whatever the number of gaps.
    All-missing: zeros and an all-False mask.
    """
    data = np.zeros(num_samples, dtype=dtype)
    covered = np.zeros(num_samples, dtype=bool)
    period_ns = NS / sampling_rate
    for trace in sorted(traces, key=lambda tr: tr.stats.starttime.ns):
        values = np.asarray(trace.data)
        offset = int(round((trace.stats.starttime.ns - start_ns) / period_ns))
        lo, hi = max(0, offset), min(num_samples, offset + len(values))
        if hi > lo:
            data[lo:hi] = values[lo - offset : hi - offset]
            covered[lo:hi] = True
    if covered.any() and not covered.all():
        _fill_gaps(data, covered)
    return data, covered


def _fill_gaps(data: np.ndarray, covered: np.ndarray) -> None:
    """Fill `data[~covered]` in place, each run of missing samples linearly between its neighbours (an edge run
    takes its one neighbour's value); O(missing samples)."""
    flips = np.flatnonzero(covered[1:] != covered[:-1]) + 1
    first, stop = flips[~covered[flips]], flips[covered[flips]]  # each missing run is [first, stop)
    first = first if covered[0] else np.concatenate([[0], first])
    stop = stop if covered[-1] else np.concatenate([stop, [len(data)]])
    left = np.where(first > 0, first - 1, stop)  # a run at the start / end takes the value of its other side
    right = np.where(stop < len(data), stop, first - 1)
    lengths = stop - first
    run = np.repeat(np.arange(len(first)), lengths)
    index = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + first[run]
    a, b = data[left].astype(np.float64), data[right].astype(np.float64)
    fraction = (index - left[run]) / np.maximum(right - left, 1)[run]
    data[index] = a[run] + (b - a)[run] * fraction


def _no_data(chunk: Chunk, errors: list) -> WaveformError:
    """The "no data" error of a chunk, carrying the read errors met on the way (`err.read_errors`): a file that
    failed is still listed in errors.csv when it leaves the chunk empty."""
    err = WaveformError("no data in the chunk's span", field=chunk.chunk_id)
    err.read_errors = list(errors)
    return err


def read_chunk(source, chunk: Chunk, window: ChunkWindow):
    """Read `window` (padded span) of `chunk.station` and merge each channel onto one sample grid.

    Returns `(stream, covered, errors, window)`: an `obspy.Stream` with one gap-free trace per channel (float32
    samples) over the returned `window` (`window.shrink` to the data read), `covered` the boolean mask `(T,)` of
    samples where any channel has data, and the (path, reason) list of files that could not be read. Raises `WaveformError` when the span holds no data
    or its channels disagree on the sampling rate.
    """
    import obspy

    raw, errors = source.read(chunk.station, window.start_ns, window.end_ns)
    if len(raw) == 0:
        raise _no_data(chunk, errors)
    rates = sorted({float(tr.stats.sampling_rate) for tr in raw})
    if len(rates) > 1:
        raise WaveformError(f"sampling rates {rates} Hz in one chunk", field=chunk.chunk_id,
                            expected="one sampling rate per station")  # fmt: skip
    rate = rates[0]
    spans = [(max(tr.stats.starttime.ns, window.start_ns), min(tr.stats.endtime.ns, window.end_ns)) for tr in raw]
    own = [(a, b) for a, b in spans if a <= b and a < chunk.end_ns and b >= chunk.start_ns]  # inside the window
    if not own:  # data only in the padding: nothing of this chunk's own to pick
        raise _no_data(chunk, errors)
    window = window.shrink(max(chunk.start_ns, min(a for a, _ in own)), min(chunk.end_ns, max(b for _, b in own)))
    num_samples = int(round((window.end_ns - window.start_ns) * rate / NS))
    by_channel: dict[str, list] = {}
    for trace in raw:
        by_channel.setdefault(trace.stats.channel, []).append(trace)
    stream, covered = obspy.Stream(), np.zeros(num_samples, dtype=bool)
    for channel in sorted(by_channel, key=component_of):
        data, mask = merge_to_grid(by_channel[channel], window.start_ns, num_samples, rate, dtype=np.float32)
        covered |= mask
        header = by_channel[channel][0].stats
        stream.append(obspy.Trace(data, header={
            "network": header.network, "station": header.station, "location": header.location,
            "channel": channel, "sampling_rate": rate, "starttime": utc_datetime(window.start_ns)}))  # fmt: skip
    return stream, covered, errors, window


def source_files(source) -> list[str]:
    """Every file path the source indexed (sorted)."""
    return sorted({s.path for spans in source.spans.values() for s in spans})


def describe(source) -> str:
    return (
        f"{source.kind} {os.fspath(source.root)}: {len(source.spans)} station(s), {len(source_files(source))} file(s)"
    )
