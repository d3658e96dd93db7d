"""Gazetteer (dictionary-match) features for the entity tagger, fed through BERT's token type embeddings.

A dictionary of the training entities (longest match) is a strong baseline on a user's own data: most test
entities of a mineral-exploration report are names seen in training. The tagger gets the same evidence as an
input: every word carries the tag the dictionary's longest match gives it (`O`, `B-X` or `I-X`), and each
sub-word's token type id is `case + 2 * match` (`case` = 1 for a word that starts upper-case, the case feature).
The token type embedding table grows from 2 rows to `2 * (1 + 2 * types)`; the new rows start as copies of the
pretrained case rows, so the model starts exactly where the plain tagger starts and learns how far to trust the
dictionary. The dictionary travels in the model's config (`config.gazetteer`: `{"types": [...], "phrases":
{TYPE: [lower-cased phrases]}}`), so `from_pretrained` gives inference the same features as training.

Training must not see a dictionary that holds every one of its own entities (it would learn to copy it): the
training sentences get the features of a dictionary built from the *other* folds (`fold_features`), validation
and test sentences those of the dictionary of all training sentences, as at inference.

Self-contained (plain Python), like the rest of a family folder.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

__all__ = [
    "build_gazetteer",
    "gazetteer_config",
    "gazetteer_from_config",
    "match_features",
    "fold_features",
    "token_type_ids",
    "type_vocab_size",
]

Gazetteer = dict[tuple[str, ...], str]


def _key(tokens: Sequence[str]) -> tuple[str, ...]:
    return tuple(t.lower() for t in tokens)


def _entities(tokens: Sequence[str], tags: Sequence[str]):
    """(start, end, type) of each IOB2 entity."""
    i = 0
    while i < len(tags):
        if tags[i].startswith(("B-", "I-")):
            kind, j = tags[i][2:], i + 1
            while j < len(tags) and tags[j] == f"I-{kind}":
                j += 1
            yield i, j, kind
            i = j
        else:
            i += 1


def build_gazetteer(sentences: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Gazetteer:
    """Lower-cased token tuple -> its most frequent type, over the (tokens, IOB2 tags) of the sentences."""
    counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for tokens, tags in sentences:
        for start, end, kind in _entities(tokens, tags):
            counts[_key(tokens[start:end])][kind] += 1
    return {phrase: kinds.most_common(1)[0][0] for phrase, kinds in counts.items()}


def match_features(
    words: Sequence[str], gazetteer: Gazetteer, types: Sequence[str], boundaries: bool = True
) -> list[int]:
    """Per word: 0 outside any match, `1 + 2k` on the first word of a longest match of type `types[k]`,
    `2 + 2k` on its other words (left to right, longest match first). `boundaries=False`: `1 + k` on every word
    of the match (its type only: a dictionary name inside a longer unseen name does not assert where it starts)."""
    index = {kind: k for k, kind in enumerate(types)}
    longest = max((len(p) for p in gazetteer), default=0)
    key = _key(words)
    features, i = [0] * len(words), 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            kind = gazetteer.get(key[i : i + size])
            if kind in index:
                k = index[kind]
                features[i : i + size] = [1 + 2 * k] + [2 + 2 * k] * (size - 1) if boundaries else [1 + k] * size
                i += size
                break
        else:
            i += 1
    return features


def fold_features(
    sentences: Sequence[tuple[Sequence[str], Sequence[str]]],
    types: Sequence[str],
    folds: int = 4,
    boundaries: bool = True,
) -> list[list[int]]:
    """Match features of each training sentence from the dictionary of the other folds (contiguous blocks, so
    the sentences of one report mostly share a fold), which matches about as often as the full dictionary will
    on unseen text."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    bounds = [round(len(sentences) * f / folds) for f in range(folds + 1)]
    features: list[list[int]] = []
    for f in range(folds):
        others = [*sentences[: bounds[f]], *sentences[bounds[f + 1] :]]
        gazetteer = build_gazetteer(others)
        block = sentences[bounds[f] : bounds[f + 1]]
        features += [match_features(tokens, gazetteer, types, boundaries) for tokens, _ in block]
    return features


