"""`pipeline("seismic-denoising", model=folder)`: the same samples as `denoise()`, lists, batching, errors."""

from __future__ import annotations

import numpy as np
import obspy
import pytest
from transformers import pipeline

import geohub  # noqa: F401  (registers the task)
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.errors import WaveformError
from geohub.inference.denoise import denoise
from geohub.models.seismic_denoiser import (
    SeismicDenoiserFeatureExtractor,
)
from geohub.pipelines.denoise import SeismicDenoisingPipeline


@pytest.fixture(scope="module")
def denoiser(denoiser_dir):
    return pipeline("seismic-denoising", model=str(denoiser_dir))


def _stream(seed: int, station: str = "SYN", seconds: float = 20.0) -> obspy.Stream:
    events = [{"time_s": 0.4 * seconds, "magnitude": 2.0, "distance_km": 20.0}]
    return synthetic_stream(seconds, events, seed=seed, station=station)[0]


def _assert_same(got: obspy.Stream, expected: obspy.Stream) -> None:
    assert sorted(t.id for t in got) == sorted(t.id for t in expected) and len(got) > 0
    for trace in expected:
        other = got.select(id=trace.id)
        assert len(other) == 1 and other[0].stats.starttime == trace.stats.starttime
        assert other[0].stats.sampling_rate == trace.stats.sampling_rate
        np.testing.assert_allclose(other[0].data, trace.data, rtol=1e-5, atol=1e-6 * np.abs(trace.data).max())


def test_pipeline_class_and_same_samples_as_denoise(denoiser, denoiser_dir, tmp_path):
    assert isinstance(denoiser, SeismicDenoisingPipeline)
    assert isinstance(denoiser.feature_extractor, SeismicDenoiserFeatureExtractor)
    stream = _stream(1)
    expected = denoise(stream.copy(), denoiser_dir)
    got = denoiser(stream.copy())
    assert isinstance(got, obspy.Stream)
    _assert_same(got, expected)
    assert not np.allclose(got.select(component="Z")[0].data, stream.select(component="Z")[0].data)
    path = tmp_path / "record.mseed"
    stream.write(str(path), format="MSEED")
    _assert_same(denoiser(str(path), overlap=0.25), denoise(str(path), denoiser_dir, overlap=0.25))


def test_list_of_two_inputs_with_batch_size_two(denoiser, denoiser_dir):
    streams = [_stream(2, "AAA", seconds=17.0), _stream(3, "BBB", seconds=13.0)]  # 5 + 4 windows: a shared batch
    outputs = denoiser([s.copy() for s in streams], batch_size=2)
    assert isinstance(outputs, list) and len(outputs) == 2
    for stream, got in zip(streams, outputs):
        assert {t.stats.station for t in got} == {stream[0].stats.station}
        _assert_same(got, denoise(stream.copy(), denoiser_dir, batch_size=2))


def test_stations_batch_across_records_and_noise(denoiser, denoiser_dir):
    both = _stream(4, "AAA") + _stream(5, "BBB", seconds=5.0)  # a 5 s station is one window shorter than 6 s
    result = denoiser(both.copy(), batch_size=4, return_noise=True)  # 6 + 1 windows: one batch has both lengths
    clean, noise = denoise(both.copy(), denoiser_dir, return_noise=True)
    _assert_same(result["denoised"], clean)
    _assert_same(result["noise"], noise)
    one_by_one = pipeline("seismic-denoising", model=str(denoiser_dir), batch_size=1)
    _assert_same(one_by_one(both.copy()), clean)


def test_dict_input_and_errors(denoiser, denoiser_dir, tmp_path):
    stream = _stream(6)
    data = np.stack([stream.select(component=c)[0].data for c in "ZNE"])
    got = denoiser({"waveforms": data, "sampling_rate": 100.0})
    assert len(got) == 3 and got[0].stats.npts == data.shape[-1]
    with pytest.raises(WaveformError, match="not found"):
        denoiser(str(tmp_path / "missing.mseed"))
    with pytest.raises(WaveformError, match="overlap"):
        denoiser(stream, overlap=1.0)
    with pytest.raises(WaveformError, match="sampling_rate"):
        denoiser({"waveforms": data})
