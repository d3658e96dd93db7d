"""Seismic converters to `datasets` (synthetic, ObsPy folder + CSV, PhaseNet npz, SeisBench) and the generator's
physics."""

from __future__ import annotations

import numpy as np
import pytest

from geohub.data.seismic_datasets import (
    from_obspy_folder,
    from_phasenet_npz,
    from_seisbench,
    seismic_features,
    split_by_group,
    synthetic_dataset,
)
from geohub.data.synthetic_seismic import (
    brune_corner_frequency,
    generate_synthetic_windows,
    local_magnitude_amplitude,
    synthetic_stream,
)
from geohub.errors import DataError, WaveformError


def test_synthetic_dataset_features_and_seed():
    data = synthetic_dataset(12, seed=3, window_length=1000)
    assert data.features == seismic_features(3, 1000)
    array = np.asarray(data.with_format("numpy")["waveforms"])
    assert array.shape == (12, 3, 1000) and array.dtype == np.float32
    again = np.asarray(synthetic_dataset(12, seed=3, window_length=1000).with_format("numpy")["waveforms"])
    np.testing.assert_array_equal(array, again)
    labels = np.asarray(data["label"])
    assert np.all((np.asarray(data["p_arrival_sample"]) >= 0) == (labels == 1))


def test_generator_physics():
    batch = generate_synthetic_windows(400, seed=1, noise_fraction=0.0, window_length=6000)
    sp = (batch["s_sample"] - batch["p_sample"])[batch["s_sample"] >= 0] / 100.0
    distance = batch["distance_km"][batch["s_sample"] >= 0]
    assert np.corrcoef(sp, distance)[0, 1] > 0.98  # S-P time grows with hypocentral distance
    expected_sp = distance * (1 / 3.5 - 1 / 6.0)
    assert np.median(np.abs(sp - expected_sp) / expected_sp) < 0.2
    assert brune_corner_frequency(4.0) < brune_corner_frequency(2.0) < brune_corner_frequency(0.5)
    assert np.isclose(np.log10(local_magnitude_amplitude(3.0, 100.0)), 0.0)  # ML 3 at 100 km = 1 mm
    horizontal_peak = np.abs(batch["waveforms"][:, 1:]).max(axis=(1, 2))
    residual = np.log10(horizontal_peak) - np.log10(
        local_magnitude_amplitude(batch["magnitude"], batch["distance_km"])
    )
    assert np.median(np.abs(residual)) < 0.25  # amplitudes follow the ML distance correction
    assert np.isnan(generate_synthetic_windows(20, seed=2, noise_fraction=1.0)["magnitude"]).all()


def test_obspy_folder_with_picks_csv(tmp_path):
    truths = []
    for i in range(2):
        stream, truth = synthetic_stream(
            40.0, seed=i, events=[{"time_s": 10.0 + i, "magnitude": 2.0, "distance_km": 20.0}]
        )
        stream.write(str(tmp_path / f"r{i}.mseed"), format="MSEED")
        truths.append(truth[0])
    csv_path = tmp_path / "picks.csv"
    rows = ["file,p_time,s_time,magnitude,event_id"]
    rows += [f"r{i}.mseed,{t['p_time']},{t['s_time']},{t['magnitude']},ev{i}" for i, t in enumerate(truths)]
    rows.append("r0.mseed,,,,noise0")
    csv_path.write_text("\n".join(rows) + "\n")
    data = from_obspy_folder(tmp_path, csv_path, num_samples=3000)
    assert data.features == seismic_features(3, 3000)
    assert data["p_arrival_sample"] == [1000, 1100, -1]
    assert data["label"] == [1, 1, 0] and data["event_id"] == ["ev0", "ev1", "noise0"]
    assert data["s_arrival_sample"][0] == int(round((truths[0]["s_time"] - truths[0]["p_time"]) * 100)) + 1000
    bad = tmp_path / "bad.csv"
    bad.write_text("file,p_time\nr0.mseed,2024\n")
    with pytest.raises(DataError, match="bad.csv:1.*s_time"):
        from_obspy_folder(tmp_path, bad, num_samples=3000)


def test_phasenet_npz_and_group_split(shared_data):
    data = from_phasenet_npz(shared_data / "phasenet-ncedc", limit=30)
    assert data.features["waveforms"].shape == (3, 9001)
    assert set(data["p_arrival_sample"]) == {3000}
    splits = split_by_group(data, by="station_id", validation_fraction=0.2, test_fraction=0.3)
    stations = [set(splits[name]["station_id"]) for name in ("train", "validation", "test")]
    assert sum(len(splits[name]) for name in splits) == 30
    assert not (stations[0] & stations[1]) and not (stations[0] & stations[2]) and not (stations[1] & stations[2])


def test_phasenet_bad_records(tmp_path):
    (tmp_path / "waveforms").mkdir()
    data = np.random.default_rng(0).standard_normal((500, 3))
    np.savez(tmp_path / "waveforms" / "NC_AAA_2020010100000000.npz", data=data, itp=100, its=200)
    data[10, 1] = np.nan
    np.savez(tmp_path / "waveforms" / "NC_BBB_2020010100000000.npz", data=data, itp=100, its=200)
    (tmp_path / "waveform.csv").write_text(
        "fname,itp,its,channels\nNC_AAA_2020010100000000.npz,100,200,EHE_EHN_EHZ\n"
        "NC_BBB_2020010100000000.npz,100,200,EHE_EHN_EHZ\n"
    )
    with pytest.raises(WaveformError, match="NC_BBB.*NaN"):
        from_phasenet_npz(tmp_path)
    good = from_phasenet_npz(tmp_path, limit=1)
    np.testing.assert_allclose(np.asarray(good.with_format("numpy")["waveforms"])[0, 0], data[:, 2], rtol=1e-6)


def test_seisbench_format_written_by_seisbench(tmp_path):
    seisbench_data = pytest.importorskip("seisbench.data")
    rng = np.random.default_rng(0)
    waveforms = [rng.standard_normal((3, 1200)).astype(np.float32) for _ in range(4)]
    with seisbench_data.WaveformDataWriter(tmp_path / "metadata.csv", tmp_path / "waveforms.hdf5") as writer:
        writer.data_format = {
            "dimension_order": "CW",
            "component_order": "ZNE",
            "sampling_rate": 100,
            "measurement": "velocity",
            "unit": "counts",
            "instrument_response": "not restituted",
        }
        for i, w in enumerate(waveforms):
            writer.add_trace({"trace_name": f"t{i}", "trace_p_arrival_sample": 100 + i, "trace_s_arrival_sample": 400,
                              "source_magnitude": 1.5 + i, "station_network_code": "XX", "station_code": f"S{i % 2}",
                              "source_id": f"ev{i}", "trace_sampling_rate_hz": 100}, w)  # fmt: skip
    data = from_seisbench(tmp_path)
    assert data.features == seismic_features(3, 1200)
    assert data["p_arrival_sample"] == [100, 101, 102, 103]
    np.testing.assert_allclose(data["magnitude"], [1.5, 2.5, 3.5, 4.5])
    assert data["station_id"][:2] == ["XX.S0", "XX.S1"]
    stored = np.asarray(data.with_format("numpy")["waveforms"])
    np.testing.assert_array_equal(stored, np.stack(waveforms))
    # seisbench's own reader agrees
    reference = seisbench_data.WaveformDataset(tmp_path)
    np.testing.assert_allclose(reference.get_waveforms(2), stored[2], rtol=1e-6)