def type_vocab_size(types: Sequence[str], boundaries: bool = True) -> int:
    """Token types needed: case (2) x match (O, B-X, I-X for each type; O, X without boundaries)."""
    return 2 * (1 + (2 if boundaries else 1) * len(types))


def token_type_ids(word_ids: Sequence[int | None], words: Sequence[str], matches: Sequence[int] | None,
                   case: bool = True) -> list[int]:  # fmt: skip
    """`case + 2 * match` for every sub-word (0 on special tokens); `matches=None` gives the case feature only."""
    out = []
    for word in word_ids:
        if word is None:
            out.append(0)
            continue
        value = int(case and words[word][:1].isupper())
        out.append(value + (2 * matches[word] if matches is not None else 0))
    return out


def gazetteer_config(gazetteer: Gazetteer, types: Sequence[str], boundaries: bool = True) -> dict[str, Any]:
    """The JSON form stored as `config.gazetteer` (`"boundaries": false` only for type-only matches)."""
    phrases: dict[str, list[str]] = {kind: [] for kind in types}
    for phrase, kind in sorted(gazetteer.items()):
        if kind in phrases:
            phrases[kind].append(" ".join(phrase))
    return {"types": list(types), "phrases": phrases, **({} if boundaries else {"boundaries": False})}


def gazetteer_from_config(value: dict[str, Any] | None) -> tuple[Gazetteer, list[str]] | None:
    """(gazetteer, types) from `config.gazetteer`, or None when the model has no gazetteer features."""
    if not value:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("types"), list)
        or not isinstance(value.get("phrases"), dict)
    ):
        raise ValueError("config.gazetteer must be {'types': [...], 'phrases': {TYPE: [phrase, ...]}}")
    gazetteer = {tuple(p.split(" ")): kind for kind, items in value["phrases"].items() for p in items}
    return gazetteer, list(value["types"])


class TokenTypes:
    """The token type ids a tagger expects for pre-split sentences: the case feature (`config.case_token_types`)
    and, when `config.gazetteer` is set, the dictionary match features. `None` when the model takes neither."""

    def __init__(self, config):
        self.case = bool(getattr(config, "case_token_types", False))
        loaded = gazetteer_from_config(getattr(config, "gazetteer", None))
        self.gazetteer, self.types = loaded if loaded else (None, [])
        self.boundaries = bool((getattr(config, "gazetteer", None) or {}).get("boundaries", True))

    @property
    def active(self) -> bool:
        return self.case or self.gazetteer is not None

    def __call__(self, word_ids: Sequence[int | None], words: Sequence[str]) -> list[int]:
        matches = (
            match_features(words, self.gazetteer, self.types, self.boundaries) if self.gazetteer is not None else None
        )
        return token_type_ids(word_ids, words, matches, case=self.case)


def enable_gazetteer(model, gazetteer: Gazetteer, types: Sequence[str], boundaries: bool = True) -> None:
    """Grow the token type embeddings of a BERT-like `model` to `type_vocab_size(types)` rows (row `c + 2m` starts
    as the pretrained row `c`) and store the dictionary in `model.config.gazetteer`."""
    import torch

    embeddings = model.get_input_embeddings()  # word embeddings; the token type table sits beside them
    parent = next((m for m in model.modules() if hasattr(m, "token_type_embeddings")), None)
    if parent is None or embeddings is None:
        raise ValueError("gazetteer features need an encoder with token type embeddings (BERT-like)")
    old = parent.token_type_embeddings
    size = type_vocab_size(types, boundaries)
    new = torch.nn.Embedding(size, old.embedding_dim)
    with torch.no_grad():
        for row in range(size):
            new.weight[row] = old.weight[row % 2 if old.num_embeddings >= 2 else 0]
    parent.token_type_embeddings = new
    model.config.type_vocab_size = size
    model.config.gazetteer = gazetteer_config(gazetteer, types, boundaries)
