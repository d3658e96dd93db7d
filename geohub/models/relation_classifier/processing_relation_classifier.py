"""Text side of the relation classifier: entity markers, entities from mentions, candidate pairs and their
non-neural features.

    prepared = prepare_document(text, mentions, config)   # mentions: (start, end, label, sentence) tuples
    encoded = encode_documents(tokenizer, [prepared], config)

With `config.rule_features` the caller passes the typed rules' relations among the same mentions
(`rules=[(head mention, relation, tail mention), ...]`, e.g. from `geohub.knowledge.extract_relations`).

An entity is the set of mentions with the same case-folded text and label. The marked text puts
`config.marker` before and after every mention (`... the * Bushveld Complex * hosts * chromitite * ...`).
"""

from __future__ import annotations

from typing import Any

from .configuration_relation_classifier import NUM_DISTANCE_FEATURES

__all__ = ["prepare_document", "encode_documents", "distance_features", "entity_key"]

Mention = tuple[int, int, str, int]  # start, end (characters), label, sentence index


def entity_key(surface: str, label: str) -> tuple[str, str]:
    return " ".join(surface.split()).casefold(), label


def _mark(text: str, mentions: list[Mention], marker: str) -> tuple[str, list[int]]:
    """(marked text, character offset of each mention's opening marker); mentions must not overlap."""
    order = sorted(range(len(mentions)), key=lambda i: mentions[i][0])
    out, cursor, positions = "", 0, [0] * len(mentions)
    for i in order:
        start, end = mentions[i][0], mentions[i][1]
        out += text[cursor:start].lstrip() if out.endswith(" ") else text[cursor:start]
        out += "" if not out or out.endswith(" ") else " "
        positions[i] = len(out)
        out += f"{marker} {text[start:end]} {marker} "
        cursor = end
    return out + text[cursor:].lstrip(), positions


def distance_features(text: str, heads: list[Mention], tails: list[Mention]) -> list[float]:
    """[same sentence, sentence distance / 5 (capped), word gap / 100 (capped), head first, adjacent sentences]
    over the closest head / tail mentions."""
    sentence_gap = min(abs(h[3] - t[3]) for h in heads for t in tails)
    words = min(len(text[min(h[1], t[1]) : max(h[0], t[0])].split()) for h in heads for t in tails)
    head_first = min(h[0] for h in heads) < min(t[0] for t in tails)
    features = [float(sentence_gap == 0), min(sentence_gap, 5) / 5, min(words, 100) / 100, float(head_first),
                float(sentence_gap == 1)]  # fmt: skip
    assert len(features) == NUM_DISTANCE_FEATURES
    return features


def _closest(heads: list[int], tails: list[int], kept: list[Mention]) -> tuple[int, int]:
    """The (head, tail) mention numbers nearest in the text (same sentence first)."""
    return min(((h, t) for h in heads for t in tails),
               key=lambda p: (kept[p[0]][3] != kept[p[1]][3], abs(kept[p[0]][0] - kept[p[1]][0])))  # fmt: skip


def _rule_one_hots(rules, head: list[Mention], tail: list[Mention], relations: list[str]) -> list[float]:
    """Two one-hots over `relations`: a rule relates a head mention to a tail mention / a tail one to a head one."""
    out = [0.0] * (2 * len(relations))
    head_set, tail_set = set(head), set(tail)
    for first, relation, second in rules:
        if relation not in relations:
            continue
        if first in head_set and second in tail_set:
            out[relations.index(relation)] = 1.0
        elif first in tail_set and second in head_set:
            out[len(relations) + relations.index(relation)] = 1.0
    return out


