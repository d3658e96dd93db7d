"""`geohub.data.waveforms.read_waveforms`: formats, resampling, gaps, and a clear error for each bad input."""

from __future__ import annotations

import numpy as np
import obspy
import pytest

from geohub.data.synthetic_seismic import synthetic_stream, write_example_mseed
from geohub.data.waveforms import read_waveforms, stream_from_array
from geohub.errors import WaveformError


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    path = tmp_path_factory.mktemp("wave") / "example.mseed"
    truth = write_example_mseed(path, duration_s=60.0)
    return path, truth


def test_reads_miniseed_into_channels_by_samples(example):
    path, _ = example
    (record,) = read_waveforms(path)
    assert record.data.shape == (3, 6000) and record.data.dtype == np.float32
    assert record.sampling_rate == 100.0
    assert record.station_id == "GH.SYN."
    assert record.component_order == "ZNE" and record.channels == ["HHZ", "HHN", "HHE"]
    assert record.starttime == obspy.UTCDateTime("2024-01-01T00:00:00")
    stream = obspy.read(str(path))
    np.testing.assert_allclose(record.data[1], stream.select(channel="HHN")[0].data, rtol=1e-6)


def test_resamples_and_keeps_component_order(example):
    path, _ = example
    (record,) = read_waveforms(path, sampling_rate=50.0, component_order="ENZ")
    assert record.data.shape == (3, 3000) and record.sampling_rate == 50.0
    assert record.channels == ["HHE", "HHN", "HHZ"]


def test_other_formats_and_single_component(tmp_path):
    stream, _ = synthetic_stream(40.0)
    sac = tmp_path / "z.sac"
    stream.select(channel="HHZ")[0].write(str(sac), format="SAC")
    (record,) = read_waveforms(sac)
    assert record.single_component and np.array_equal(record.data[0], record.data[2])
    with pytest.raises(WaveformError, match="1 component"):
        read_waveforms(sac, allow_single_component=False)
    gse = tmp_path / "all.gse2"
    stream_int = stream.copy()
    for trace in stream_int:
        trace.data = (trace.data * 1e6).astype(np.int32)
    stream_int.write(str(gse), format="GSE2")
    assert read_waveforms(gse)[0].data.shape == (3, 4000)


def test_multiple_stations_one_record_each():
    a, _ = synthetic_stream(30.0, station="AAA")
    b, _ = synthetic_stream(30.0, station="BBB", seed=1)
    records = read_waveforms(a + b)
    assert [r.station_id for r in records] == ["GH.AAA.", "GH.BBB."]


@pytest.mark.parametrize("keep", [0.5, 0.5 + 100 / 73728, 300 / 73728])
def test_truncated_file_is_a_clear_error(example, tmp_path, keep):
    path, _ = example
    data = path.read_bytes()
    bad = tmp_path / "truncated.mseed"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(WaveformError, match="truncated|corrupt|component"):
        read_waveforms(bad)


def test_corrupt_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.mseed"
    garbage.write_bytes(b"not a seismogram " * 50)
    with pytest.raises(WaveformError, match="garbage.mseed: cannot read"):
        read_waveforms(garbage)
    with pytest.raises(WaveformError, match="not found"):
        read_waveforms(tmp_path / "absent.mseed")
    (tmp_path / "empty.mseed").write_bytes(b"")
    with pytest.raises(WaveformError, match="empty"):
        read_waveforms(tmp_path / "empty.mseed")


def test_nan_and_inf_samples_name_the_trace():
    stream, _ = synthetic_stream(20.0)
    stream[1].data[123] = np.inf
    with pytest.raises(WaveformError, match=r"GH.SYN..HHN.*first at sample 123"):
        read_waveforms(stream)


def test_wrong_channel_count_and_mismatched_rates():
    stream, _ = synthetic_stream(20.0)
    with pytest.raises(WaveformError, match="2 component"):
        read_waveforms(stream[:2])
    extra = stream.copy()
    extra.append(extra[0].copy())
    extra[-1].stats.channel = "HHX"
    with pytest.raises(WaveformError, match="4 component"):
        read_waveforms(extra)
    mixed = stream.copy()
    mixed[2].stats.sampling_rate = 50.0
    with pytest.raises(WaveformError, match="different sampling rates"):
        read_waveforms(mixed)


def test_too_short_record():
    stream, _ = synthetic_stream(20.0)
    with pytest.raises(WaveformError, match="2000 samples.*at least 3000 samples"):
        read_waveforms(stream, min_samples=3000)


def test_gaps_are_merged_explicitly():
    stream, _ = synthetic_stream(60.0)
    z = stream.select(channel="HHZ")[0]
    t0 = z.stats.starttime
    gapped = obspy.Stream([z.slice(t0, t0 + 10).copy(), z.slice(t0 + 20, z.stats.endtime).copy()])
    gapped += stream.select(channel="HHN") + stream.select(channel="HHE")
    (record,) = read_waveforms(gapped, fill_gaps="zeros")
    assert record.data.shape == (3, 6000) and len(record.gaps) == 1
    assert np.all(record.data[0, 1005:1995] == 0.0)
    (record,) = read_waveforms(gapped, fill_gaps="interpolate")
    assert np.all(record.data[0, 1005:1995] != 0.0)
    with pytest.raises(WaveformError, match="1 gap"):
        read_waveforms(gapped, fill_gaps="raise")


def test_input_stream_is_not_modified_and_array_round_trip():
    data = np.random.default_rng(0).standard_normal((3, 500)).astype(np.float32)
    stream = stream_from_array(data, 100.0)
    (record,) = read_waveforms(stream, sampling_rate=50.0)
    assert stream[0].stats.sampling_rate == 100.0 and record.data.shape == (3, 250)
    np.testing.assert_array_equal(read_waveforms(stream)[0].data, data)
