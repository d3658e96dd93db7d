"""The seismic pipelines on the transformers contract: windows in `preprocess`, the model in `_forward`, so
`batch_size`, lists of inputs and `num_workers` work; any picking model (U-Net, EQTransformer); no event on an
all-zero record."""

from __future__ import annotations

import numpy as np
import obspy
import pytest
import torch

from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking
from geohub.pipelines.seismic import SeismicMagnitudePipeline, SeismicPhasePickingPipeline


@pytest.fixture(scope="module")
def picking():
    torch.manual_seed(0)
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=[4, 8, 12], window_length=1000)).eval()
    return SeismicPhasePickingPipeline(model=model, feature_extractor=SeismicFeatureExtractor(window_length=1000))


@pytest.fixture(scope="module")
def magnitude():
    torch.manual_seed(0)
    config = SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000)
    extractor = SeismicFeatureExtractor(window_length=1000, return_amplitude=True)
    return SeismicMagnitudePipeline(model=SeismicMagnitudeForRegression(config).eval(), feature_extractor=extractor)


def _same(a, b):
    assert [(p["time"], p["phase"]) for p in a["picks"]] == [(p["time"], p["phase"]) for p in b["picks"]]
    np.testing.assert_allclose([p["probability"] for p in a["picks"]], [p["probability"] for p in b["picks"]],
                               atol=1e-5)  # fmt: skip
    assert len(a["detections"]) == len(b["detections"])


def test_batch_size_lists_and_workers_give_the_same_picks(picking):
    stream = obspy.read()
    other, _ = __import__("geohub.data.synthetic_seismic", fromlist=["x"]).synthetic_stream(25.0)
    single = picking(stream, p_threshold=0.0, s_threshold=0.0)
    assert single["picks"] and set(single) == {"picks", "detections"}
    _same(single, picking(stream, batch_size=2, p_threshold=0.0, s_threshold=0.0))
    batched = picking([stream, other, stream], batch_size=3, p_threshold=0.0, s_threshold=0.0)
    assert len(batched) == 3
    _same(batched[0], single)
    _same(batched[2], single)
    assert {p["station"] for p in batched[1]["picks"]} == {"GH.SYN."}
    workers = picking([stream, other], batch_size=2, num_workers=2, p_threshold=0.0, s_threshold=0.0)
    _same(workers[0], single)
    _same(workers[1], batched[1])


def test_dict_input_obspy_output_and_stride(picking):
    data = np.random.default_rng(0).standard_normal((1, 2500))
    result = picking({"waveforms": data, "sampling_rate": 50.0}, output="obspy")  # one component at 50 Hz
    annotations = result["annotations"]
    assert isinstance(annotations, obspy.Stream) and annotations[0].stats.sampling_rate == 100.0
    assert annotations[0].stats.npts == 5000 and sorted({tr.stats.channel for tr in annotations}) == [
        "UNET_D", "UNET_N", "UNET_P", "UNET_S"]  # fmt: skip
    _same(picking(obspy.read(), stride=250, p_threshold=0.0), picking(obspy.read(), overlap=0.75, p_threshold=0.0))


def test_magnitude_batches_and_all_zero_record(magnitude):
    stream = obspy.read()
    (one,) = magnitude(stream)
    assert set(one) == {"station", "start", "magnitude", "uncertainty", "event_probability"}
    both = magnitude([stream, stream], batch_size=2)
    assert [b[0]["magnitude"] for b in both] == pytest.approx([one["magnitude"]] * 2, abs=1e-5)
    zeros = stream.copy()
    for trace in zeros:
        trace.data = np.zeros(trace.stats.npts)
    (dead,) = magnitude(zeros)
    assert dead["event_probability"] == 0.0 and dead["magnitude"] is None  # was 0.63 before the fix


def test_eqtransformer_runs_through_the_same_pipeline():
    torch.manual_seed(0)
    model = EqTransformerForPhasePicking(EqTransformerConfig(num_lstm_blocks=1)).eval()
    pipe = SeismicPhasePickingPipeline(model=model, feature_extractor=EqTransformerFeatureExtractor())
    stream = obspy.read()  # 30 s: zero-padded to one 60 s window
    result = pipe(stream, output="obspy", detection_threshold=0.0, p_threshold=0.0)
    assert sorted(tr.stats.channel for tr in result["annotations"]) == ["EQT_D", "EQT_P", "EQT_S"]
    assert result["annotations"][0].stats.npts == 3000
    assert pipe([stream, stream], batch_size=2)[0] == pipe(stream)
