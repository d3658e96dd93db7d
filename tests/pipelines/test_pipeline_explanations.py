# ruff: noqa: F811  (fixtures imported from other test modules)
"""`explain=` of every geohub pipeline: attributions of the right shape whose integrated-gradients completeness gap
is within 1 % (10 % for the tiny random terrain GAN; see the EQTransformer's note), the cheaper methods, results unchanged without `explain`, and bad
values as clear errors before any model work. Tiny randomly initialised models, a few steps."""

from __future__ import annotations

import numpy as np
import obspy
import pytest
import torch
from transformers import pipeline

import geohub  # noqa: F401  (registers the pipelines)
from geohub.explain import ExplainError
from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
from geohub.models.gpd import GPDConfig, GPDForWindowClassification
from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking
from geohub.pipelines.seismic import SeismicMagnitudePipeline, SeismicPhasePickingPipeline
from tests.inference.test_terrain import gan_dir  # noqa: F401  (fixture)
from tests.inference.test_text import extractive_dir, tagger_dir, tokenizer  # noqa: F401  (fixtures)

STEPS = {"explain_steps": 16}
TEXT = ("The Chalk Group crops out near Dover. Granite intrudes the Mull Lava Group in Scotland. "
        "Quartz veins cut the granite.")  # fmt: skip


def _complete(entry, attributions=None, tolerance: float | None = 0.01) -> None:
    """The entry's integrated gradients add up to f(x) - f(baseline) within `tolerance` (relative; an absolute 1e-4
    where a tiny random model's output hardly moves)."""
    values = np.asarray(entry["attributions"] if attributions is None else attributions, dtype=np.float64)
    assert np.isfinite(values).all() and entry["method"] == "integrated_gradients"
    difference = entry["output"] - entry["baseline_output"]
    assert abs(values.sum() - difference) == pytest.approx(
        entry["completeness_gap"], abs=1e-5 + 1e-3 * abs(difference)
    )
    gap = entry["completeness_gap"]
    if tolerance is not None:
        assert entry["relative_completeness_gap"] <= tolerance or gap < 1e-4, (entry["target"], difference, gap)


def _stream_values(stream: obspy.Stream) -> np.ndarray:
    return np.stack([trace.data for trace in stream])


def _pickers():
    torch.manual_seed(0)
    unet = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=[4, 8], kernel_size=5, window_length=1000))
    eqt = EqTransformerForPhasePicking(EqTransformerConfig(
        encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2], num_lstm_blocks=1, lstm_units=4,
        attention_units=4, feed_forward_units=4, decoder_filters=[2] * 7, window_length=1008))  # fmt: skip
    gpd = GPDForWindowClassification(GPDConfig(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3],
                                               hidden_sizes=[8]))  # fmt: skip
    return {
        "unet": (unet, SeismicFeatureExtractor(window_length=1000), 1000, 0.01),
        # no completeness check: this tiny random EQTransformer's P probability jumps at the all-zero baseline itself
        # (0.5 at 0, 0.573 from 1e-8 x the input on), which no path integral can add up; the quickstart's trained
        # one is continuous there (0.0 from 0 to 1e-2 x the input) and adds up
        "eqtransformer": (eqt, EqTransformerFeatureExtractor(window_length=1008), 1008, None),
        "gpd": (gpd, SeismicFeatureExtractor(window_length=400), 400, 0.01),
    }


@pytest.mark.parametrize("family", ["unet", "eqtransformer", "gpd"])
def test_picking_explains_the_strongest_p_pick_of_each_station(family):
    model, extractor, window, tolerance = _pickers()[family]
    picker = SeismicPhasePickingPipeline(model=model.eval(), feature_extractor=extractor)
    stream = obspy.read()
    plain = picker(stream)
    result = picker(stream, explain=True, explain_steps=16, explain_max_steps=1024)
    assert set(plain) == {"picks", "detections"} and set(result) == {"picks", "detections", "explanation"}
    assert result["picks"] == plain["picks"] and result["detections"] == plain["detections"]
    (entry,) = result["explanation"]  # one station
    assert entry["station"] == "BW.RJOB." and "probability" in entry["target"] and "P" in entry["target"]
    attributions = entry["attributions"]
    assert isinstance(attributions, obspy.Stream)
    assert [tr.stats.channel for tr in attributions] == [f"ATTR_{c}" for c in extractor.component_order]
    assert all(tr.stats.npts == window for tr in attributions)
    assert stream[0].stats.starttime <= attributions[0].stats.starttime <= stream[0].stats.endtime
    _complete(entry, _stream_values(attributions), tolerance)
    assert 0.0 <= entry["share_near_pick"] <= 1.0
    zeros = stream.copy()
    for trace in zeros:
        trace.data = np.zeros(trace.stats.npts)
    assert picker(zeros, explain=True)["explanation"] == [None]  # no signal: nothing explained
    saliency = picker(stream, explain="saliency", output="obspy")["explanation"][0]
    assert saliency["n_steps"] == 0 and np.isnan(saliency["completeness_gap"])
    assert (_stream_values(saliency["attributions"]) >= 0).all() and _stream_values(saliency["attributions"]).any()


