"""The relation classifier family: config checks, entity markers, forward shapes and loss, save/load, the
document path equal to the precomputed path, relations into the knowledge graph with confidences."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertConfig

from geohub.environment import offline_minilm_path
from geohub.inference.relations import classify_relations, load_relation_model
from geohub.knowledge import KnowledgeGraph, Mention
from geohub.models.relation_classifier import (
    NO_RELATION,
    RelationClassifierConfig,
    RelationClassifierForPairClassification,
)
from geohub.models.relation_classifier.processing_relation_classifier import encode_documents, prepare_document
from geohub.training.relations import collate_pairs

TEXT = "The Bushveld Complex hosts chromitite. Chromitite of the Bushveld Complex lies in South Africa."


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(offline_minilm_path())


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128).to_dict()  # fmt: skip
    config = RelationClassifierConfig(encoder=encoder, type_pairs=[["STRAT", "ROCK"], ["STRAT", "LOCATION"]])
    model = RelationClassifierForPairClassification(config).eval()
    with torch.no_grad():  # favour "hosts" so that the random classifier finds relations
        model.head[-1].bias[config.label2id["hosts"]] = 6.0
    return model


def _mentions(text: str) -> list[tuple[int, int, str, int]]:
    found = []
    for surface, label in (("Bushveld Complex", "STRAT"), ("chromitite", "ROCK"), ("Chromitite", "ROCK"),
                           ("South Africa", "LOCATION")):  # fmt: skip
        start = text.find(surface)
        while start >= 0:
            found.append((start, start + len(surface), label, int(start > text.index("."))))
            start = text.find(surface, start + 1)
    return found


def test_config_checks_and_classes():
    config = RelationClassifierConfig(relation_types=["hosts", "overlies"], entity_types=["ROCK", "STRAT"])
    assert config.id2label == {0: NO_RELATION, 1: "hosts", 2: "overlies"} and config.num_labels == 3
    assert config.feature_size == 3 * config.hidden_size + 2 * 2 + 5
    for bad in ({"relation_types": ["hosts", "hosts"]}, {"relation_types": [NO_RELATION]}, {"entity_types": []},
                {"classifier_dropout": 1.0}):  # fmt: skip
        with pytest.raises(ValueError):
            RelationClassifierConfig(**bad)


def test_markers_entities_and_candidate_pairs(model, tokenizer):
    prepared = prepare_document(TEXT, _mentions(TEXT), model.config)
    assert prepared["marked"].startswith("The * Bushveld Complex * hosts * chromitite * .")
    keys = [key for key, _, _ in prepared["entities"]]
    assert keys == [("bushveld complex", "STRAT"), ("chromitite", "ROCK"), ("south africa", "LOCATION")]
    # only the allowed type pairs: STRAT->ROCK and STRAT->LOCATION
    assert prepared["pairs"] == [(0, 1), (0, 2)]
    assert prepared["extra"][0][-5:] == [1.0, 0.0, 0.01, 1.0, 0.0]  # same sentence, 1 word apart, head first
    encoded = encode_documents(tokenizer, [prepared], model.config)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    assert all(tokens[i] == "*" for i in encoded["mention_index"][0])
    assert encoded["mention_entity"][0] == [0, 1, 1, 0, 2]


def test_forward_loss_and_the_two_input_paths_agree(model, tokenizer):
    prepared = prepare_document(TEXT, _mentions(TEXT), model.config)
    encoded = encode_documents(tokenizer, [prepared], model.config)
    feature = {k: encoded[k][0] for k in encoded} | {"pairs": prepared["pairs"], "extra": prepared["extra"],
                                                      "labels": [3, 1]}  # fmt: skip
    batch = collate_pairs([feature, feature])
    out = model(**batch)
    assert out.logits.shape == (4, model.config.num_labels) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    states = model.entity_states(batch["input_ids"], batch["attention_mask"], batch["mention_index"],
                                 batch["mention_entity"])  # fmt: skip
    features = model.pair_features(states, batch["pair_document"], batch["pair_head"], batch["pair_tail"],
                                   batch["pair_extra"])  # fmt: skip
    torch.testing.assert_close(model(pair_features=features).logits, out.logits)
    with pytest.raises(ValueError, match="pair_features"):
        model(input_ids=batch["input_ids"])


def test_save_load_and_relations_into_the_graph(model, tokenizer, tmp_path):
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_relation_model(tmp_path)
    assert isinstance(loaded, RelationClassifierForPairClassification)
    mentions = [Mention(TEXT[s:e], label, s, e, 0.9, sentence) for s, e, label, sentence in _mentions(TEXT)]
    relations = classify_relations(TEXT, mentions, loaded, loaded_tokenizer)
    found = {(r.head.text, r.relation, r.tail.text.lower()) for r in relations}
    assert ("Bushveld Complex", "hosts", "chromitite") in found
    assert all(0 < r.confidence <= 0.9 for r in relations)
    graph = KnowledgeGraph()
    graph.add_document("doc-1", TEXT, mentions, relations)
    graph.add_document("doc-2", "The bushveld  complex is large.", [Mention("bushveld  complex", "STRAT", 4, 21)], [])
    node = graph.graph.nodes["STRAT:bushveld complex"]
    assert {m["doc_id"] for m in node["mentions"]} == {"doc-1", "doc-2"}  # merged across documents
    confidences = sorted(t["confidence"] for t in graph.triples())
    assert confidences == pytest.approx(sorted(r.confidence for r in relations))  # the model's confidence in the graph


def test_auto_model_loads_the_family(model, tmp_path):
    from transformers import AutoConfig, AutoModel

    import geohub  # noqa: F401
    from geohub.auto import families

    assert "relation_classifier" in families()
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "geohub_relation_classifier"
    assert isinstance(AutoModel.from_pretrained(tmp_path), RelationClassifierForPairClassification)


def test_rule_and_context_features_heads_and_threshold(tokenizer):
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=128).to_dict()  # fmt: skip
    config = RelationClassifierConfig(encoder=encoder, type_pairs=[["STRAT", "ROCK"], ["STRAT", "LOCATION"]],
                                      rule_features=True, context_features=True, num_heads=3)  # fmt: skip
    model = RelationClassifierForPairClassification(config).eval()
    mentions = _mentions(TEXT)
    bushveld, chromitite = mentions[0], mentions[2]  # "The Bushveld Complex hosts chromitite."
    prepared = prepare_document(TEXT, mentions, config, rules=[(bushveld, "hosts", chromitite)])
    relations, width = config.relation_types, len(config.relation_types)
    rule_part = prepared["extra"][0][-2 * width :]  # pair (Bushveld Complex -> chromitite)
    assert rule_part[relations.index("hosts")] == 1.0 and sum(rule_part) == 1.0
    assert sum(prepared["extra"][1][-2 * width :]) == 0.0  # (Bushveld Complex -> South Africa): no rule
    encoded = encode_documents(tokenizer, [prepared], config)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    start, end = encoded["pair_context"][0][0]
    # the closest mentions: "* Chromitite * of the * Bushveld Complex *" (18 characters apart; sentence 0 has 23)
    assert tokens[start:end] == ["of", "the"]
    feature = {k: encoded[k][0] for k in encoded} | {"pairs": prepared["pairs"], "extra": prepared["extra"],
                                                      "labels": [3, 0]}  # fmt: skip
    batch = collate_pairs([feature])
    out = model(**batch)
    assert out.logits.shape == (2, config.num_labels) and torch.isfinite(out.loss)
    probabilities = out.logits.softmax(-1)
    heads = [head(model.document_pair_features(**{k: v for k, v in batch.items() if k != "labels"}))
             for head in (model.head, *model.extra_heads)]  # fmt: skip
    torch.testing.assert_close(probabilities, torch.stack([z.softmax(-1) for z in heads]).mean(0))
    config.no_relation_scale = 1e-9
    assert (model.predict(out.logits)[0] > 0).all()  # no_relation practically never wins
    config.no_relation_scale = 1e9
    assert (model.predict(out.logits)[0] == 0).all()
    with pytest.raises(ValueError, match="num_heads"):
        RelationClassifierConfig(num_heads=0)


def test_trainable_top_layers_over_cached_bottom_states(tokenizer):
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=128).to_dict()  # fmt: skip
    config = RelationClassifierConfig(encoder=encoder, type_pairs=[["STRAT", "ROCK"], ["STRAT", "LOCATION"]],
                                      context_features=True, trainable_layers=1)  # fmt: skip
    model = RelationClassifierForPairClassification(config)
    trainable = {name for name, p in model.encoder.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("encoder.layer.2.") for name in trainable)  # only the top layer
    model.eval()
    short = "The Bushveld Complex hosts chromitite."
    documents = [prepare_document(text, _mentions(text), config) for text in (TEXT, short)]
    encoded = encode_documents(tokenizer, documents, config)
    features = []
    for number, (document, labels) in enumerate(zip(documents, ([3, 1], [3]))):
        ids = torch.tensor([encoded["input_ids"][number]])
        feature = {k: encoded[k][number] for k in encoded} | {"pairs": document["pairs"], "labels": labels}
        features.append(feature | {"extra": document["extra"], "bottom_states": model.encode_bottom(ids, ids > -1)[0]})
    batch = collate_pairs(features)  # two documents of different lengths: padded states and mask
    assert batch["bottom_states"].shape == (*batch["input_ids"].shape, 16)
    cached = model(**batch)
    full = model(**{k: v for k, v in batch.items() if k != "bottom_states"})  # the whole encoder, same weights
    torch.testing.assert_close(cached.logits, full.logits)
    cached.loss.backward()  # gradients reach the top layer and the head, never the cached bottom
    assert model.encoder.encoder.layer[2].output.dense.weight.grad.abs().sum() > 0
    assert model.encoder.encoder.layer[1].output.dense.weight.grad is None and model.head[-1].weight.grad is not None
    with pytest.raises(ValueError, match="trainable_layers"):
        RelationClassifierConfig(encoder=encoder, trainable_layers=4)
