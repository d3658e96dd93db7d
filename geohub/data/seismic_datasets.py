"""Converters from seismic data sets to Hugging Face `datasets` with explicit `Features`.

Every converter returns a `datasets.Dataset` with `seismic_features(channels, samples)`:

| column | type | meaning |
|---|---|---|
| `waveforms` | `Array2D((C, T), float32)` | samples in `component_order` (default ZNE), physical units |
| `p_arrival_sample`, `s_arrival_sample` | int64 | sample index of the pick; -1 when absent |
| `magnitude` | float32 | catalogue magnitude; NaN when unknown or noise |
| `snr_db` | float32 | signal-to-noise ratio in dB; NaN when unknown |
| `label` | ClassLabel(noise, event) | window contains an event |
| `trace_id`, `station_id`, `event_id` | string | identifiers (split by station or event, never by window) |

Sources: `synthetic_dataset` (geohub's generator), `from_obspy_folder` (any ObsPy-readable files + a picks CSV),
`from_phasenet_npz` (PhaseNet's `.npz` + `waveform.csv`), `from_seisbench` (SeisBench's `metadata.csv` +
`waveforms.hdf5`, read with h5py; SeisBench itself is not needed). `split_by_group` makes train/validation/test
splits by station or event.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import datasets
import numpy as np

from ..errors import DataError, WaveformError
from .synthetic_seismic import generate_synthetic_windows
from .waveforms import component_of, read_waveforms

__all__ = [
    "seismic_features",
    "synthetic_dataset",
    "from_obspy_folder",
    "from_phasenet_npz",
    "from_seisbench",
    "split_by_group",
]


def seismic_features(num_channels: int = 3, num_samples: int = 3000) -> datasets.Features:
    """The explicit `Features` of every geohub seismic data set."""
    return datasets.Features(
        {
            "waveforms": datasets.Array2D(shape=(num_channels, num_samples), dtype="float32"),
            "p_arrival_sample": datasets.Value("int64"),
            "s_arrival_sample": datasets.Value("int64"),
            "magnitude": datasets.Value("float32"),
            "snr_db": datasets.Value("float32"),
            "label": datasets.ClassLabel(names=["noise", "event"]),
            "trace_id": datasets.Value("string"),
            "station_id": datasets.Value("string"),
            "event_id": datasets.Value("string"),
        }
    )


def _build(rows: dict[str, list], num_channels: int, num_samples: int) -> datasets.Dataset:
    return datasets.Dataset.from_dict(rows, features=seismic_features(num_channels, num_samples))


def synthetic_dataset(
    num_windows: int, *, seed: int = 0, window_length: int = 3000, **generator_kwargs
) -> datasets.Dataset:
    """`num_windows` windows from `generate_synthetic_windows` (same keyword arguments), reproducible by seed."""
    batch = generate_synthetic_windows(num_windows, window_length=window_length, seed=seed, **generator_kwargs)
    ids = [f"synthetic-{seed}-{i}" for i in range(num_windows)]
    rows = {
        "waveforms": batch["waveforms"],
        "p_arrival_sample": batch["p_sample"],
        "s_arrival_sample": batch["s_sample"],
        "magnitude": batch["magnitude"],
        "snr_db": batch["snr_db"],
        "label": batch["label"],
        "trace_id": ids,
        "station_id": [f"GH.S{i % 97:02d}." for i in range(num_windows)],
        "event_id": ids,
    }
    return _build(rows, 3, window_length)


def _float_or_nan(value) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def from_obspy_folder(
    folder: str | os.PathLike,
    picks_csv: str | os.PathLike,
    *,
    num_samples: int,
    sampling_rate: float = 100.0,
    component_order: str = "ZNE",
) -> datasets.Dataset:
    """Windows from ObsPy-readable files listed in a picks/catalogue CSV.

    CSV columns: `file` (relative to `folder`), `p_time` and `s_time` (ISO UTC times; empty when absent), and
    optionally `magnitude`, `snr_db`, `event_id`. Each file is read with `read_waveforms` (resampled to
    `sampling_rate`); its first station's first `num_samples` samples form the window. A row without picks is a
    noise window.
    """
    from obspy import UTCDateTime

    folder, picks_csv = Path(folder), Path(picks_csv)
    if not picks_csv.is_file():
        raise DataError("picks CSV not found", path=picks_csv)
    rows = {name: [] for name in seismic_features()}
    with picks_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "p_time", "s_time"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"missing column(s) {sorted(missing)}", path=picks_csv, line=1,
                            expected="columns file,p_time,s_time[,magnitude,snr_db,event_id]")  # fmt: skip
        for line, row in enumerate(reader, start=2):
            record = read_waveforms(folder / row["file"], sampling_rate=sampling_rate, component_order=component_order,
                                    min_samples=num_samples)[0]  # fmt: skip
            picks = []
            for key in ("p_time", "s_time"):
                try:
                    time = UTCDateTime(row[key]) if row[key] else None
                except Exception:
                    raise DataError(f"bad time {row[key]!r}", path=picks_csv, line=line, field=key,
                                    expected="an ISO 8601 UTC time") from None  # fmt: skip
                sample = -1 if time is None else int(round((time - record.starttime) * record.sampling_rate))
                picks.append(sample if 0 <= sample < num_samples else -1)
            rows["waveforms"].append(record.data[:, :num_samples])
            rows["p_arrival_sample"].append(picks[0])
            rows["s_arrival_sample"].append(picks[1])
            rows["magnitude"].append(_float_or_nan(row.get("magnitude")))
            rows["snr_db"].append(_float_or_nan(row.get("snr_db")))
            rows["label"].append(int(picks[0] >= 0 or picks[1] >= 0))
            rows["trace_id"].append(f"{record.station_id}:{row['file']}")
            rows["station_id"].append(record.station_id)
            rows["event_id"].append(row.get("event_id") or row["file"])
    if not rows["trace_id"]:
        raise DataError("the picks CSV lists no files", path=picks_csv)
    return _build(rows, len(component_order), num_samples)


def _reorder(data: np.ndarray, channels: str, component_order: str, source: Path) -> np.ndarray:
    """`(T, 3)` PhaseNet array with channel codes like "EHE_EHN_EHZ" (or one "EHZ") -> `(C, T)` in order."""
    codes = [code for code in channels.split("_") if code]
    if len(codes) == 1:  # the one channel sits in the column that holds data (the last one in PhaseNet's files)
        column = int(np.abs(data).max(axis=0).argmax())
        return np.repeat(data[:, column : column + 1].T, len(component_order), axis=0)
    components = [component_of(code) for code in codes]
    if sorted(components) != sorted(component_order) or data.shape[1] != len(codes):
        raise WaveformError(f"channels {channels!r} with data shape {data.shape}", path=source,
                            field="channels", expected=f"the components {component_order}")  # fmt: skip
    return np.stack([data[:, components.index(c)] for c in component_order])


def from_phasenet_npz(
    folder: str | os.PathLike,
    *,
    csv_name: str = "waveform.csv",
    component_order: str = "ZNE",
    limit: int | None = None,
) -> datasets.Dataset:
    """PhaseNet's training format: `waveform.csv` (fname,itp,its,channels) + `waveforms/<fname>` npz files.

    Each npz holds `data` `(T, 3)`, `itp`, `its`; file names are `<NET>_<STA>_<yyyymmddhhmmssff>[_NN].npz`, so
    `station_id` is NET.STA and `event_id` the origin-time stamp. Single-component records are copied into
    every channel. Magnitude and SNR are unknown (NaN).
    """
    folder = Path(folder)
    table = folder / csv_name
    if not table.is_file():
        raise DataError("PhaseNet index CSV not found", path=table, expected="fname,itp,its,channels")
    with table.open(newline="", encoding="utf-8") as handle:
        entries = list(csv.DictReader(handle))
    if limit is not None:
        entries = entries[:limit]
    rows = {name: [] for name in seismic_features()}
    length = None
    for entry in entries:
        path = folder / "waveforms" / entry["fname"]
        if not path.is_file():
            path = folder / entry["fname"]
        try:
            with np.load(path) as archive:
                data = np.asarray(archive["data"], dtype=np.float32)
        except (OSError, ValueError, KeyError) as err:
            raise WaveformError(
                f"cannot read the npz ({err})", path=path, expected="an npz with 'data' (T, 3)"
            ) from None
        if not np.isfinite(data).all():
            raise WaveformError("NaN/Inf samples", path=path, field="data")
        waveforms = _reorder(data, entry["channels"], component_order, path)
        if length is None:
            length = waveforms.shape[1]
        elif waveforms.shape[1] != length:
            raise WaveformError(f"{waveforms.shape[1]} samples", path=path, expected=f"{length} like the others")
        parts = Path(entry["fname"]).stem.split("_")
        rows["waveforms"].append(waveforms)
        rows["p_arrival_sample"].append(int(entry["itp"]))
        rows["s_arrival_sample"].append(int(entry["its"]))
        rows["magnitude"].append(float("nan"))
        rows["snr_db"].append(float("nan"))
        rows["label"].append(1)
        rows["trace_id"].append(Path(entry["fname"]).stem)
        rows["station_id"].append(".".join(parts[:2]))
        rows["event_id"].append(parts[2] if len(parts) > 2 else Path(entry["fname"]).stem)
    if length is None:
        raise DataError("no records listed", path=table)
    return _build(rows, len(component_order), length)


def _seisbench_location(location: str) -> tuple:
    """SeisBench's "i,:3,:3000" bucket location -> a numpy index."""
    index = []
    for part in location.split(","):
        if ":" in part:
            start, _, stop = part.partition(":")
            index.append(slice(int(start) if start else None, int(stop) if stop else None))
        else:
            index.append(int(part))
    return tuple(index)


