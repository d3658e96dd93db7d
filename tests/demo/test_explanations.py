"""The demo's "Explain" buttons (Seismic, Landform, Knowledge): through the handlers and through `gradio_client`
against the app on 127.0.0.1 (tests/demo/conftest.py), with the tiny quickstart models."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from geohub.demo import DemoLimits, DemoModels
from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES
from geohub.demo.explanations import explain_knowledge, explain_landform, explain_seismic, token_entities
from geohub.errors import CorpusError, WaveformError

SEISMIC_EXAMPLE = next(iter(SEISMIC_EXAMPLES))
LIMITS = DemoLimits(max_explain_steps=64, explain_batch_size=4, max_explain_tokens=48)


def _complete_or_capped(text: str, max_steps: int) -> None:
    """The Markdown states the completeness gap; it is within 1 % unless integration hit the step cap."""
    match = re.search(r"within ([\d.e+-]+) % \((\d+) integration steps\)", text)
    assert match, text
    gap, steps = float(match.group(1)), int(match.group(2))
    assert gap <= 1.0 or steps == max_steps, text


@pytest.fixture(scope="module")
def models(demo_models_dir) -> DemoModels:
    return DemoModels(models_dir=demo_models_dir)


def _biased_tagger(demo_models_dir, folder, label: str) -> DemoModels:
    """The tiny tagger with the bias of `label` raised so that it tags every token with it."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    source = demo_models_dir / "knowledge_extraction"
    model = AutoModelForTokenClassification.from_pretrained(source)
    with torch.no_grad():
        model.classifier.bias[model.config.label2id[label]] += 100.0
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return DemoModels(sources={"knowledge_extraction": str(folder)}, models_dir=demo_models_dir)


@pytest.fixture(scope="module")
def entity_everywhere_models(demo_models_dir, tmp_path_factory) -> DemoModels:
    """Every token a B-ROCK entity (the smoke tagger itself may find none)."""
    return _biased_tagger(demo_models_dir, tmp_path_factory.mktemp("rock-tagger"), "B-ROCK")


def test_seismic_explanation_centres_the_window_on_the_p_pick(models):
    picture, text = explain_seismic(models, LIMITS, None, SEISMIC_EXAMPLE, "geohub U-Net")
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[0] > 300 and picture.std() > 0
    match = re.search(r"P probability at sample (\d+)\*\* = ([\d.]+) on the (\d+) s window", text)
    assert match, text
    sample, window_s = int(match.group(1)), int(match.group(3))
    _, extractor = models.get("seismic_picking")
    assert window_s * extractor.sampling_rate == extractor.window_length
    # the window is centred on the pick unless the record's start clamps it (the example's events are not at its end)
    assert abs(sample - extractor.window_length // 2) <= 1 or "starting 2024-01-01T00:00:00.000000Z" in text
    _complete_or_capped(text, LIMITS.max_explain_steps)
    share = float(re.search(r"\*\*(\d+) %\*\* of the total", text).group(1))
    assert 0.0 <= share <= 100.0


def test_seismic_explanation_errors_before_explaining(models):
    with pytest.raises(WaveformError, match="no waveform given"):
        explain_seismic(models, LIMITS, None, None)
    with pytest.raises(WaveformError, match="unknown picker"):
        explain_seismic(models, LIMITS, None, SEISMIC_EXAMPLE, "a picker that does not exist")


def test_landform_explanation_overlays_the_predicted_class(models):
    picture, text = explain_landform(models, LIMITS, None, next(iter(DEM_EXAMPLES)))
    assert picture.ndim == 3 and picture.shape[1] > picture.shape[0]  # patch and overlay side by side
    model, _ = models.get("landform")
    named = re.search(r"the tile's class is \*\*(\w+)\*\*", text).group(1)
    assert named in model.config.label2id
    assert f"logit of {named}" in text
    _complete_or_capped(text, LIMITS.max_explain_steps)


def test_token_entities_groups_bio_labels():
    labels = ["O", "B-ROCK", "I-ROCK", "O", "I-STRAT", "B-ROCK", "B-ROCK", "I-MINERAL", "O"]
    special = [True] + [False] * 7 + [True]
    assert token_entities(labels, special) == [(1, 2, "ROCK"), (4, 4, "STRAT"), (5, 5, "ROCK"), (6, 6, "ROCK"),
                                               (7, 7, "MINERAL")]  # fmt: skip


def test_knowledge_explanation_scores_each_token_of_the_chosen_entity(entity_everywhere_models):
    highlights, text = explain_knowledge(entity_everywhere_models, LIMITS, EXAMPLE_ABSTRACT, None, 3)
    assert re.search(r"Entity 3 of \d+: \*\*\S+\*\* \(ROCK\)", text), text
    assert "logit of B-ROCK at token 3" in text  # token 0 is [CLS]: entity 3 is the third word piece
    covered = "".join(piece for piece, _ in highlights)
    assert EXAMPLE_ABSTRACT.startswith(covered) and 0 < len(covered) < len(EXAMPLE_ABSTRACT)
    assert "covers the first" in text  # max_explain_tokens=48 cuts the abstract
    scores = np.array([score for _, score in highlights if score is not None])
    assert len(scores) == LIMITS.max_explain_tokens - 2  # every word piece but [CLS] and [SEP]
    assert np.abs(scores).max() == pytest.approx(1.0) and np.all(np.abs(scores) <= 1.0)
    _complete_or_capped(text, LIMITS.max_explain_steps)
    with pytest.raises(CorpusError, match="entity 999 asked"):
        explain_knowledge(entity_everywhere_models, LIMITS, EXAMPLE_ABSTRACT, None, 999)


def test_knowledge_explanation_says_when_the_tagger_finds_nothing(demo_models_dir, tmp_path):
    nothing = _biased_tagger(demo_models_dir, tmp_path / "o-tagger", "O")
    with pytest.raises(CorpusError, match="finds no entity in the text's first 48 tokens"):
        explain_knowledge(nothing, LIMITS, EXAMPLE_ABSTRACT, None, 1)


# --- through the served app ------------------------------------------------------------------------------------
def test_explain_endpoints_through_gradio_client(client):
    picture, text = client.predict(None, SEISMIC_EXAMPLE, "geohub U-Net", api_name="/explain_seismic")
    with open(picture, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "P probability at sample" in text and "integration steps" in text
    picture, text = client.predict(None, next(iter(DEM_EXAMPLES)), None, api_name="/explain_landform")
    with open(picture, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "the tile's class is" in text


def test_explain_knowledge_through_gradio_client_answers_with_highlights_or_a_clear_error(client):
    from gradio_client.exceptions import AppError

    try:
        highlights, text = client.predict(EXAMPLE_ABSTRACT, None, 1, api_name="/explain_knowledge")
    except AppError as err:  # the tiny tagger may find no entity at all
        assert "finds no entity" in str(err)
    else:
        assert "Entity 1 of" in text
        covered = "".join(part["token"] for part in highlights)
        assert EXAMPLE_ABSTRACT.startswith(covered)
