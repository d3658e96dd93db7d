"""IOB2-constrained decoding of a token classifier's word-level label probabilities.

A token classifier scores every word on its own, so its arg-max tags can form sequences that IOB2 forbids: an
`I-X` after `O` or after an entity of another type (say `No/B-STRAT ./I-TIMESCALE`), which seqeval's default
(CoNLL) mode and geohub's span builder then open as an entity of its own. `viterbi_iob2` returns the most probable
*valid* tag sequence (the product of the per-word probabilities over the sequences in which `I-X` only follows
`B-X` or `I-X`), the decoding a linear-chain CRF with hard transition constraints would do, without training one.

Hard constraints alone cannot keep a multi-word entity whole: a tagger scores each word on its own, and where it
calls each word of `subarkosic meta sandstone` a likelier `B-ROCK` than `I-ROCK` the sequence `B B B` is valid
IOB2, three entities. A CRF also learns *soft* transition scores (after `B-ROCK`, `I-ROCK` is common and another
`B-ROCK` rare). `tag_transitions` estimates them from the training tags without training anything: the pointwise
mutual information of adjacent tags, `log P(next | previous) - log P(next)` (add-one smoothed; with the tagger's
per-word posteriors `P(tag | word)` this is the hybrid HMM's `log P(word | tag) + log P(tag | previous)` up to a
per-word constant), and `viterbi_iob2(..., transitions, weight)` adds `weight` times them to the path score
(`weight` 0 is the plain constrained decoding). The training task stores them in `config.tag_transitions` and
picks `config.transition_weight` on the validation data (`TagDecoder.from_config` reads both for inference).

Self-contained (numpy only), like the rest of a family folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["TRANSITION_WEIGHTS", "TagDecoder", "allowed_transitions", "tag_transitions", "viterbi_iob2"]

# the weights the training task tries on the validation data (0: hard IOB2 constraints only)
TRANSITION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def allowed_transitions(label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start, transitions): boolean masks of shape (L,) and (L, L), True where IOB2 allows the label first in a
    sentence / label `j` right after label `i`. Labels without a `B-`/`I-` prefix (e.g. `O`) are always allowed."""
    labels = list(label_names)
    count = len(labels)
    start = np.ones(count, dtype=bool)
    transitions = np.ones((count, count), dtype=bool)
    for j, label in enumerate(labels):
        if not label.startswith("I-"):
            continue
        kind = label[2:]
        start[j] = False
        for i, previous in enumerate(labels):
            transitions[i, j] = previous in (f"B-{kind}", f"I-{kind}")
    return start, transitions


def tag_transitions(tag_sequences: Iterable[Sequence[str]], label_names: Sequence[str]) -> dict[str, Any]:
    """Soft transition scores from training tag sequences, JSON-ready (`config.tag_transitions`):
    `{"labels": [...], "start": [L], "transitions": [[L] * L]}` with `start[j] = log P(first = j) - log P(j)` and
    `transitions[i][j] = log P(j | i) - log P(j)` (add-one smoothed over the IOB2-allowed pairs; a forbidden pair
    gets no score here, `viterbi_iob2` forbids it anyway)."""
    labels = list(label_names)
    index = {label: k for k, label in enumerate(labels)}
    start_mask, allowed = allowed_transitions(labels)
    unigram, first = np.ones(len(labels)), start_mask.astype(np.float64)
    pairs = allowed.astype(np.float64)  # add-one smoothing on every allowed pair
    for tags in tag_sequences:
        ids = [index[t] for t in tags if t in index]
        if not ids:
            continue
        first[ids[0]] += 1
        np.add.at(unigram, ids, 1)
        np.add.at(pairs, (ids[:-1], ids[1:]), 1)
    prior = np.log(unigram / unigram.sum())
    with np.errstate(divide="ignore"):
        start = np.log(first / first.sum()) - prior
        transitions = np.log(pairs / pairs.sum(axis=1, keepdims=True)) - prior[None, :]
    start, transitions = np.where(start_mask, start, 0.0), np.where(allowed, transitions, 0.0)
    return {"labels": labels, "start": start.round(4).tolist(), "transitions": transitions.round(4).tolist()}


def viterbi_iob2(
    probabilities: np.ndarray,
    label_names: Sequence[str],
    transitions: dict[str, Any] | None = None,
    weight: float = 0.0,
) -> list[int]:
    """Label ids of the most probable IOB2-valid sequence.

    Args:
        probabilities: (words, labels) per-word label probabilities (rows sum to 1; softmax of the logits).
        label_names: the label of each column, e.g. `["O", "B-STRAT", "I-STRAT", ...]`.
        transitions: soft transition scores (`tag_transitions`, same labels) added with `weight` (0: none).

    Returns:
        One label id per word (an empty list for no words). With `weight` 0, where the arg-max tags are already
        valid they are returned unchanged.
    """
    scores = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    if scores.ndim != 2 or scores.shape[1] != len(label_names):
        raise ValueError(f"probabilities must be (words, {len(label_names)}), got {scores.shape}")
    if len(scores) == 0:
        return []
    start, allowed = allowed_transitions(label_names)
    penalty = np.where(allowed, 0.0, -np.inf)  # (previous, next)
    first = np.where(start, 0.0, -np.inf)
    if transitions is not None and weight:
        if list(transitions["labels"]) != list(label_names):
            raise ValueError("tag_transitions were estimated for other labels than the model's")
        penalty = penalty + weight * np.asarray(transitions["transitions"], dtype=np.float64)
        first = first + weight * np.asarray(transitions["start"], dtype=np.float64)
    best = first + scores[0]
    back = np.zeros(scores.shape, dtype=np.int64)
    for word in range(1, len(scores)):
        candidates = best[:, None] + penalty  # (previous, next)
        back[word] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[word]
    path = [int(best.argmax())]
    for word in range(len(scores) - 1, 0, -1):
        path.append(int(back[word, path[-1]]))
    return path[::-1]


class TagDecoder:
    """A tagger's decoding as its config asks: IOB2-constrained Viterbi plus `config.transition_weight` times the
    soft transition scores `config.tag_transitions` (absent in older models: hard constraints only)."""

    def __init__(self, label_names: Sequence[str], transitions: dict[str, Any] | None = None, weight: float = 0.0):
        self.label_names, self.transitions = list(label_names), transitions
        self.weight = float(weight) if transitions else 0.0

    @classmethod
    def from_config(cls, config) -> TagDecoder:
        names = [config.id2label[i] for i in range(len(config.id2label))]
        transitions = getattr(config, "tag_transitions", None)
        return cls(names, transitions, getattr(config, "transition_weight", 0.0) or 0.0)

    def __call__(self, probabilities: np.ndarray, weight: float | None = None) -> list[int]:
        chosen = self.weight if weight is None else weight
        return viterbi_iob2(probabilities, self.label_names, self.transitions, chosen)