def test_magnitude_explains_each_station_row():
    torch.manual_seed(0)
    config = SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000)
    extractor = SeismicFeatureExtractor(window_length=1000, return_amplitude=True)
    magnitude = SeismicMagnitudePipeline(
        model=SeismicMagnitudeForRegression(config).eval(), feature_extractor=extractor
    )
    stream = obspy.read()
    (plain,) = magnitude(stream)
    (row,) = magnitude(stream, explain=True, **STEPS)
    assert {k: v for k, v in row.items() if k != "explanation"} == plain
    entry = row["explanation"]
    assert entry["target"] == "predicted magnitude" and entry["output"] == pytest.approx(plain["magnitude"], abs=1e-5)
    assert _stream_values(entry["attributions"]).shape == (3, 1000)
    _complete(entry, _stream_values(entry["attributions"]))
    zeros = stream.copy()
    for trace in zeros:
        trace.data = np.zeros(trace.stats.npts)
    (dead,) = magnitude(zeros, explain=True, **STEPS)
    assert dead["magnitude"] is None and dead["explanation"] is None  # no signal: nothing explained


def test_denoising_explains_the_largest_denoised_sample(denoiser_dir):
    denoiser = pipeline("seismic-denoising", model=str(denoiser_dir))
    stream = obspy.read()
    plain = denoiser(stream)
    result = denoiser(stream, explain=True, return_noise=True, **STEPS)
    assert isinstance(plain, obspy.Stream) and set(result) == {"denoised", "noise", "explanation"}
    np.testing.assert_array_equal(result["denoised"][0].data, plain[0].data)
    (entry,) = result["explanation"]
    channel, sample = entry["target_index"]
    assert entry["target"] == f"denoised sample {sample} of component {channel}"
    assert _stream_values(entry["attributions"]).shape == (3, 600)
    peak = max(plain, key=lambda tr: np.abs(tr.data).max())
    assert entry["peak_time"] == peak.stats.starttime + int(np.abs(peak.data).argmax()) / peak.stats.sampling_rate
    _complete(entry, _stream_values(entry["attributions"]))


@pytest.fixture(scope="module")
def landform_folder(tmp_path_factory):
    from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
    from geohub.models.terrain_gan import TerrainImageProcessor

    folder = tmp_path_factory.mktemp("landform")
    torch.manual_seed(0)
    config = LandformConfig(image_size=16, hidden_sizes=[4, 8], layers_per_stage=1)
    LandformCNNForImageClassification(config).save_pretrained(folder)
    TerrainImageProcessor(normalization="patch", spacing_m=50.0, patch_size=16).save_pretrained(folder)
    return folder


def test_landform_explains_each_pixel_of_the_predicted_class(landform_folder):
    classify = pipeline("landform-classification", model=str(landform_folder))
    rows, cols = np.mgrid[0:40, 0:40]
    dem = (300.0 + 5.0 * rows + 20.0 * np.sin(cols / 4.0)).astype(np.float32)
    plain = classify(dem, spacing_m=50.0)
    result = classify(dem, spacing_m=50.0, explain=True, explain_steps=16, explain_max_steps=1024)
    assert result["predictions"] == plain and isinstance(plain, list)
    entry = result["explanation"]
    assert entry["attributions"].shape == (16, 16) and entry["label"] == plain[0]["label"]
    assert entry["target"] == f"logit of {plain[0]['label']}" and entry["num_patches"] >= 4
    _complete(entry)
    with torch.inference_mode():  # a caller's inference mode (or no_grad) does not stop the explanation
        inside = classify(dem, spacing_m=50.0, explain=True, explain_steps=16, explain_max_steps=1024)["explanation"]
    np.testing.assert_allclose(inside["attributions"], entry["attributions"], rtol=1e-4, atol=1e-7)


