"""Reading seismic records with ObsPy into `channels x samples` arrays, with explicit checks.

    >>> from geohub.data.waveforms import read_waveforms
    >>> records = read_waveforms("example.mseed", sampling_rate=100.0)      # doctest: +SKIP
    >>> records[0].data.shape, records[0].station_id, records[0].component_order   # doctest: +SKIP
    ((3, 12000), 'GH.SYN.', 'ZNE')

`read_waveforms` accepts any file ObsPy reads (miniSEED, SAC, GSE2, K-NET, SEG-Y, ...) or an `obspy.Stream`, and
returns one `WaveformRecord` per station (network.station.location + band/instrument code). Every problem is a
`geohub.errors.WaveformError` naming the file and trace: unreadable, truncated or corrupt files (ObsPy's own
"corrupt record" warnings are errors here), NaN/Inf samples, a channel count other than 3 (or 1 with
`allow_single_component`), components recorded at different sampling rates, components covering different time
spans, gaps when `fill_gaps="raise"`, and records shorter than `min_samples`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import WaveformError
from ..utils import get_logger

logger = get_logger(__name__)

__all__ = ["WaveformRecord", "read_waveforms", "stream_from_array", "FILL_GAPS"]

FILL_GAPS = ("interpolate", "zeros", "raise")
_ALTERNATIVE_COMPONENTS = {"1": "N", "2": "E", "3": "Z"}


@dataclass
class WaveformRecord:
    """One station's record.

    Attributes:
        data: `(C, T)` float32 samples in the file's units, channels in `component_order`.
        sampling_rate: Hz.
        starttime: `obspy.UTCDateTime` of sample 0.
        station_id: "NET.STA.LOC".
        component_order: e.g. "ZNE"; `channels` gives the original channel code of each row.
        single_component: True when one vertical trace was copied into every row.
        gaps: `(start, end)` UTCDateTime pairs that were filled while merging.
    """

    data: np.ndarray
    sampling_rate: float
    starttime: object
    station_id: str
    component_order: str
    channels: list[str] = field(default_factory=list)
    single_component: bool = False
    gaps: list[tuple] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return int(self.data.shape[-1])

    @property
    def endtime(self):
        return self.starttime + (self.num_samples - 1) / self.sampling_rate

    def time_of(self, sample: float):
        """UTCDateTime of (fractional) sample index `sample`."""
        return self.starttime + float(sample) / self.sampling_rate


def _load_stream(path_or_stream, source: str):
    import obspy

    if isinstance(path_or_stream, obspy.Stream):
        return path_or_stream.copy()
    if isinstance(path_or_stream, obspy.Trace):
        return obspy.Stream([path_or_stream.copy()])
    path = Path(path_or_stream)
    if not path.is_file():
        raise WaveformError("waveform file not found", path=path, expected="a file ObsPy can read")
    if path.stat().st_size == 0:
        raise WaveformError("waveform file is empty", path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = obspy.read(str(path))
        except Exception as err:  # ObsPy raises bare Exception/TypeError for unreadable files
            raise WaveformError(
                f"cannot read the file ({type(err).__name__}: {err}); it may be truncated, corrupt or not a waveform",
                path=path,
                expected="miniSEED, SAC, GSE2, K-NET or another ObsPy-readable format",
            ) from None
    for warning in caught:
        text = str(warning.message)
        if any(word in text.lower() for word in ("corrupt", "end of file", "truncat", "not enough")):
            raise WaveformError(f"file is truncated or corrupt: {text}", path=path)
    return stream


def _component(channel: str) -> str:
    code = channel[-1:].upper() if channel else "?"
    return _ALTERNATIVE_COMPONENTS.get(code, code)


def _merge_station(stream, fill_gaps: str, source: str) -> list:
    gaps = [(g[4], g[5]) for g in stream.get_gaps() if g[6] > 0]
    if gaps and fill_gaps == "raise":
        first = gaps[0]
        raise WaveformError(
            f"{len(gaps)} gap(s) in the record, first from {first[0]} to {first[1]}",
            path=source,
            field=stream[0].id,
            expected="a gap-free record, or fill_gaps='interpolate' / 'zeros'",
        )
    try:
        stream.merge(method=1, fill_value="interpolate" if fill_gaps == "interpolate" else 0)
    except Exception as err:
        raise WaveformError(f"cannot merge traces: {err}", path=source, field=stream[0].id) from None
    if gaps:
        logger.warning("%s: filled %d gap(s) by %s", stream[0].id, len(gaps), fill_gaps)
    return gaps


def _check_finite(stream, source: str) -> None:
    for trace in stream:
        data = np.asarray(trace.data)
        if data.size == 0:
            raise WaveformError("trace has no samples", path=source, field=trace.id)
        if np.ma.isMaskedArray(trace.data):
            raise WaveformError("trace has masked (missing) samples", path=source, field=trace.id)
        bad = ~np.isfinite(data.astype(np.float64))
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise WaveformError(
                f"{int(bad.sum())} NaN/Inf sample(s), first at sample {index} ({trace.stats.starttime + index * trace.stats.delta})",
                path=source,
                field=trace.id,
                expected="finite samples",
            )


def _station_record(
    stream, key, component_order, sampling_rate, fill_gaps, allow_single_component, max_misalignment_s, source
):
    rates = {float(tr.stats.sampling_rate) for tr in stream}
    if len(rates) > 1:
        detail = ", ".join(f"{tr.id}: {tr.stats.sampling_rate:g} Hz" for tr in stream)
        raise WaveformError(f"components have different sampling rates ({detail})", path=source, field=key,
                            expected="one sampling rate per station")  # fmt: skip
    by_component: dict[str, object] = {}
    for trace in stream:
        by_component.setdefault(_component(trace.stats.channel), []).append(trace)
    present = sorted(by_component)
    single = False
    if set(present) != set(component_order):
        if allow_single_component and present == ["Z"] and "Z" in component_order:
            single = True
        else:
            raise WaveformError(
                f"found {len(present)} component(s) {''.join(present)}",
                path=source,
                field=key,
                expected=f"the {len(component_order)} components {component_order}"
                + (" (or a single Z)" if allow_single_component else ""),
            )
    import obspy

    gaps = []
    merged = {}
    for comp, traces in by_component.items():
        sub = obspy.Stream(traces)
        gaps += _merge_station(sub, fill_gaps, source)
        merged[comp] = sub[0]
    starts = [tr.stats.starttime for tr in merged.values()]
    ends = [tr.stats.endtime for tr in merged.values()]
    if max(starts) - min(starts) > max_misalignment_s or max(ends) - min(ends) > max_misalignment_s:
        raise WaveformError(
            "components cover different time spans (" + ", ".join(f"{tr.id}: {tr.stats.starttime} - {tr.stats.endtime}"
                                                                 for tr in merged.values()) + "); truncated file?",
            path=source, field=key, expected=f"components aligned within {max_misalignment_s} s",
        )  # fmt: skip
    start, end = max(starts), min(ends)
    traces = []
    for comp in component_order:
        trace = merged["Z" if single else comp].copy()
        trace.trim(start, end, nearest_sample=True)
        if sampling_rate is not None and abs(trace.stats.sampling_rate - sampling_rate) > 1e-9:
            trace.data = trace.data.astype(np.float64)
            trace.resample(sampling_rate, no_filter=False)
        traces.append(trace)
    length = min(len(tr.data) for tr in traces)
    data = np.stack([np.asarray(tr.data[:length], dtype=np.float32) for tr in traces])
    return WaveformRecord(
        data=data,
        sampling_rate=float(traces[0].stats.sampling_rate),
        starttime=traces[0].stats.starttime,
        station_id=key.rsplit(".", 1)[0],
        component_order=component_order,
        channels=[tr.stats.channel for tr in traces],
        single_component=single,
        gaps=gaps,
    )


def read_waveforms(
    path_or_stream,
    *,
    sampling_rate: float | None = None,
    component_order: str = "ZNE",
    fill_gaps: str = "interpolate",
    min_samples: int = 1,
    allow_single_component: bool = True,
    max_misalignment_s: float = 1.0,
) -> list[WaveformRecord]:
    """Read a waveform file (any ObsPy format) or `obspy.Stream` into one `WaveformRecord` per station.

    Args:
        path_or_stream: file path, `obspy.Stream` or `obspy.Trace` (never modified).
        sampling_rate: Hz to resample every station to (ObsPy's FFT resampling, anti-aliased); None keeps the
            recorded rate.
        component_order: rows of `data`, e.g. "ZNE"; channel codes ending in 1/2/3 count as N/E/Z.
        fill_gaps: "interpolate" (linear across each gap), "zeros", or "raise" (a gap is an error).
        min_samples: records with fewer samples (after resampling) raise `WaveformError`.
        allow_single_component: a station with only a vertical trace becomes `C` copies of it (PhaseNet's
            convention for single-component records); otherwise it is an error.
        max_misalignment_s: largest start/end difference between components before it is an error.

    Returns:
        list of `WaveformRecord`, sorted by station id; data `(len(component_order), T)` float32.
    """
    if fill_gaps not in FILL_GAPS:
        raise WaveformError(f"unknown fill_gaps {fill_gaps!r}", field="fill_gaps", expected=" / ".join(FILL_GAPS))
    if sampling_rate is not None and sampling_rate <= 0:
        raise WaveformError(f"sampling_rate must be positive, got {sampling_rate}", field="sampling_rate")
    source = None if not isinstance(path_or_stream, (str, os.PathLike)) else os.fspath(path_or_stream)
    stream = _load_stream(path_or_stream, source)
    if len(stream) == 0:
        raise WaveformError("no traces in the record", path=source, expected="at least one trace")
    _check_finite(stream, source)
    from .limits import MAX_GAP_FILL_SAMPLES, check_waveform_span  # headers only: gaps checked BEFORE merging

    check_waveform_span(stream, max_fill_samples=None if fill_gaps == "raise" else MAX_GAP_FILL_SAMPLES,
                        sampling_rate=sampling_rate, source=source)  # fmt: skip
    groups: dict[str, list] = {}
    for trace in stream:
        stats = trace.stats
        key = f"{stats.network}.{stats.station}.{stats.location}.{stats.channel[:2]}"
        groups.setdefault(key, []).append(trace)
    import obspy

    records = []
    for key in sorted(groups):
        record = _station_record(obspy.Stream(groups[key]), key, component_order, sampling_rate, fill_gaps,
                                 allow_single_component, max_misalignment_s, source)  # fmt: skip
        if record.num_samples < min_samples:
            raise WaveformError(
                f"record has {record.num_samples} samples ({record.num_samples / record.sampling_rate:.2f} s)",
                path=source,
                field=key,
                expected=f"at least {min_samples} samples ({min_samples / record.sampling_rate:.2f} s, one model window)",
            )
        records.append(record)
    return records


def stream_from_array(
    data: np.ndarray,
    sampling_rate: float,
    *,
    component_order: str = "ZNE",
    network: str = "XX",
    station: str = "STA",
    location: str = "",
    band: str = "HH",
    starttime=None,
):
    """Wrap a `(C, T)` array as an `obspy.Stream` (channel codes `band + component`)."""
    from obspy import Stream, Trace, UTCDateTime

    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != len(component_order):
        raise WaveformError(f"array of shape {data.shape}", expected=f"({len(component_order)}, samples)")
    start = UTCDateTime(starttime) if starttime is not None else UTCDateTime(0)
    return Stream(
        [
            Trace(
                np.ascontiguousarray(data[i], dtype=np.float32),
                header={
                    "network": network,
                    "station": station,
                    "location": location,
                    "channel": band + comp,
                    "sampling_rate": float(sampling_rate),
                    "starttime": start,
                },
            )  # fmt: skip
            for i, comp in enumerate(component_order)
        ]
    )
