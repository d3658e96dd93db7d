"""The one loader (`geohub.inference.loading`): one family check for every caller, each with its own error class;
the relation classifier reached through its demo slot (`--relation-model`, `GEOHUB_RELATION_MODEL`)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, pipeline

import geohub  # noqa: F401  (registers the families)
from geohub.cli import app
from geohub.environment import offline_minilm_path
from geohub.errors import CorpusError, HubError, WaveformError
from geohub.inference.denoise import load_denoiser
from geohub.inference.loading import check_family, load_model_and_processor
from geohub.inference.relations import default_relation_model, load_relation_model
from geohub.inference.text import extract, load_text_model
from geohub.inference.waveform import load_waveform_model
from geohub.models.relation_classifier import RelationClassifierConfig, RelationClassifierForPairClassification

TEXT = "The Bushveld Complex hosts chromitite. Chromitite of the Bushveld Complex lies in South Africa."


@pytest.fixture(scope="module")
def relation_dir(tmp_path_factory):
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128).to_dict()  # fmt: skip
    config = RelationClassifierConfig(encoder=encoder, type_pairs=[["STRAT", "STRAT"]])
    model = RelationClassifierForPairClassification(config).eval()
    with torch.no_grad():  # favour "hosts" so that the random classifier finds relations
        model.head[-1].bias[config.label2id["hosts"]] = 6.0
    path = tmp_path_factory.mktemp("relations")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_the_family_check_names_the_folder_and_the_model_type_in_the_callers_error(relation_dir):
    family = check_family({"model_type": "geohub_relation_classifier"}, "relation_classifier")
    assert family.name == "relation_classifier"
    assert check_family({"model_type": "bert"}, None) is None
    for loader, error, message in (
        (lambda: load_waveform_model(relation_dir), WaveformError, "not a geohub seismic model"),
        (lambda: load_denoiser(relation_dir), WaveformError, "not a seismic denoiser"),
        (lambda: load_model_and_processor(relation_dir, family="entity_tagger"), HubError, "not a entity tagger"),
    ):
        with pytest.raises(error, match=message) as caught:
            loader()
        assert "geohub_relation_classifier" in str(caught.value) and str(relation_dir) in str(caught.value)
    with pytest.raises(CorpusError, match="model folder not found"):
        load_text_model(relation_dir / "missing")


def test_the_relation_model_loads_through_the_one_loader(relation_dir):
    model, tokenizer = load_relation_model(relation_dir)
    assert isinstance(model, RelationClassifierForPairClassification) and not model.training
    assert tokenizer("basalt")["input_ids"]
    loaded, _ = load_model_and_processor(relation_dir, family="relation_classifier")
    assert type(loaded) is type(model)


def test_the_relation_slot_variable_reaches_extract_and_the_knowledge_pipeline(relation_dir, tmp_path, monkeypatch):
    from transformers import BertForTokenClassification

    from geohub.data.corpus import NER_LABELS

    monkeypatch.setenv("GEOHUB_HOME", str(tmp_path))
    monkeypatch.delenv("GEOHUB_MODELS_DIR", raising=False)
    monkeypatch.delenv("GEOHUB_RELATION_MODEL", raising=False)
    assert default_relation_model() is None  # nothing saved, no variable: the typed rules
    monkeypatch.setenv("GEOHUB_RELATION_MODEL", str(relation_dir))
    assert default_relation_model() == str(relation_dir)

    tokenizer = AutoTokenizer.from_pretrained(relation_dir)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=len(NER_LABELS))  # fmt: skip
    config.id2label, config.label2id = dict(enumerate(NER_LABELS)), {k: i for i, k in enumerate(NER_LABELS)}
    tagger = BertForTokenClassification(config).eval()
    with torch.no_grad():  # tag (nearly) every word as an entity so that there are pairs to relate
        tagger.classifier.bias[NER_LABELS.index("B-STRAT")] = 5.0
    with_slot = extract([TEXT], model=tagger, tokenizer=tokenizer).triples()
    rules = extract([TEXT], model=tagger, tokenizer=tokenizer, relation_model="rules").triples()
    assert with_slot != rules  # the classifier (biased to "hosts"), not the rules
    assert {t["relation"] for t in with_slot} == {"hosts"}
    extractor = pipeline("knowledge-extraction", model=tagger, tokenizer=tokenizer)
    relations = extractor(TEXT)["relations"]
    assert relations and {r["relation"] for r in relations} == {"hosts"}


def test_geohub_demo_has_the_relation_model_flag():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--relation-model" in result.output and "GEOHUB_RELATION_MODEL" in result.output