def test_terrain_generation_explains_each_patch_per_latent_dimension(gan_dir):
    generate = pipeline("terrain-generation", model=str(gan_dir))
    plain = generate(2, seed=0)
    result = generate(2, seed=0, explain=True, explain_steps=16, explain_max_steps=1024)
    np.testing.assert_array_equal(result["elevation"], plain["elevation"])
    assert set(plain) == {"elevation", "spacing_m"} and len(result["explanation"]) == 2
    for entry in result["explanation"]:
        assert entry["attributions"].shape == (8, 13, 13)  # per cell of the tiny GAN's latent field
        assert entry["target"].startswith("mean of the generated patch")
        assert entry["output"] != entry["baseline_output"]  # the seed-0 patch is not its own reference
        _complete(entry, tolerance=0.1)  # a tiny random generator: its patch mean moves by ~1e-2 through kinks


def test_extractive_summarizer_explains_each_chosen_sentence(extractive_dir):
    summarizer = pipeline("extractive-summarization", model=str(extractive_dir))
    plain = summarizer(TEXT, num_sentences=2)
    result = summarizer(TEXT, num_sentences=2, explain=True, **STEPS)
    assert result["summary_text"] == plain["summary_text"] and set(plain) == {"summary_text"}
    assert len(result["explanation"]) == 2
    for entry in result["explanation"]:
        assert entry["attributions"].shape == (3,) and entry["text"] in plain["summary_text"]
        assert entry["target"] == f"score of sentence {entry['sentence']}"
        _complete(entry)
    batched = summarizer([TEXT, {"text": TEXT, "title": "The Chalk"}], batch_size=2, explain=True, **STEPS)
    assert [len(b["explanation"]) for b in batched] == [1, 1]
    assert batched[0]["explanation"][0]["output"] == pytest.approx(result["explanation"][0]["output"], abs=1e-4) or (
        batched[0]["explanation"][0]["sentence"] != result["explanation"][0]["sentence"])  # fmt: skip
    _complete(batched[1]["explanation"][0])  # with a title


def test_knowledge_extraction_explains_the_first_entities_per_token(tagger_dir):
    extractor = pipeline("knowledge-extraction", model=str(tagger_dir))
    plain = extractor(TEXT, relation_model="rules")
    result = extractor(TEXT, relation_model="rules", explain=True, explain_entities=2, **STEPS)
    assert {k: v for k, v in result.items() if k != "explanation"} == plain and len(plain["entities"]) >= 2
    assert [e["entity"] for e in result["explanation"]] == [0, 1]
    for entry in result["explanation"]:
        entity = plain["entities"][entry["entity"]]
        assert entry["text"] == entity["text"] and entry["label"] == entity["label"]
        assert entry["attributions"].shape == (len(entry["tokens"]),) == (len(entry["offsets"]),)
        token = entry["target_index"][0]
        start, end = entry["offsets"][token]
        assert start <= entity["start"] < end  # the explained token is the entity's first word
        _complete(entry)


def test_bad_explain_values_fail_before_any_model_work(landform_folder, tagger_dir):
    classify = pipeline("landform-classification", model=str(landform_folder))
    calls = []
    classify.model.register_forward_pre_hook(lambda *args: calls.append(1))
    dem = np.zeros((20, 20), np.float32)
    for kwargs, message in [
        ({"explain": "shap"}, "explain='shap'.*integrated_gradients, saliency, input_x_gradient"),
        ({"explain": 1}, "explain=1"),
        ({"explain": True, "explain_steps": 0}, "explain_steps=0"),
        ({"explain": True, "explain_steps": 64, "explain_max_steps": 32}, "explain_steps <= explain_max_steps"),
    ]:
        with pytest.raises(ExplainError, match=message):
            classify(dem, spacing_m=50.0, **kwargs)
    assert calls == []
    with pytest.raises(ExplainError, match="explain_entities=0"):
        pipeline("knowledge-extraction", model=str(tagger_dir))(TEXT, explain=True, explain_entities=0)


def test_seq2seq_summaries_and_exported_models_are_not_explained():
    from geohub.explain import pipeline_settings
    from geohub.pipelines.text import GeoSummarizationPipeline

    summarizer = GeoSummarizationPipeline.__new__(GeoSummarizationPipeline)
    summarizer.model = type("Seq2Seq", (), {"config": type("Config", (), {"model_type": "t5"})()})()
    with pytest.raises(ExplainError, match="seq2seq"):
        summarizer._sanitize_parameters(explain=True)
    with pytest.raises(ExplainError, match="not a PyTorch model"):
        pipeline_settings(True, model=object())
    assert pipeline_settings(False) is None and pipeline_settings(None) is None
    assert pipeline_settings("saliency", 8, 64) == {"method": "saliency", "n_steps": 8, "max_steps": 64}
