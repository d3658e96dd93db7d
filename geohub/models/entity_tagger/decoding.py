"""IOB2-constrained decoding of a token classifier's word-level label probabilities.

A token classifier scores every word on its own, so its arg-max tags can form sequences that IOB2 forbids: an
`I-X` after `O` or after an entity of another type (say `No/B-STRAT ./I-TIMESCALE`), which seqeval's default
(CoNLL) mode and geohub's span builder then open as an entity of its own. `viterbi_iob2` returns the most probable
*valid* tag sequence (the product of the per-word probabilities over the sequences in which `I-X` only follows
`B-X` or `I-X`), the decoding a linear-chain CRF with hard transition constraints would do, without training one.

Self-contained (numpy only), like the rest of a family folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["allowed_transitions", "viterbi_iob2"]


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


def viterbi_iob2(probabilities: np.ndarray, label_names: Sequence[str]) -> list[int]:
    """Label ids of the most probable IOB2-valid sequence.

    Args:
        probabilities: (words, labels) per-word label probabilities (rows sum to 1; softmax of the logits).
        label_names: the label of each column, e.g. `["O", "B-STRAT", "I-STRAT", ...]`.

    Returns:
        One label id per word (an empty list for no words). Where the arg-max tags are already valid they are
        returned unchanged.
    """
    scores = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    if scores.ndim != 2 or scores.shape[1] != len(label_names):
        raise ValueError(f"probabilities must be (words, {len(label_names)}), got {scores.shape}")
    if len(scores) == 0:
        return []
    start, transitions = allowed_transitions(label_names)
    penalty = np.where(transitions, 0.0, -np.inf)  # (previous, next)
    best = np.where(start, scores[0], -np.inf)
    back = np.zeros(scores.shape, dtype=np.int64)
    for word in range(1, len(scores)):
        candidates = best[:, None] + penalty  # (previous, next)
        back[word] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[word]
    path = [int(best.argmax())]
    for word in range(len(scores) - 1, 0, -1):
        path.append(int(back[word, path[-1]]))
    return path[::-1]
