"""Reading seismic records with ObsPy into `channels x samples` arrays, with explicit checks.

    >>> from geohub.data.waveforms import read_waveforms
    >>> records = read_waveforms("example.mseed", sampling_rate=100.0)      # doctest: +SKIP
    >>> records[0].data.shape, records[0].station_id, records[0].component_order   # doctest: +SKIP
    ((3, 12000), 'GH.SYN.', 'ZNE')

`read_waveforms` accepts any file ObsPy reads (miniSEED, SAC, GSE2, K-NET, SEG-Y, ...) or an `obspy.Stream`, and
returns one `WaveformRecord` per station (network.station.location + band/instrument code). Every problem is a
`geohub.errors.WaveformError` naming the file and trace: unreadable, truncated or corrupt files (ObsPy's own
"corrupt record" warnings are errors here), NaN/Inf samples, sampling rates outside 1-2000 Hz, components the model
does not use, components recorded at different sampling rates, components covering different time spans, gaps
when `fill_gaps="raise"`, and records shorter than `min_samples`.

Any sampling rate from 1 to 2000 Hz is resampled to the model's rate: down-sampling low-passes below the new
Nyquist frequency first (ObsPy's Chebyshev anti-alias filter), up-sampling interpolates in the frequency domain
(no filter is needed, nor possible, above the record's own Nyquist frequency). A station with one or two of the
three components gets the missing ones as zeros (EQTransformer's and SeisBench's convention; `missing_components=
"copy"` copies the vertical instead, PhaseNet's). Channel codes: SEED (`HHZ`, `BH1`, ...), bare components
(`Z`, `N`, `E`, `1`, `2`, `3`) and K-NET/KiK-net (`NS`, `EW`, `UD`, also `N-S`, ...).
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

__all__ = ["WaveformRecord", "read_waveforms", "load_stream", "component_of", "stream_from_array", "resample_trace",
           "FILL_GAPS", "MIN_SAMPLING_RATE", "MAX_SAMPLING_RATE"]  # fmt: skip

FILL_GAPS = ("interpolate", "zeros", "raise")
MISSING_COMPONENTS = ("zeros", "copy")
MIN_SAMPLING_RATE = 1.0  # Hz: records outside [MIN, MAX] are refused with a clear error
MAX_SAMPLING_RATE = 2000.0
_ALTERNATIVE_COMPONENTS = {"1": "N", "2": "E", "3": "Z", "U": "Z"}
_KNET_COMPONENTS = {"NS": "N", "EW": "E", "UD": "Z", "N-S": "N", "E-W": "E", "U-D": "Z"}


@dataclass
class WaveformRecord:
    """One station's record.

    Attributes:
        data: `(C, T)` float32 samples in the file's units, channels in `component_order`.
        sampling_rate: Hz.
        starttime: `obspy.UTCDateTime` of sample 0.
        station_id: "NET.STA.LOC".
        component_order: e.g. "ZNE"; `channels` gives the original channel code of each row ("" for a missing one).
        single_component: True when the station recorded only one component (the others are zeros or copies).
        missing: the components of `component_order` the station did not record (filled per
            `missing_components`).
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
    missing: str = ""

    @property
    def num_samples(self) -> int:
        return int(self.data.shape[-1])

    @property
    def endtime(self):
        return self.starttime + (self.num_samples - 1) / self.sampling_rate

    def time_of(self, sample: float):
        """UTCDateTime of (fractional) sample index `sample`."""
        return self.starttime + float(sample) / self.sampling_rate


def load_stream(path_or_stream):
    """An `obspy.Stream` of a file path (any ObsPy format), a Stream or a Trace (copied, never modified); a missing,
    empty, unreadable or truncated file is a `WaveformError` naming it, and so is one that
    `geohub.data.limits.check_waveform_read` refuses before reading (a compressed file inflating past its cap, a
    format whose reader would need more than the memory budget for the file's size, a pickle or CSS wfdisc)."""
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
    from .limits import check_waveform_read

    formats = set(check_waveform_read(path))  # before ObsPy: a compressed file within its cap, memory x size
    fmt = formats.pop() if len(formats) == 1 else None  # detected once: ObsPy need not run its tests again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = obspy.read(str(path), format=fmt)
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


