"""Summarization data: a second training set mixed in (`extra_train_dataset`, `extra_train_repeats`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geohub.data.corpus import load_geo_corpus
from geohub.errors import ConfigError
from geohub.training.summarization import SummarizationDataArguments, load_summarization_splits

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "geo_corpus_sample.jsonl"


def test_extra_training_set_is_appended_repeated_and_eval_untouched():
    plain_train, plain_eval = load_summarization_splits(SummarizationDataArguments(dataset=str(FIXTURE)))
    args = SummarizationDataArguments(dataset=str(FIXTURE), extra_train_dataset="geo_corpus", extra_train_repeats=2)
    train, evaluation = load_summarization_splits(args)
    corpus_train = load_geo_corpus()["train"]
    assert len(train) == len(plain_train) + 2 * len(corpus_train)
    assert train.column_names == ["sentences", "references", "title"]
    assert train[0]["sentences"] == plain_train[0]["sentences"]  # the main set first, as it was
    assert train[len(plain_train)]["references"] == [corpus_train[0]["summary"]]
    assert train[len(plain_train)]["title"] == corpus_train[0]["title"]
    assert list(evaluation["references"]) == list(plain_eval["references"])  # only training is mixed


def test_extra_repeats_below_one_is_a_config_error():
    args = SummarizationDataArguments(dataset=str(FIXTURE), extra_train_dataset="geo_corpus", extra_train_repeats=0)
    with pytest.raises(ConfigError, match="extra_train_repeats"):
        load_summarization_splits(args)
