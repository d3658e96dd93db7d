"""The summarizer's text side: lexical features, TF-IDF centroid, collation and trigram-blocked selection."""

from __future__ import annotations

import pytest

from geohub.models.extractive_summarizer.processing_extractive_summarizer import (
    LEXICAL_FEATURES,
    WORD_FEATURES,
    collate_documents,
    compress_words,
    encode_words,
    lexical_features,
    select_sentence_indices,
    select_sentences,
    tfidf_centroid_scores,
    word_features,
)

DOCUMENT = [
    "Seismic tomography images a mantle plume beneath Iceland.",
    "The plume beneath Iceland rises from the core-mantle boundary.",
    "We thank the reviewers.",
]


def test_lexical_features_and_tfidf_centroid():
    features = lexical_features(DOCUMENT, title="A mantle plume beneath Iceland")
    assert len(features) == 3 and all(len(row) == len(LEXICAL_FEATURES) for row in features)
    scores = tfidf_centroid_scores(DOCUMENT)
    assert scores.argmin() == 2  # the acknowledgement shares no word with the rest
    assert features[0][3] == 1.0 and features[2][3] == 0.0  # all title words / none
    assert [row[2] for row in features].count(1.0) == 1  # exactly one "best" sentence
    assert all(row[3] == 0.0 for row in lexical_features(DOCUMENT))  # no title: no overlap


def test_trigram_blocking_skips_repeated_content():
    sentences = ["a b c d", "a b c e", "x y z"]
    assert select_sentence_indices([3, 2, 1], sentences, 2) == [0, 2]  # "a b c" is shared by the first two
    assert select_sentence_indices([3, 2, 1], sentences, 2, block_trigrams=False) == [0, 1]
    assert select_sentence_indices([3, 2, 1], sentences, 3) == [0, 1, 2]  # nothing else left: blocked ones fill
    assert select_sentences([0.1, float("-inf"), 0.9], sentences, 1) == "x y z"
    with pytest.raises(ValueError, match="count"):
        select_sentence_indices([1.0], ["a"], 0)


def test_collate_pads_documents_and_titles():
    features = [
        {"input_ids": [[101, 5, 102], [101, 102]], "attention_mask": [[1, 1, 1], [1, 1]],
         "sentence_features": [[0.5] * 5, [0.1] * 5], "title_input_ids": [101, 7, 8, 102],
         "title_attention_mask": [1, 1, 1, 1], "title_mask": 1, "labels": [0.0, 1.0]},
        {"input_ids": [[101, 9, 102]], "attention_mask": [[1, 1, 1]], "sentence_features": [[0.2] * 5],
         "title_input_ids": [101, 102], "title_attention_mask": [1, 1], "title_mask": 0, "labels": [1.0]},
    ]  # fmt: skip
    batch = collate_documents(features, pad_token_id=0)
    assert batch["input_ids"].shape == (2, 2, 3) and batch["attention_mask"][1, 1].sum() == 0
    assert batch["sentence_features"].shape == (2, 2, 5) and batch["sentence_features"][1, 1].sum() == 0
    assert batch["title_input_ids"].shape == (2, 4) and batch["title_mask"].tolist() == [1, 0]
    assert batch["labels"].tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_contribution_cue_is_the_last_lexical_feature():
    document = ["Earthquakes cluster in time.", "In this paper, we propose a new catalogue.", "It covers Chile."]
    assert LEXICAL_FEATURES[-1] == "contribution_cue"
    assert [row[-1] for row in lexical_features(document)] == [0.0, 1.0, 0.0]


def test_compress_words_deletes_only_and_keeps_a_minimum():
    sentence = "In this paper , we propose a catalogue of slow slip events ( SSEs ) in Chile"
    keep = [0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9]
    assert compress_words(sentence, keep, 0.5, 3) == "we propose a catalogue of slow slip events in Chile"
    # at least min_words: the most probable words, in their order
    assert compress_words(sentence, keep, 0.95, 3) == "we propose a"
    assert compress_words("a b c", [0.0, 0.0, 0.0], 0.5, 8) == "a b c"  # shorter than min_words: untouched
    # runs of deleted words shorter than min_run stay
    assert compress_words("a b c d e f", [1, 0, 1, 0, 0, 1], 0.5, 1, min_run=2) == "a b c f"
    # words without a probability (cut off by the tokenizer) are kept
    assert compress_words("a b c d e f", [0.0, 1.0], 0.5, 1) == "b c d e f"
    # negations are never deleted
    assert compress_words("slip does not cross the trench", [1, 0, 0, 1, 0, 1], 0.5, 1) == "slip not cross trench"
    assert compress_words("it doesn't move", [1, 0.1, 1], 0.5, 1) == "it doesn't move"
    # numbers, and the short unit word after a number, are never deleted ("at km depth" would misreport a value)
    words = "a slow-slip patch at 12-15 km depth during M6.1 events"
    assert compress_words(words, [1, 1, 1, 0, 0, 0, 1, 0, 0, 1], 0.5, 1) == "a slow-slip patch 12-15 km depth M6.1 events"


def test_word_features_and_encode_words():
    from transformers import AutoTokenizer

    from geohub.environment import offline_minilm_path

    document = ["Slow slip (SSE) beneath Chile.", "Chile is long."]
    rows = word_features(document, 0, title="Slow slip events")
    assert len(rows) == 5 and all(len(row) == len(WORD_FEATURES) for row in rows)
    assert [row[0] for row in rows] == [1.0, 1.0, 0.0, 0.0, 0.0]  # in the title
    assert [row[1] for row in rows] == [0.0, 0.0, 0.0, 0.0, 1.0]  # "Chile." is in the other sentence
    assert [row[2] for row in rows] == [0.0, 0.0, 1.0, 0.0, 0.0]  # inside parentheses
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    encoded = encode_words(tokenizer, ["Seismotectonics of Chile", "Slip"])
    first = encoded["first_token"]
    assert first.shape == (2, 3) and first[0, 0] == 1 and (first[0, 1:] > first[0, :-1]).all()
    assert first[1, 1] == -1  # the shorter sentence has one word
    ids = encoded["input_ids"][0, first[0, 0] : first[0, 1]].tolist()
    assert tokenizer.decode(ids).replace(" ", "") == "seismotectonics"
