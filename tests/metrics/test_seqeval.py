"""The offline seqeval module against entity counts done by hand."""

from __future__ import annotations

import evaluate
import pytest

from geohub.metrics.text import seqeval_path


@pytest.fixture(scope="module")
def seqeval():
    return evaluate.load(seqeval_path())


def test_seqeval_hand_computed(seqeval):
    references = [["B-STRAT", "I-STRAT", "O", "B-TIMESCALE"], ["B-ROCK", "O"]]
    predictions = [["B-STRAT", "I-STRAT", "O", "O"], ["B-ROCK", "B-ROCK"]]
    # gold: STRAT, TIMESCALE, ROCK; predicted: STRAT, ROCK, ROCK; correct: STRAT and the first ROCK
    scores = seqeval.compute(predictions=predictions, references=references)
    assert scores["overall_precision"] == pytest.approx(2 / 3)
    assert scores["overall_recall"] == pytest.approx(2 / 3)
    assert scores["overall_f1"] == pytest.approx(2 / 3)
    assert scores["overall_accuracy"] == pytest.approx(4 / 6)
    assert scores["ROCK"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "number": 1}
    assert scores["TIMESCALE"]["f1"] == 0.0 and scores["TIMESCALE"]["number"] == 1
    assert scores["STRAT"]["f1"] == 1.0


def test_seqeval_boundary_error_is_a_miss(seqeval):
    # a truncated entity counts as one false positive and one false negative
    scores = seqeval.compute(predictions=[["B-STRAT", "O", "O"]], references=[["B-STRAT", "I-STRAT", "O"]])
    assert scores["overall_f1"] == 0.0
    assert scores["overall_accuracy"] == pytest.approx(2 / 3)