def prepare_document(text: str, mentions: list[Mention], config, rules=None) -> dict[str, Any]:
    """Marked text, entities and candidate pairs of one document.

    Returns `marked`, `marker_chars` / `closer_chars` (opening / closing marker per kept mention),
    `mention_entity` (entity number per kept mention), `entities` (list of (key, label, [mention numbers])),
    `pairs` ((head, tail) entity numbers), `pair_mentions` (the closest (head, tail) mention numbers of each
    pair) and `extra` (per pair: head type one-hot, tail type one-hot, distance features and, with
    `config.rule_features`, the one-hots of `rules`: (head mention, relation, tail mention) tuples). Overlapping
    mentions keep the first (longest first) one; mentions of types outside `config.entity_types` are ignored.
    """
    kept: list[Mention] = []
    for mention in sorted(mentions, key=lambda m: (m[0], -(m[1] - m[0]))):
        if mention[2] in config.entity_types and not any(mention[0] < k[1] and k[0] < mention[1] for k in kept):
            kept.append(mention)
    marked, marker_chars = _mark(text, kept, config.marker)
    closer_chars = [c + len(config.marker) + 1 + (m[1] - m[0]) + 1 for c, m in zip(marker_chars, kept)]
    index: dict[tuple[str, str], int] = {}
    entities: list[tuple[tuple[str, str], str, list[int]]] = []
    mention_entity = []
    for number, (start, end, label, _) in enumerate(kept):
        key = entity_key(text[start:end], label)
        if key not in index:
            index[key] = len(entities)
            entities.append((key, label, []))
        entities[index[key]][2].append(number)
        mention_entity.append(index[key])
    allowed = {tuple(p) for p in config.type_pairs}
    types = {t: i for i, t in enumerate(config.entity_types)}
    pairs, extra, pair_mentions = [], [], []
    use_rules, relations = getattr(config, "rule_features", False), list(config.relation_types)
    for h, (_, head_label, head_mentions) in enumerate(entities):
        for t, (_, tail_label, tail_mentions) in enumerate(entities):
            if h == t or (allowed and (head_label, tail_label) not in allowed):
                continue
            one_hot = [0.0] * (2 * len(types))
            one_hot[types[head_label]] = one_hot[len(types) + types[tail_label]] = 1.0
            heads, tails = [kept[i] for i in head_mentions], [kept[i] for i in tail_mentions]
            pairs.append((h, t))
            pair_mentions.append(_closest(head_mentions, tail_mentions, kept))
            rule_part = _rule_one_hots(rules or [], heads, tails, relations) if use_rules else []
            extra.append(one_hot + distance_features(text, heads, tails) + rule_part)
    return {"marked": marked, "marker_chars": marker_chars, "closer_chars": closer_chars, "kept": kept,
            "mention_entity": mention_entity, "entities": entities, "pairs": pairs, "pair_mentions": pair_mentions,
            "extra": extra}  # fmt: skip


def encode_documents(tokenizer, prepared: list[dict[str, Any]], config) -> dict[str, list]:
    """Tokenize marked documents: `input_ids`, `attention_mask`, `mention_index` (token position of each
    kept mention's opening marker; mentions cut off by `config.max_document_length` get entity -1 in
    `mention_entity`) and `pair_context` (per pair, the token range [start, end) strictly between the closest
    head and tail mentions' markers; empty when adjacent or cut off)."""
    encoded = tokenizer([p["marked"] for p in prepared], truncation=True, max_length=config.max_document_length,
                        return_offsets_mapping=True)  # fmt: skip
    positions, entities, contexts = [], [], []
    for offsets, document in zip(encoded.pop("offset_mapping"), prepared):
        starts = {start: position for position, (start, end) in enumerate(offsets) if end > start}
        positions.append([starts.get(c, 0) for c in document["marker_chars"]])
        context = []
        for a, b in document.get("pair_mentions", []):
            first, second = sorted((a, b), key=lambda m: document["marker_chars"][m])
            close, opening = starts.get(document["closer_chars"][first]), starts.get(document["marker_chars"][second])
            context.append([close + 1, opening] if close is not None and opening is not None else [0, 0])
        contexts.append(context)
        entities.append(
            [e if c in starts else -1 for e, c in zip(document["mention_entity"], document["marker_chars"])]
        )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
            "mention_index": positions, "mention_entity": entities, "pair_context": contexts}  # fmt: skip
