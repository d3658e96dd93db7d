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
    assert record.single_component and record.missing == "NE" and record.channels == ["HHZ", "", ""]
    assert np.any(record.data[0] != 0) and not record.data[1:].any()  # missing components are zeros
    (copied,) = read_waveforms(sac, missing_components="copy")
    assert np.array_equal(copied.data[0], copied.data[2])
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
    (two,) = read_waveforms(stream[:2])  # Z and N: E is zero-filled
    assert two.missing == "E" and not two.data[2].any() and two.data[:2].any()
    with pytest.raises(WaveformError, match="2 component"):
        read_waveforms(stream[:2], allow_single_component=False)
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


@pytest.mark.parametrize("rate", [1.0, 20.0, 40.0, 50.0, 200.0, 2000.0])
def test_any_rate_from_1_to_2000_hz_is_resampled_to_the_model_rate(rate):
    """20-50 Hz records used to fail with "cannot convert float NaN to integer" in the anti-alias filter."""
    stream = obspy.read()  # RJOB, 100 Hz, 30 s
    for trace in stream:
        trace.resample(rate, no_filter=True)
    (record,) = read_waveforms(stream, sampling_rate=100.0)
    assert record.sampling_rate == 100.0 and abs(record.data.shape[1] - 3000) <= 1
    assert np.isfinite(record.data).all() and record.data.std() > 0


def test_down_sampling_removes_energy_above_the_new_nyquist():
    t = np.arange(20000) / 1000.0
    stream = stream_from_array(np.stack([np.sin(2 * np.pi * 5 * t), np.sin(2 * np.pi * 300 * t), 0 * t]), 1000.0)
    (record,) = read_waveforms(stream, sampling_rate=100.0)
    middle = slice(200, 1800)
    assert np.abs(record.data[0, middle]).max() > 0.9  # 5 Hz kept
    assert np.abs(record.data[1, middle]).max() < 0.05  # 300 Hz would alias to 0 Hz-ish without the filter


@pytest.mark.parametrize(("rate", "match"), [(0.0, "rate > 0|positive"), (-5.0, "rate > 0|positive"), (5000.0, "1 to 2000 Hz"),
                                             (0.5, "1 to 2000 Hz")])  # fmt: skip
def test_bad_sampling_rates_are_clear_errors(rate, match):
    stream = obspy.read()
    for trace in stream:
        trace.stats.sampling_rate = rate
    with pytest.raises(WaveformError, match=match):
        read_waveforms(stream, sampling_rate=100.0)
    with pytest.raises(WaveformError, match="sampling_rate must be positive"):
        read_waveforms(obspy.read(), sampling_rate=0)


def test_knet_channel_codes_and_empty_stream():
    stream = obspy.read()
    for trace, code in zip(stream, ["UD", "NS", "EW"]):
        trace.stats.channel = code
    (record,) = read_waveforms(stream, component_order="ENZ")
    assert record.channels == ["EW", "NS", "UD"] and record.missing == ""
    np.testing.assert_allclose(record.data[2], stream[0].data, rtol=1e-6)
    (single,) = read_waveforms(stream.select(channel="UD"))
    assert single.missing == "NE"
    with pytest.raises(WaveformError, match="no traces"):
        read_waveforms(obspy.Stream())


@pytest.mark.shared_data
def test_phasenet_single_component_records_keep_their_data(shared_data):
    """PhaseNet stores a single channel in the last column of `data`; it used to be read from the (zero) first."""
    from geohub.data.seismic_datasets import from_phasenet_npz

    records = from_phasenet_npz(shared_data / "phasenet-ncedc", limit=2).with_format("numpy")
    single = np.asarray(records[1]["waveforms"])  # NC_MTU_2014071807051236_02.npz, channels "EHZ"
    assert single.std(axis=1).min() > 0 and np.array_equal(single[0], single[2])
