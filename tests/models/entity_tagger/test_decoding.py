"""IOB2-constrained decoding of the entity tagger's word probabilities."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from geohub.models.entity_tagger.decoding import TagDecoder, allowed_transitions, tag_transitions, viterbi_iob2

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


ROCK = ["O", "B-ROCK", "I-ROCK", "B-MIN", "I-MIN"]
TRAINING_TAGS = [  # entities of one, two and three words, as in a mineral-exploration report
    ["O", "B-ROCK", "I-ROCK", "I-ROCK", "O", "B-MIN", "O"],
    ["B-ROCK", "O", "B-ROCK", "I-ROCK", "O"],
    ["O", "O", "B-MIN", "I-MIN", "O", "B-ROCK", "O"],
    ["O", "B-ROCK", "O", "B-MIN", "O", "O"],
]


def test_tag_transitions_favour_continuing_an_entity():
    scores = tag_transitions(TRAINING_TAGS, ROCK)
    assert scores["labels"] == ROCK
    transitions = np.array(scores["transitions"])
    b, i = ROCK.index("B-ROCK"), ROCK.index("I-ROCK")
    assert transitions[b, i] > 0 > transitions[b, b]  # B-ROCK is followed by I-ROCK, never by another B-ROCK
    assert transitions[i, i] > transitions[i, b]
    assert transitions[ROCK.index("O"), i] == 0.0  # forbidden pairs get no score (viterbi forbids them)
    assert np.array(scores["start"])[i] == 0.0
    json.dumps(scores)  # stored in the model's config


def test_soft_transitions_keep_a_three_word_entity_whole():
    # each word a likelier B-ROCK than I-ROCK on its own: the hard constraints give three one-word entities
    probabilities = np.array(
        [[0.30, 0.50, 0.18, 0.01, 0.01], [0.10, 0.50, 0.38, 0.01, 0.01], [0.02, 0.55, 0.41, 0.01, 0.01]]
    )
    scores = tag_transitions(TRAINING_TAGS, ROCK)
    plain = [ROCK[i] for i in viterbi_iob2(probabilities, ROCK)]
    soft = [ROCK[i] for i in viterbi_iob2(probabilities, ROCK, scores, weight=1.0)]
    assert plain == ["B-ROCK", "B-ROCK", "B-ROCK"]
    assert soft == ["B-ROCK", "I-ROCK", "I-ROCK"]
    assert viterbi_iob2(probabilities, ROCK, scores, weight=0.0) == viterbi_iob2(probabilities, ROCK)
    # a confident O between two entities is kept: the scores nudge, they do not override the tagger
    separated = np.array(
        [[0.05, 0.9, 0.03, 0.01, 0.01], [0.95, 0.02, 0.01, 0.01, 0.01], [0.05, 0.9, 0.03, 0.01, 0.01]]
    )
    assert [ROCK[i] for i in viterbi_iob2(separated, ROCK, scores, 1.0)] == ["B-ROCK", "O", "B-ROCK"]


def test_tag_decoder_reads_the_config_and_checks_labels():
    scores = tag_transitions(TRAINING_TAGS, ROCK)
    config = SimpleNamespace(id2label=dict(enumerate(ROCK)), tag_transitions=scores, transition_weight=1.0)
    probabilities = np.array([[0.30, 0.50, 0.18, 0.01, 0.01], [0.10, 0.50, 0.38, 0.01, 0.01]])
    assert TagDecoder.from_config(config)(probabilities) == [1, 2]
    assert TagDecoder.from_config(SimpleNamespace(id2label=dict(enumerate(ROCK))))(probabilities) == [1, 1]
    with pytest.raises(ValueError, match="other labels"):
        viterbi_iob2(probabilities, ["O", "B-MIN", "I-MIN", "B-ROCK", "I-ROCK"], scores, 1.0)