def component_of(channel: str) -> str:
    """The component letter (Z/N/E, or the code's last letter) of a channel code (SEED, bare or K-NET)."""
    code = channel.strip().upper()
    if code in _KNET_COMPONENTS:
        return _KNET_COMPONENTS[code]
    code = code[-1:] if code else "?"
    return _ALTERNATIVE_COMPONENTS.get(code, code)


def _instrument(channel: str) -> str:
    """The band + instrument code that groups a station's components ("HH" of "HHZ"; "" for "Z" or K-NET "NS")."""
    code = channel.strip().upper()
    return "" if code in _KNET_COMPONENTS or len(code) < 3 else code[:-1]


def _check_rate(rate: float, source, trace_id: str) -> None:
    if not np.isfinite(rate) or rate <= 0:
        raise WaveformError(f"sampling rate {rate} Hz", path=source, field=trace_id, expected="a positive rate")
    if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise WaveformError(f"sampling rate {rate:g} Hz is outside what geohub resamples", path=source,
                            field=trace_id, expected=f"{MIN_SAMPLING_RATE:g} to {MAX_SAMPLING_RATE:g} Hz")  # fmt: skip


def resample_trace(trace, sampling_rate: float) -> None:
    """Resample an `obspy.Trace` in place to `sampling_rate` Hz.

    Down-sampling applies ObsPy's anti-alias low-pass (Chebyshev type II, corner at the new Nyquist frequency)
    before the FFT resampling (for factors above 16, where that design is unstable, an 8-pole zero-phase
    Butterworth low-pass at 0.45 x the new rate); up-sampling needs no filter (the record has no energy above its
    own Nyquist, and a low-pass with a corner above it cannot be designed: that is what failed with "cannot
    convert float NaN to integer" for 20-50 Hz records).
    """
    old = float(trace.stats.sampling_rate)
    if abs(old - sampling_rate) <= 1e-9:
        return
    trace.data = np.asarray(trace.data, dtype=np.float64)
    if old / sampling_rate > 16:
        trace.filter("lowpass", freq=0.45 * sampling_rate, corners=8, zerophase=True)
        trace.resample(float(sampling_rate), no_filter=True)
    else:
        trace.resample(float(sampling_rate), no_filter=sampling_rate > old)


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
    stream, key, component_order, sampling_rate, fill_gaps, allow_single_component, missing_components,
    max_misalignment_s, source,
):  # fmt: skip
    for trace in stream:
        _check_rate(float(trace.stats.sampling_rate), source, trace.id)
    rates = {float(tr.stats.sampling_rate) for tr in stream}
    if len(rates) > 1:
        detail = ", ".join(f"{tr.id}: {tr.stats.sampling_rate:g} Hz" for tr in stream)
        raise WaveformError(f"components have different sampling rates ({detail})", path=source, field=key,
                            expected="one sampling rate per station")  # fmt: skip
    by_component: dict[str, object] = {}
    for trace in stream:
        by_component.setdefault(component_of(trace.stats.channel), []).append(trace)
    present = sorted(by_component)
    unknown = [c for c in present if c not in component_order]
    missing = "".join(c for c in component_order if c not in by_component)
    if unknown or not allow_single_component and missing:
        raise WaveformError(
            f"found {len(present)} component(s) {''.join(present)}",
            path=source,
            field=key,
            expected=f"the {len(component_order)} components {component_order}"
            + (" (or a subset of them; missing ones are filled)" if allow_single_component else ""),
        )
    if missing_components == "copy" and missing and "Z" not in by_component:
        raise WaveformError(f"found component(s) {''.join(present)} without Z", path=source, field=key,
                            expected="a vertical (Z) component to copy, or missing_components='zeros'")  # fmt: skip
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
    resampled = {}
    for comp, trace in merged.items():
        trace = trace.copy()
        trace.trim(start, end, nearest_sample=True)
        if sampling_rate is not None:
            resample_trace(trace, sampling_rate)
        resampled[comp] = trace
    length = min(len(tr.data) for tr in resampled.values())
    rows = []
    for comp in component_order:
        if comp in resampled:
            rows.append(np.asarray(resampled[comp].data[:length], dtype=np.float32))
        elif missing_components == "copy":
            rows.append(np.asarray(resampled["Z"].data[:length], dtype=np.float32))
        else:
            rows.append(np.zeros(length, dtype=np.float32))
    first = next(iter(resampled.values()))
    return WaveformRecord(
        data=np.stack(rows),
        sampling_rate=float(first.stats.sampling_rate),
        starttime=first.stats.starttime,
        station_id=key.rsplit(".", 1)[0],
        component_order=component_order,
        channels=[resampled[c].stats.channel if c in resampled else "" for c in component_order],
        single_component=len(resampled) == 1,
        gaps=gaps,
        missing=missing,
    )


