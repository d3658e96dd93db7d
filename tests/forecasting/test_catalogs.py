"""Catalogue readers, completeness, windows and their errors (each names the file and row)."""

from __future__ import annotations

import numpy as np
import pytest

from geohub.data.catalogs import (
    catalog_window,
    point_in_polygon,
    read_catalog,
    sequence_dataset,
    split_windows,
)
from geohub.errors import DataError

HEADER = "time,magnitude,longitude,latitude\n"


def _csv(tmp_path, rows: str, name="c.csv", header=HEADER):
    path = tmp_path / name
    path.write_text(header + rows, encoding="utf-8")
    return path


def test_csv_reads_columns_and_days(tmp_path):
    path = _csv(tmp_path, "2020-01-01 00:00:00.000,1.2,-116.5,33.5\n2020-01-02 12:00:00,2.0,-116.4,33.6\n")
    catalog = read_catalog(path)
    assert len(catalog) == 2 and catalog.magnitudes.tolist() == [1.2, 2.0]
    window = catalog_window(catalog, "2020-01-02", "2020-01-03")
    history, events, start, end = window.times_days()
    assert history.tolist() == [0.0] and events.tolist() == [1.5] and (start, end) == (1.0, 2.0)


@pytest.mark.parametrize(
    "rows, line, message",
    [
        ("2020-01-02 00:00:00,1.0,0,0\n2020-01-01 00:00:00,1.0,0,0\n", 3, "earlier than the row before"),
        ("2020-01-01 00:00:00,1.0,0,0\n2020-01-01 00:00:00,1.5,0,0\n", 3, "duplicate event"),
        ("2020-01-01 00:00:00,1.0,0,0\n2020-01-02 00:00:00,,0,0\n", 3, "missing value"),
        ("2020-01-01 00:00:00,abc,0,0\n", 2, "not a number"),
        ("yesterday,1.0,0,0\n", 2, "cannot read time"),
        ("1850-01-01 00:00:00,1.0,0,0\n", 2, "out of range"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path, rows, line, message):
    path = _csv(tmp_path, rows)
    with pytest.raises(DataError, match=message) as info:
        read_catalog(path)
    assert info.value.line == line and info.value.path == str(path)


def test_non_utf8_missing_column_and_empty_window(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(HEADER.encode() + "2020-01-01 00:00:00,1.0,0,0 \xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_catalog(path)
    with pytest.raises(DataError, match="missing column.*magnitude"):
        read_catalog(_csv(tmp_path, "2020-01-01,1\n", header="time,mag\n"))
    catalog = read_catalog(_csv(tmp_path, "2020-01-01 00:00:00,1.0,0,0\n2020-03-01 00:00:00,1.0,0,0\n"))
    with pytest.raises(DataError, match="no events in the window"):
        catalog_window(catalog, "2020-02-01", "2020-02-02")
    with pytest.raises(DataError, match="outside the catalogue"):
        catalog_window(catalog, "2010-01-01", "2010-02-01")


def test_completeness_binning_region_and_splits(tmp_path):
    rows = "".join(
        f"2020-01-{d:02d} 00:00:00,{m},{lon},33.5\n"
        for d, m, lon in [(1, 0.94, -116.5), (2, 0.96, -116.5), (3, 1.5, -115.5), (4, 2.0, -116.0), (5, 1.1, -116.2)]
    )
    catalog = read_catalog(_csv(tmp_path, rows), region=[(33, -117), (33, -116), (34, -116), (34, -117)])
    assert len(catalog) == 4  # the event at -115.5 is outside; -116.0 is on the edge (kept, as the benchmark)
    complete = catalog.complete_above(1.0, delta_m=0.1)
    assert complete.magnitudes.tolist() == pytest.approx([1.0, 2.0, 1.1])  # 0.96 rounds up to 1.0, 0.94 does not
    windows = split_windows(
        complete,
        auxiliary_start="2020-01-01",
        train_start="2020-01-02",
        validation_start="2020-01-04",
        test_start="2020-01-05",
        test_end="2020-01-06",
    )
    assert [len(w.events) for w in windows.values()] == [1, 1, 1]
    assert len(windows["test"].history) == 2
    assert point_in_polygon(np.array([0.5, 2.0]), np.array([0.5, 0.5]), [(0, 0), (1, 0), (1, 1), (0, 1)]).tolist() == [
        True,
        False,
    ]


def test_quakeml_and_obspy_catalog(tmp_path):
    from obspy import UTCDateTime
    from obspy.core.event import Catalog, Event, Magnitude, Origin

    events = Catalog()
    for day, mag in [(3, 2.5), (1, 1.5)]:  # QuakeML order is not meaningful: sorted on reading
        events.append(Event(origins=[Origin(time=UTCDateTime(2020, 1, day), latitude=33.5, longitude=-116.5,
                                            depth=5000.0)], magnitudes=[Magnitude(mag=mag)]))  # fmt: skip
    path = tmp_path / "events.xml"
    events.write(str(path), format="QUAKEML")
    for source in (events, path):
        catalog = read_catalog(source)
        assert catalog.magnitudes.tolist() == [1.5, 2.5] and catalog.depths.tolist() == [5.0, 5.0]
    events.append(Event(origins=[Origin(time=UTCDateTime(2020, 1, 5))]))
    with pytest.raises(DataError, match="event 3 .* has no magnitude"):
        read_catalog(events)


def test_sequence_dataset_scores_each_window_event_once(tmp_path):
    rows = "".join(f"2020-01-01 00:00:{s:02d},1.0,0,0\n" for s in range(50))
    catalog = read_catalog(_csv(tmp_path, rows))
    window = catalog_window(catalog, "2020-01-01 00:00:10", "2020-01-01 00:01:00")
    data = sequence_dataset(window, length=7, warmup=3, states=np.zeros((50, 2), np.float32))
    scored = np.concatenate([np.asarray(t)[np.asarray(s)] for t, s in zip(data["times"], data["scored"])])
    _, events, _, _ = window.times_days()
    assert sorted(scored.tolist()) == events.tolist()
    assert data.features["states"].feature.length == 2
