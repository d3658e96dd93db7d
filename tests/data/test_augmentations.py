"""The seismic augmentation callables."""

from __future__ import annotations

import numpy as np

from geohub.data.augmentations import AddGaps, AddNoise, AmplitudeScale, ChannelDropout, Compose, RandomWindow


def _record(length=9001, p=3000, s=3400):
    data = np.zeros((3, length), dtype=np.float32)
    data[:, p] = 1.0  # a marker at the P sample
    data[:, s] = 2.0
    return {"waveforms": data, "p_arrival_sample": p, "s_arrival_sample": s, "label": 1, "magnitude": 2.0}


def test_random_window_moves_the_pick_with_the_data():
    rng = np.random.default_rng(0)
    positions = []
    for _ in range(50):
        out = RandomWindow(3000, p_position_range=(0.05, 0.85))(_record(), rng)
        assert out["waveforms"].shape == (3, 3000)
        p = out["p_arrival_sample"]
        assert out["waveforms"][0, p] == 1.0
        if out["s_arrival_sample"] >= 0:
            assert out["waveforms"][0, out["s_arrival_sample"]] == 2.0
        positions.append(p)
    assert min(positions) < 600 and max(positions) > 2000  # not always at the same place


def test_random_window_noise_windows_and_padding():
    rng = np.random.default_rng(1)
    out = RandomWindow(3000, noise_probability=1.0)(_record(), rng)
    assert out["label"] == 0 and out["p_arrival_sample"] == -1 and not np.any(out["waveforms"] == 1.0)
    short = RandomWindow(3000)(_record(length=1000, p=100, s=500), rng)
    assert short["waveforms"].shape == (3, 3000) and short["waveforms"][0, short["p_arrival_sample"]] == 1.0


def test_add_noise_reaches_target_snr():
    rng = np.random.default_rng(2)
    signal = np.zeros((3, 3000), dtype=np.float32)
    signal[:, 1000:1400] = rng.standard_normal((3, 400))
    sample = {"waveforms": signal, "p_arrival_sample": 1000, "s_arrival_sample": -1}
    out = AddNoise((10.0, 10.0), probability=1.0)(sample, rng)
    noise = out["waveforms"] - signal
    snr = 10 * np.log10(np.mean(signal[:, 1000:1400] ** 2) / np.mean(noise**2))
    assert abs(snr - 10.0) < 1.5


def test_dropout_scaling_gaps_and_compose_reproducible():
    rng = np.random.default_rng(3)
    sample = {"waveforms": np.ones((3, 1000), dtype=np.float32), "p_arrival_sample": 10, "s_arrival_sample": 20}
    for _ in range(20):
        dropped = ChannelDropout(0.99)(sample, rng)["waveforms"]
        assert (np.abs(dropped).sum(axis=1) > 0).sum() >= 1
    scaled = AmplitudeScale((1.0, 1.0))(sample, rng)["waveforms"]
    np.testing.assert_allclose(scaled, 10.0)
    gapped = AddGaps(1.0, 0.2)(sample, rng)["waveforms"]
    assert 0 < (gapped == 0).all(axis=0).sum() <= 200
    pipeline = Compose([RandomWindow(500), AddNoise(probability=1.0), ChannelDropout(0.3), AddGaps(0.5)])
    a = pipeline(_record(), np.random.default_rng(7))
    b = pipeline(_record(), np.random.default_rng(7))
    np.testing.assert_array_equal(a["waveforms"], b["waveforms"])
    assert np.all(sample["waveforms"] == 1.0)  # inputs are never modified in place