def read_waveforms(
    path_or_stream,
    *,
    sampling_rate: float | None = None,
    component_order: str = "ZNE",
    fill_gaps: str = "interpolate",
    min_samples: int = 1,
    allow_single_component: bool = True,
    missing_components: str = "zeros",
    max_misalignment_s: float = 1.0,
) -> list[WaveformRecord]:
    """Read a waveform file (any ObsPy format) or `obspy.Stream` into one `WaveformRecord` per station.

    Args:
        path_or_stream: file path, `obspy.Stream` or `obspy.Trace` (never modified).
        sampling_rate: Hz to resample every station to (`resample_trace`: up or down, anti-aliased); None keeps
            the recorded rate. Records must be recorded at 1 to 2000 Hz.
        component_order: rows of `data`, e.g. "ZNE"; channel codes ending in 1/2/3 count as N/E/Z, K-NET's
            NS/EW/UD as N/E/Z.
        fill_gaps: "interpolate" (linear across each gap), "zeros", or "raise" (a gap is an error).
        min_samples: records with fewer samples (after resampling) raise `WaveformError`.
        allow_single_component: a station with one or two of the components is filled (see
            `missing_components`); False makes it an error.
        missing_components: "zeros" (missing rows are zeros, as EQTransformer and SeisBench do) or "copy"
            (missing rows copy the vertical, PhaseNet's convention).
        max_misalignment_s: largest start/end difference between components before it is an error.

    Returns:
        list of `WaveformRecord`, sorted by station id; data `(len(component_order), T)` float32.
    """
    if fill_gaps not in FILL_GAPS:
        raise WaveformError(f"unknown fill_gaps {fill_gaps!r}", field="fill_gaps", expected=" / ".join(FILL_GAPS))
    if missing_components not in MISSING_COMPONENTS:
        raise WaveformError(f"unknown missing_components {missing_components!r}", field="missing_components",
                            expected=" / ".join(MISSING_COMPONENTS))  # fmt: skip
    if sampling_rate is not None and not (np.isfinite(sampling_rate) and sampling_rate > 0):
        raise WaveformError(f"sampling_rate must be positive, got {sampling_rate}", field="sampling_rate")
    source = None if not isinstance(path_or_stream, (str, os.PathLike)) else os.fspath(path_or_stream)
    stream = load_stream(path_or_stream)
    if len(stream) == 0:
        raise WaveformError("no traces in the record", path=source, expected="at least one trace")
    _check_finite(stream, source)
    from .limits import MAX_GAP_FILL_SAMPLES, check_waveform_span  # headers only: gaps checked BEFORE merging

    check_waveform_span(stream, max_fill_samples=None if fill_gaps == "raise" else MAX_GAP_FILL_SAMPLES,
                        sampling_rate=sampling_rate, source=source)  # fmt: skip
    groups: dict[str, list] = {}
    for trace in stream:
        stats = trace.stats
        key = f"{stats.network}.{stats.station}.{stats.location}.{_instrument(stats.channel)}"
        groups.setdefault(key, []).append(trace)
    import obspy

    records = []
    for key in sorted(groups):
        record = _station_record(obspy.Stream(groups[key]), key, component_order, sampling_rate, fill_gaps,
                                 allow_single_component, missing_components, max_misalignment_s, source)  # fmt: skip
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
