"""geohub.inference.seismic: sliding windows, stacking, picks/detections/magnitudes, errors, plotting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geohub.data.synthetic_seismic import synthetic_stream
from geohub.errors import WaveformError
from geohub.inference.seismic import annotate, detect, pick, plot_annotation, predict_probabilities
from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking


@pytest.fixture(scope="module")
def picker():
    torch.manual_seed(0)
    return SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=[4, 8, 12], window_length=1000)).eval()


@pytest.fixture(scope="module")
def magnitude_model():
    config = SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000)
    return SeismicMagnitudeForRegression(config).eval()


def test_single_window_equals_direct_model_output(picker):
    data = np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32)
    extractor = SeismicFeatureExtractor(window_length=1000)
    probabilities = predict_probabilities(data, picker, extractor)
    with torch.no_grad():
        output = picker(extractor(data)["inputs"])
    np.testing.assert_allclose(probabilities[:3], torch.softmax(output.logits, 1)[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(probabilities[3], torch.sigmoid(output.detection_logits)[0].numpy(), atol=1e-5)


def test_stacking_covers_every_sample_and_is_batch_invariant(picker):
    data = np.random.default_rng(1).standard_normal((3, 3456)).astype(np.float32)
    extractor = SeismicFeatureExtractor(window_length=1000)
    a = predict_probabilities(data, picker, extractor, overlap=0.5, batch_size=1)
    b = predict_probabilities(data, picker, extractor, overlap=0.5, batch_size=32)
    assert a.shape == (4, 3456) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a[:3].sum(axis=0), 1.0, atol=1e-5)


def test_annotate_returns_picks_detections_magnitudes(picker, magnitude_model):
    stream, _ = synthetic_stream(40.0)
    result = annotate(stream, picker, magnitude_model, p_threshold=0.0, s_threshold=0.0, detection_threshold=0.0)
    (trace,) = result.traces
    assert trace.probabilities.shape == (4, 4000) and trace.station == "GH.SYN."
    assert result.picks and all(p.station == "GH.SYN." for p in result.picks)
    p = result.picks[0]
    assert p.time == stream[0].stats.starttime + p.sample / 100.0
    assert len(result.detections) == 1 and len(result.magnitudes) == 1
    assert np.isfinite(result.magnitudes[0].magnitude) and result.magnitudes[0].uncertainty > 0
    as_dict = result.to_dict()
    assert set(as_dict) == {"picks", "detections", "magnitudes"} and isinstance(as_dict["picks"][0]["time"], str)
    assert pick(stream, picker, p_threshold=1.01, s_threshold=1.01) == []
    assert detect(stream, picker, detection_threshold=1.01) == []


def test_annotate_reads_files_and_resamples(picker, tmp_path):
    stream, _ = synthetic_stream(30.0, sampling_rate=200.0)
    path = tmp_path / "record.mseed"
    stream.write(str(path), format="MSEED")
    result = annotate(path, picker)
    assert result.traces[0].probabilities.shape == (4, 3000) and result.traces[0].sampling_rate == 100.0


def test_record_shorter_than_a_window_is_an_error(picker):
    stream, _ = synthetic_stream(5.0)
    with pytest.raises(WaveformError, match="500 samples.*at least 1000"):
        annotate(stream, picker)


def test_plot_annotation(picker):
    from matplotlib.figure import Figure

    stream, _ = synthetic_stream(20.0)
    result = annotate(stream, picker, p_threshold=0.0)
    figure = plot_annotation(result, max_seconds=15.0)
    assert isinstance(figure, Figure) and len(figure.axes) == 4
    with pytest.raises(ValueError, match="station"):
        plot_annotation(result, station="XX.NONE.")
