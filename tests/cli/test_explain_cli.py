# ruff: noqa: F811  (fixtures imported from other test modules)
"""`geohub explain MODEL_DIR INPUT --output OUT.json`: a seismic picker on a waveform file, a tagger and the extractive
summarizer on text files, the landform model on a DEM, the terrain GAN on a seed or a .npy latent (tiny models saved
with their processors), and one-line errors before any model is loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from geohub.cli import app
from tests.inference.test_terrain import gan_dir  # noqa: F401  (fixture)
from tests.inference.test_text import extractive_dir, tokenizer  # noqa: F401  (fixtures)

WORDS = ["basalt", "granite", "of", "the", "mull", "lava", "group", "is", "in", "scotland", "quartz", "and"]


@pytest.fixture(scope="module")
def picker_dir(tmp_path_factory):
    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("picker")
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=[4, 8], kernel_size=5, window_length=600))
    model.save_pretrained(folder)
    SeismicFeatureExtractor(window_length=600).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def waveform_file(tmp_path_factory):
    from geohub.data.synthetic_seismic import synthetic_stream

    stream, _ = synthetic_stream(20.0, seed=3)
    path = tmp_path_factory.mktemp("wave") / "record.mseed"
    stream.write(str(path), format="MSEED")
    return path


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    """A tiny BERT tagger whose B-ROCK bias is raised so that every word piece is an entity."""
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tagger")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    labels = ["O", "B-ROCK", "I-ROCK"]
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, id2label=dict(enumerate(labels)),
                        label2id={name: i for i, name in enumerate(labels)})  # fmt: skip
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias[1] += 100.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_explain_seismic_record_writes_complete_integrated_gradients(picker_dir, waveform_file, tmp_path):
    out = tmp_path / "explanation.json"
    result = _invoke("explain", picker_dir, waveform_file, "--output", out, "--steps", "8")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["kind"] == "seismic" and data["method"] == "integrated_gradients"
    assert data["model_type"] == "geohub_seismic_picker" and data["station_id"].startswith("GH.SYN")
    attributions = np.array(data["attributions"])
    assert attributions.shape == (3, 600) == tuple(data["shape"]) and np.isfinite(attributions).all()
    assert data["steps"] >= 8 and data["target"].startswith("P probability at sample")
    assert data["target_index"] == data["pick_sample"]
    difference = data["output"] - data["baseline_output"]
    assert abs(attributions.sum() - difference) == pytest.approx(data["completeness_gap"], abs=1e-6)
    assert data["relative_completeness_gap"] <= 0.01 or data["steps"] * 2 > 4096
    assert 0.0 <= data["share_near_pick"] <= 1.0
    assert str(out) in result.output


def test_explain_text_with_saliency_scores_every_token(tagger_dir, tmp_path):
    text = tmp_path / "abstract.txt"
    text.write_text("Basalt of the Mull Lava Group is in Scotland.")
    out = tmp_path / "text.json"
    result = _invoke("explain", tagger_dir, text, "--output", out, "--method", "saliency", "--entity", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["kind"] == "text" and data["method"] == "saliency" and data["steps"] == 0
    assert data["completeness_gap"] is None and data["baseline_output"] is None  # one-pass method: no gap
    assert data["tokens"][0] == "[CLS]" and len(data["tokens"]) == len(data["attributions"]) == data["shape"][0]
    assert data["entity"] == 2 and data["entity_type"] == "ROCK" and data["phrase"] == "of"
    assert data["target_index"] == [2, 1] and "logit of B-ROCK at token 2" == data["target"]
    assert np.abs(data["attributions"]).sum() > 0
    # integrated gradients on the same text add up within 1 %
    result = _invoke("explain", tagger_dir, text, "--output", out, "--overwrite")  # the same file again
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["relative_completeness_gap"] <= 0.01


def test_explain_landform_dem_attributes_each_pixel_of_the_predicted_class(tmp_path):
    from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
    from geohub.models.terrain_gan import TerrainImageProcessor

    torch.manual_seed(0)
    folder = tmp_path / "landform"
    model = LandformCNNForImageClassification(LandformConfig(image_size=16, hidden_sizes=[4, 8], layers_per_stage=1))
    model.save_pretrained(folder)
    TerrainImageProcessor(normalization="patch", spacing_m=50.0, patch_size=16).save_pretrained(folder)
    rows, cols = np.mgrid[0:40, 0:40]
    dem = tmp_path / "tile.npy"
    np.save(dem, (300.0 + 5.0 * rows + 20.0 * np.sin(cols / 4.0)).astype(np.float32))
    out = tmp_path / "landform.json"
    result = _invoke("explain", folder, dem, "--output", out, "--spacing-m", "50", "--steps", "16")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["kind"] == "landform" and data["shape"] == [16, 16] and data["num_patches"] >= 4
    assert data["label"] in model.config.label2id and data["target"] == f"logit of {data['label']}"
    assert data["relative_completeness_gap"] <= 0.01 or data["steps"] * 2 > 4096


def test_explain_errors_are_one_line_and_write_nothing(picker_dir, tagger_dir, waveform_file, tmp_path):
    out = tmp_path / "never.json"
    cases = [
        (("explain", picker_dir, tmp_path / "missing.mseed", "--output", out), "input file not found"),
        (("explain", picker_dir, waveform_file, "--output", out, "--method", "shap"), "unknown method 'shap'"),
        (("explain", picker_dir, waveform_file, "--output", out, "--steps", "0"), "steps 0"),
        (("explain", tmp_path / "no-model", waveform_file, "--output", out), "no-model"),
    ]
    for args, message in cases:
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and result.output.count("geohub: error:") == 1, result.output
    text = tmp_path / "abstract.txt"
    text.write_text("granite and quartz")
    result = _invoke("explain", tagger_dir, text, "--output", out, "--entity", "99")
    assert result.exit_code == 2 and "entity 99 asked" in result.output, result.output
    assert not out.exists()


def test_explain_summary_attributes_the_best_sentence_per_sentence(extractive_dir, tmp_path):
    text = tmp_path / "abstract.txt"
    text.write_text("The Chalk Group crops out near Dover. Granite intrudes the Mull Lava Group. Quartz veins cut it.")
    out = tmp_path / "summary.json"
    result = _invoke("explain", extractive_dir, text, "--output", out, "--steps", "16")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["kind"] == "summary" and data["model_type"] == "geohub_extractive_summarizer"
    assert len(data["sentences"]) == 3 == data["shape"][0] == len(data["attributions"])
    assert data["sentence_text"] == data["sentences"][data["sentence"]] and data["target_index"] == data["sentence"]
    assert data["target"] == f"score of sentence {data['sentence']}"
    difference = data["output"] - data["baseline_output"]
    assert abs(sum(data["attributions"]) - difference) == pytest.approx(data["completeness_gap"], abs=1e-6)
    assert data["relative_completeness_gap"] <= 0.01


def test_explain_terrain_gan_from_a_seed_or_a_npy_latent(gan_dir, tmp_path):
    out = tmp_path / "gan.json"
    result = _invoke("explain", gan_dir, "--seed", "4", "--output", out, "--max-steps", "1024")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["kind"] == "terrain" and data["seed"] == 4 and data["input"] is None
    # the tiny convolutional GAN's latent field of one 16-cell patch: (latent_dim 8, 13, 13)
    assert data["shape"] == [8, 13, 13] and np.asarray(data["latent"]).shape == (8, 13, 13)
    assert np.isfinite(data["attributions"]).all()
    assert data["target"].startswith("mean of the generated patch")
    assert data["completeness_gap"] == pytest.approx(abs(np.sum(data["attributions"]) - (data["output"] -
                                                                                   data["baseline_output"])), abs=1e-6)  # fmt: skip
    latent = tmp_path / "latent.npy"
    np.save(latent, np.asarray(data["latent"], dtype=np.float32))
    result = _invoke("explain", gan_dir, latent, "--output", out, "--max-steps", "1024", "--method", "saliency",
                     "--overwrite")  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads(out.read_text())
    assert again["seed"] is None and again["output"] == pytest.approx(data["output"], abs=1e-5)  # the same latent
    assert again["method"] == "saliency" and np.asarray(again["attributions"]).shape == (8, 13, 13)


def test_explain_seed_and_latent_errors(gan_dir, picker_dir, waveform_file, tmp_path):
    out = tmp_path / "never.json"
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(5))
    cases = [
        (("explain", gan_dir, "--output", out), "no input file given"),
        (("explain", gan_dir, bad, "--seed", "1", "--output", out), "not both"),
        (("explain", gan_dir, bad, "--output", out), "latent of shape (5,)"),
        (("explain", gan_dir, "--seed", "-1", "--output", out), "seed"),
        (("explain", picker_dir, "--seed", "1", "--output", out), "--seed is for the terrain GAN only"),
    ]
    for args, message in cases:
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and result.output.count("geohub: error:") == 1, result.output
    assert not out.exists()
