"""Gazetteer features of the entity tagger: longest-match features, folds that never show a sentence its own
entities, token type ids, the config round trip, and the grown token type table starting at the pretrained rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from geohub.models.entity_tagger.gazetteer import (
    TokenTypes,
    build_gazetteer,
    fold_features,
    gazetteer_config,
    gazetteer_from_config,
    match_features,
    token_type_ids,
    type_vocab_size,
)

TYPES = ["MINERAL", "ROCK"]
SENTENCES = [
    (["felsic", "schist", "with", "pyrite"], ["B-ROCK", "I-ROCK", "O", "B-MINERAL"]),
    (["Pyrite", "in", "granite"], ["B-MINERAL", "O", "B-ROCK"]),
    (["chalcopyrite", "veins"], ["B-MINERAL", "O"]),
    (["granite", "and", "felsic", "schist"], ["B-ROCK", "O", "B-ROCK", "I-ROCK"]),
]


def test_longest_match_case_insensitive_and_most_frequent_type():
    gazetteer = build_gazetteer(SENTENCES)
    assert gazetteer[("felsic", "schist")] == "ROCK" and gazetteer[("pyrite",)] == "MINERAL"
    # MINERAL = 0 -> B 1 / I 2; ROCK = 1 -> B 3 / I 4; the two-word match wins over nothing shorter
    assert match_features(["A", "Felsic", "schist", "and", "PYRITE", "."], gazetteer, TYPES) == [0, 3, 4, 0, 1, 0]
    assert match_features([], gazetteer, TYPES) == []
    assert build_gazetteer([(["x"], ["B-ROCK"]), (["x"], ["B-MINERAL"]), (["x"], ["B-ROCK"])]) == {("x",): "ROCK"}


def test_folds_use_only_the_other_folds_entities():
    sentences = [(["chalcopyrite"], ["B-MINERAL"]), (["galena"], ["B-MINERAL"]), (["galena"], ["B-MINERAL"]),
                 (["sphalerite"], ["B-MINERAL"])]  # fmt: skip
    # with 4 folds each sentence is its own fold: a name seen only in that sentence is not matched
    assert fold_features(sentences, ["MINERAL"], folds=4) == [[0], [1], [1], [0]]
    assert fold_features(sentences, ["MINERAL"], folds=2) == [[0], [1], [1], [0]]  # blocks {0, 1} and {2, 3}
    with pytest.raises(ValueError, match="folds"):
        fold_features(sentences, ["MINERAL"], folds=1)


def test_token_type_ids_combine_case_and_match():
    words, word_ids = ["Pyrite", "in", "granite"], [None, 0, 0, 1, 2, None]
    assert token_type_ids(word_ids, words, None) == [0, 1, 1, 0, 0, 0]
    assert token_type_ids(word_ids, words, [1, 0, 3]) == [0, 3, 3, 0, 6, 0]
    assert token_type_ids(word_ids, words, [1, 0, 3], case=False) == [0, 2, 2, 0, 6, 0]
    assert type_vocab_size(TYPES) == 2 * (1 + 2 * len(TYPES))


def test_config_round_trip_and_token_types_object():
    gazetteer = build_gazetteer(SENTENCES)
    value = gazetteer_config(gazetteer, TYPES)
    assert value["phrases"]["ROCK"] == ["felsic schist", "granite"]
    assert gazetteer_from_config(value) == (gazetteer, TYPES)
    assert gazetteer_from_config(None) is None
    with pytest.raises(ValueError, match="config.gazetteer"):
        gazetteer_from_config({"types": "ROCK"})

    class Config:
        case_token_types = True
        gazetteer = value

    types = TokenTypes(Config())
    assert types.active and types([None, 0, 1, None], ["Granite", "rocks"]) == [0, 1 + 2 * 3, 0, 0]

    class Plain:
        pass

    assert not TokenTypes(Plain()).active


def test_enable_gazetteer_grows_token_type_table_from_pretrained_rows():
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertForTokenClassification

    from geohub.models.entity_tagger.gazetteer import enable_gazetteer

    model = BertForTokenClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=16, num_labels=5))  # fmt: skip
    old = model.bert.embeddings.token_type_embeddings.weight.detach().clone()
    enable_gazetteer(model, build_gazetteer(SENTENCES), TYPES)
    new = model.bert.embeddings.token_type_embeddings.weight
    assert new.shape == (10, 8) and model.config.type_vocab_size == 10
    assert torch.equal(new[0], old[0]) and torch.equal(new[7], old[1])  # row c + 2m starts as row c
    assert model.config.gazetteer["types"] == TYPES
    ids = torch.tensor([[1, 2, 3]])
    assert model(input_ids=ids, token_type_ids=torch.tensor([[0, 9, 4]])).logits.shape == (1, 3, 5)


def test_type_only_matches_do_not_assert_where_a_name_starts():
    gazetteer = build_gazetteer(SENTENCES)
    words = ["A", "Felsic", "schist", "and", "PYRITE", "."]
    boundaries = match_features(words, gazetteer, TYPES)
    type_only = match_features(words, gazetteer, TYPES, boundaries=False)
    assert boundaries[1] != boundaries[2] and type_only[1] == type_only[2] > 0  # one value for the whole match
    assert [v == 0 for v in type_only] == [v == 0 for v in boundaries]
    assert type_vocab_size(TYPES, boundaries=False) == 2 * (1 + len(TYPES)) > max(type_only) * 2
    config = gazetteer_config(gazetteer, TYPES, boundaries=False)
    assert config["boundaries"] is False and "boundaries" not in gazetteer_config(gazetteer, TYPES)
    types = TokenTypes(SimpleNamespace(case_token_types=True, gazetteer=config))
    # A (case 1, no match), Felsic (case 1, ROCK = type 2), schist (case 0, ROCK): case + 2 * match
    assert types([None, 0, 1, 2, None], words[:3]) == [0, 1, 1 + 2 * 2, 2 * 2, 0]