def from_seisbench(
    folder: str | os.PathLike, *, num_samples: int | None = None, component_order: str = "ZNE"
) -> datasets.Dataset:
    """A SeisBench-format data set (`metadata.csv` + `waveforms.hdf5`) read with pandas and h5py.

    Uses the columns `trace_name`, `trace_p_arrival_sample`, `trace_s_arrival_sample`, `source_magnitude`,
    `trace_snr_db`, `station_network_code`, `station_code`, `source_id` where present; the HDF5 `data_format`
    group gives `component_order` and `dimension_order` (default "CW"). Windows are cut or zero-padded to
    `num_samples` (default: the longest trace).
    """
    import h5py
    import pandas as pd

    folder = Path(folder)
    meta_path, wave_path = folder / "metadata.csv", folder / "waveforms.hdf5"
    for path in (meta_path, wave_path):
        if not path.is_file():
            raise DataError("SeisBench file not found", path=path, expected="metadata.csv and waveforms.hdf5")
    metadata = pd.read_csv(meta_path)
    if "trace_name" not in metadata:
        raise DataError("missing column 'trace_name'", path=meta_path, line=1)
    traces = []
    with h5py.File(wave_path, "r") as handle:
        fmt = handle.get("data_format", {})
        stored_order = _h5_text(fmt, "component_order", "ZNE")
        dimension_order = _h5_text(fmt, "dimension_order", "CW")
        for name in metadata["trace_name"]:
            bucket, _, location = str(name).partition("$")
            if bucket not in handle["data"]:
                raise DataError(f"trace {name!r} not in the HDF5 file", path=wave_path, field="trace_name")
            array = np.asarray(
                handle["data"][bucket][_seisbench_location(location) if location else ()], dtype=np.float32
            )
            if dimension_order.upper().startswith("W"):
                array = array.T
            if not np.isfinite(array).all():
                raise WaveformError(f"NaN/Inf samples in trace {name!r}", path=wave_path)
            if sorted(stored_order) != sorted(component_order):
                raise WaveformError(f"component order {stored_order}", path=wave_path, expected=component_order)
            traces.append(np.stack([array[stored_order.index(c)] for c in component_order]))
    length = num_samples or max(t.shape[1] for t in traces)
    waveforms = np.zeros((len(traces), len(component_order), length), dtype=np.float32)
    for i, trace in enumerate(traces):
        waveforms[i, :, : min(length, trace.shape[1])] = trace[:, :length]

    def column(name, default):
        values = metadata[name] if name in metadata else pd.Series([default] * len(metadata))
        return values.tolist()

    p = [
        int(v) if np.isfinite(v) and 0 <= v < length else -1
        for v in np.asarray(column("trace_p_arrival_sample", np.nan), float)
    ]
    s = [
        int(v) if np.isfinite(v) and 0 <= v < length else -1
        for v in np.asarray(column("trace_s_arrival_sample", np.nan), float)
    ]
    networks, stations = column("station_network_code", ""), column("station_code", "")
    rows = {
        "waveforms": waveforms,
        "p_arrival_sample": p,
        "s_arrival_sample": s,
        "magnitude": np.asarray(column("source_magnitude", np.nan), dtype=np.float32),
        "snr_db": np.asarray(column("trace_snr_db", np.nan), dtype=np.float32),
        "label": [int(a >= 0 or b >= 0) for a, b in zip(p, s)],
        "trace_id": [str(n) for n in metadata["trace_name"]],
        "station_id": [f"{n}.{st}" for n, st in zip(networks, stations)],
        "event_id": [str(v) for v in column("source_id", "")],
    }
    return _build(rows, len(component_order), length)


def _h5_text(group, key: str, default: str) -> str:
    if key not in group:
        return default
    value = group[key][()]
    return value.decode() if isinstance(value, bytes) else str(value)


def _fraction(group: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF


def split_by_group(
    dataset: datasets.Dataset,
    *,
    by: str = "station_id",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> datasets.DatasetDict:
    """Deterministic train/validation/test splits in which every value of `by` (station or event) falls in exactly
    one split, so no station (or event) is seen both in training and in evaluation."""
    if by not in dataset.column_names:
        raise DataError(f"cannot split by {by!r}", field=by, expected="station_id or event_id")
    groups = dataset[by]
    fractions = np.array([_fraction(g, seed) for g in groups])
    test = fractions < test_fraction
    validation = (fractions >= test_fraction) & (fractions < test_fraction + validation_fraction)
    train = ~(test | validation)
    return datasets.DatasetDict(
        {
            "train": dataset.select(np.flatnonzero(train)),
            "validation": dataset.select(np.flatnonzero(validation)),
            "test": dataset.select(np.flatnonzero(test)),
        }
    )
