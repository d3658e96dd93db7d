"""The offline ROUGE module against values computed by hand."""

from __future__ import annotations

import evaluate
import pytest

from geohub.metrics.text import rouge_path


@pytest.fixture(scope="module")
def rouge():
    return evaluate.load(rouge_path())


def test_rouge_hand_computed(rouge):
    # unigrams: 5 of 6 shared (the x2, cat, on, mat); bigrams: 3 of 5 (the cat, on the, the mat); LCS 5
    scores = rouge.compute(predictions=["the cat sat on the mat"], references=["the cat lay on the mat"])
    assert scores["rouge1"] == pytest.approx(5 / 6)
    assert scores["rouge2"] == pytest.approx(3 / 5)
    assert scores["rougeL"] == pytest.approx(5 / 6)


def test_rouge_averages_and_takes_best_reference(rouge):
    scores = rouge.compute(
        predictions=["seismic tomography", "gravity low"],
        references=[["magnetic survey", "seismic tomography"], ["unrelated words"]],
    )
    assert scores["rouge1"] == pytest.approx((1.0 + 0.0) / 2)
    per_item = rouge.compute(predictions=["a b", "c d"], references=["a b", "c x"], use_aggregator=False)
    assert per_item["rouge1"] == pytest.approx([1.0, 0.5])


def test_rouge_stemming_matches_inflections(rouge):
    stemmed = rouge.compute(predictions=["faults slipping"], references=["fault slipped"], rouge_types=["rouge1"])
    plain = rouge.compute(
        predictions=["faults slipping"], references=["fault slipped"], rouge_types=["rouge1"], use_stemmer=False
    )
    assert stemmed["rouge1"] == pytest.approx(1.0)
    assert plain["rouge1"] == pytest.approx(0.0)
