"""IOB2-constrained decoding of the entity tagger's word probabilities."""

import numpy as np
import pytest

from geohub.models.entity_tagger.decoding import allowed_transitions, viterbi_iob2

NAMES = ["O", "B-STRAT", "I-STRAT", "B-TIMESCALE", "I-TIMESCALE"]


def test_allowed_transitions_follow_iob2():
    start, transitions = allowed_transitions(NAMES)
    assert start.tolist() == [True, True, False, True, False]
    assert transitions[1, 2] and transitions[2, 2] and transitions[3, 4]
    assert not transitions[0, 2] and not transitions[1, 4] and not transitions[2, 4]
    assert transitions[:, [0, 1, 3]].all()  # O and B- may follow anything


def test_valid_argmax_is_kept():
    probabilities = np.array(
        [[0.1, 0.8, 0.05, 0.03, 0.02], [0.1, 0.05, 0.8, 0.03, 0.02], [0.9, 0.03, 0.03, 0.02, 0.02]]
    )
    assert viterbi_iob2(probabilities, NAMES) == [1, 2, 0]


def test_stray_inside_tag_after_other_type_is_repaired():
    # "No ." as the BGS test set splits "BGS Reg. No. NO 11": arg-max gives B-STRAT then I-TIMESCALE
    probabilities = np.array([[0.3, 0.6, 0.0, 0.1, 0.0], [0.25, 0.1, 0.2, 0.18, 0.27]])
    assert [NAMES[i] for i in probabilities.argmax(-1)] == ["B-STRAT", "I-TIMESCALE"]
    assert [NAMES[i] for i in viterbi_iob2(probabilities, NAMES)] == ["B-STRAT", "O"]


def test_inside_tag_can_pull_its_begin_when_likelier_as_a_whole():
    # O (0.5) then I-STRAT (0.9): B-STRAT I-STRAT (0.45 * 0.9) beats O O (0.5 * 0.05)
    probabilities = np.array([[0.5, 0.45, 0.0, 0.05, 0.0], [0.05, 0.0, 0.9, 0.0, 0.05]])
    assert [NAMES[i] for i in viterbi_iob2(probabilities, NAMES)] == ["B-STRAT", "I-STRAT"]


def test_first_word_never_inside_and_shapes_checked():
    assert viterbi_iob2(np.array([[0.1, 0.0, 0.9, 0.0, 0.0]]), NAMES) == [
        0
    ]  # O (0.1) beats B-STRAT (0.0); I-STRAT cannot open a sentence
    assert viterbi_iob2(np.zeros((0, 5)), NAMES) == []
    with pytest.raises(ValueError, match="probabilities must be"):
        viterbi_iob2(np.ones((2, 3)) / 3, NAMES)
