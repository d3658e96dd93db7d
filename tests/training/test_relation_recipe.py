"""The relation_classification task through a recipe: rule and context features, two heads, the no_relation
threshold chosen on a validation share of the training documents, then the saved model classifies relations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoTokenizer, BertConfig, BertModel

from geohub.data.corpus import load_geo_corpus
from geohub.environment import offline_minilm_path
from geohub.errors import ConfigError
from geohub.inference.relations import classify_relations, load_relation_model
from geohub.knowledge import Mention
from geohub.training.launch import run_recipe
from geohub.training.relations import SCALE_GRID, collate_pairs, gold_documents, predict_pairs

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "geo_corpus_sample.jsonl"


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 1-layer BERT with MiniLM's tokenizer (the task takes any BERT encoder folder)."""
    path = tmp_path_factory.mktemp("tiny_encoder")
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)  # fmt: skip
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _recipe(tmp_path: Path, encoder: Path, **values) -> Path:
    recipe = {"task": "relation_classification", "model_name_or_path": str(encoder), "dataset": str(FIXTURE),
              "rule_features": True, "context_features": True, "num_heads": 2, "no_relation_weight": 0.3,
              "scale_validation_fraction": 0.25, "output_dir": str(tmp_path / "relations"), "num_train_epochs": 2,
              "per_device_train_batch_size": 8, "learning_rate": 1e-2, "eval_strategy": "no",
              "save_strategy": "no", "report_to": "none", "seed": 0, **values}  # fmt: skip
    path = tmp_path / "relations.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_recipe_trains_tunes_the_threshold_and_the_model_classifies(tmp_path, tiny_encoder):
    metrics = run_recipe(str(_recipe(tmp_path, tiny_encoder)))
    assert metrics["no_relation_scale"] in SCALE_GRID and 0.0 <= metrics["eval_f1"] <= 1.0
    assert 0.0 <= metrics["validation_f1"] <= 1.0
    saved = json.loads((tmp_path / "relations" / "all_results.json").read_text())
    assert saved["no_relation_scale"] == metrics["no_relation_scale"] and "validation_f1" in saved
    assert not (tmp_path / "relations" / "scale_tuning" / "model.safetensors").exists()  # only the final model
    model, tokenizer = load_relation_model(tmp_path / "relations")
    config = model.config
    assert (config.rule_features, config.context_features, config.num_heads) == (True, True, 2)
    assert config.no_relation_scale == metrics["no_relation_scale"] and config.no_relation_weight == 0.3
    assert config.feature_size == 4 * 32 + 2 * len(config.entity_types) + 5 + 2 * len(config.relation_types)
    row = load_geo_corpus(FIXTURE)["train"][0]
    mentions = [
        Mention(e["text"], config.entity_types[e["label"]], e["start"], e["end"], 0.9) for e in row["entities"]
    ]
    config.no_relation_scale = 1e-6  # practically never no_relation: every candidate pair becomes a relation
    relations = classify_relations(row["text"], mentions, model, tokenizer)
    assert relations and all(r.relation != "no_relation" and 0 < r.confidence <= 0.9 for r in relations)


def test_recipe_without_threshold_tuning_keeps_the_given_scale(tmp_path, tiny_encoder):
    metrics = run_recipe(str(_recipe(tmp_path, tiny_encoder, scale_validation_fraction=0.0, no_relation_scale=0.5,
                                     rule_features=False, context_features=False, num_heads=1)))  # fmt: skip
    assert metrics["no_relation_scale"] == 0.5 and "validation_f1" not in metrics and 0.0 <= metrics["eval_f1"] <= 1.0
    model, _ = load_relation_model(tmp_path / "relations")
    assert model.config.no_relation_scale == 0.5 and not model.extra_heads


def test_bad_validation_fraction_is_a_config_error(tmp_path, tiny_encoder):
    with pytest.raises(ConfigError, match="scale_validation_fraction"):
        run_recipe(str(_recipe(tmp_path, tiny_encoder, scale_validation_fraction=1.5)))


def test_recipe_trains_the_top_encoder_layer_over_cached_states(tmp_path, tiny_encoder):
    metrics = run_recipe(str(_recipe(tmp_path, tiny_encoder, trainable_layers=1, encoder_learning_rate=1e-3,
                                     per_device_train_batch_size=2)))  # fmt: skip
    assert metrics["no_relation_scale"] in SCALE_GRID and 0.0 <= metrics["validation_f1"] <= 1.0
    assert 0.0 <= metrics["eval_f1"] <= 1.0 and {"eval_precision", "eval_recall"} <= set(metrics)
    model, _ = load_relation_model(tmp_path / "relations")
    assert model.config.trainable_layers == 1 and model.config.freeze_encoder
    before = BertModel.from_pretrained(tiny_encoder)
    layer, trained = before.encoder.layer[0].output.dense.weight, model.encoder.encoder.layer[0].output.dense.weight
    assert not torch.allclose(layer, trained)  # the top (only) layer trained and was saved
    torch.testing.assert_close(
        before.embeddings.word_embeddings.weight, model.encoder.embeddings.word_embeddings.weight
    )


def test_predict_pairs_keeps_every_pair_of_every_document(tiny_encoder):
    """Documents hold different numbers of pairs; batches of documents must give one row per pair (Trainer.predict
    counts one sample per document and would cut the last batch)."""
    from geohub.models.relation_classifier import RelationClassifierForPairClassification
    from geohub.models.relation_classifier.processing_relation_classifier import encode_documents

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    model = RelationClassifierForPairClassification.from_encoder(tiny_encoder, trainable_layers=1)
    rows = [row for row in load_geo_corpus(FIXTURE)["train"]][:5]
    documents = [d for d in gold_documents(rows, model.config) if d["pairs"]]
    encoded = encode_documents(tokenizer, documents, model.config)
    examples = []
    for number, document in enumerate(documents):
        ids = torch.tensor([encoded["input_ids"][number]])
        example = {k: encoded[k][number] for k in encoded} | {k: document[k] for k in ("pairs", "extra", "labels")}
        examples.append(example | {"bottom_states": model.encode_bottom(ids, torch.ones_like(ids))[0]})
    assert len({len(d["pairs"]) for d in documents}) > 1 and len(examples) >= 3
    prediction = predict_pairs(model, examples, collate_pairs, batch_size=2)
    total = sum(len(d["pairs"]) for d in documents)
    assert prediction.predictions.shape == (total, model.config.num_labels) and prediction.label_ids.shape == (total,)
    assert prediction.label_ids.tolist() == [y for d in documents for y in d["labels"]]
    assert model.training  # predict_pairs scores in eval mode and gives the model back as it was
    one_by_one = torch.cat([model.eval()(**collate_pairs([e])).logits for e in examples]).detach().numpy()
    assert abs(prediction.predictions - one_by_one).max() < 1e-4
