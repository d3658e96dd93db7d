"""Learned relations between entity mentions (geohub's relation classifier) for `geohub.inference.text.extract`.

    from geohub.inference.relations import classify_relations, load_relation_model

    model, tokenizer = load_relation_model("runs/knowledge_extraction/relations")
    relations = classify_relations(text, mentions, model, tokenizer)  # list[geohub.knowledge.Relation]

The document is read once with entity markers around every mention; every ordered pair of its entities
(mentions merged by text and type) whose types the model was trained to relate is classified, in one sentence
or across sentences (see `geohub.models.relation_classifier`); a pair whose best class is a relation becomes a
`Relation` between the closest mentions of the two entities, with confidence = the class probability times the
smaller of the two mentions' confidences.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CorpusError
from ..knowledge import Mention, Relation, extract_relations
from .tokenizing import tokenizer_lock

__all__ = ["load_relation_model", "classify_relations", "default_relation_model"]


def default_relation_model() -> str | None:
    """`$GEOHUB_HOME/relation_classification` when `geohub quickstart` saved a classifier there, else None."""
    from ..environment import default_output_dir

    path = default_output_dir() / "relation_classification"
    return str(path) if (path / "config.json").is_file() else None


def load_relation_model(model: Any, tokenizer: Any = None):
    """(model, tokenizer) from a folder or an already-loaded `RelationClassifierForPairClassification` (eval mode)."""
    from ..models.relation_classifier import RelationClassifierForPairClassification

    if isinstance(model, (str, os.PathLike)):
        from transformers import AutoConfig, AutoTokenizer

        path = str(model)
        if not (Path(path) / "config.json").is_file():
            raise CorpusError("no relation model found (config.json missing)", path=path, field="relation_model",
                              expected="a folder trained with recipes/knowledge_extraction/config_relations.yaml")  # fmt: skip
        model_type = getattr(AutoConfig.from_pretrained(path), "model_type", None)
        if model_type != "geohub_relation_classifier":
            raise CorpusError(f"not a relation classifier (model_type {model_type!r})", path=path,
                              field="relation_model", expected="model_type geohub_relation_classifier")  # fmt: skip
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
        model = RelationClassifierForPairClassification.from_pretrained(path)
    if tokenizer is None:
        raise CorpusError("a loaded relation model needs its tokenizer", field="tokenizer")
    model.eval()
    return model, tokenizer


@torch.no_grad()
def classify_relations(
    text: str, mentions: list[Mention], model, tokenizer, *, min_probability: float = 0.0
) -> list[Relation]:
    """Relations among the entities of `mentions` in `text` (see the module docstring); each relation is
    reported between the closest pair of its head's and tail's mentions; `min_probability` drops weak ones."""
    from ..models.relation_classifier.processing_relation_classifier import encode_documents, prepare_document

    if not mentions:
        return []
    tuples = [(m.start, m.end, m.label, m.sentence) for m in mentions]
    by_tuple = {t: m for t, m in zip(tuples, mentions)}
    rules = None
    if getattr(model.config, "rule_features", False):
        as_tuple = lambda m: (m.start, m.end, m.label, m.sentence)  # noqa: E731
        rules = [(as_tuple(r.head), r.relation, as_tuple(r.tail)) for r in extract_relations(text, mentions)]
    prepared = prepare_document(text, tuples, model.config, rules=rules)
    if not prepared["pairs"]:
        return []
    with tokenizer_lock(tokenizer):  # one tokenizer shared by concurrent requests (geohub.inference.tokenizing)
        encoded = encode_documents(tokenizer, [prepared], model.config)
    as_tensor = lambda key: torch.tensor(encoded[key], dtype=torch.long)  # noqa: E731
    heads = torch.tensor([h for h, _ in prepared["pairs"]])
    tails = torch.tensor([t for _, t in prepared["pairs"]])
    features = model.document_pair_features(
        as_tensor("input_ids"), as_tensor("attention_mask"), as_tensor("mention_index"), as_tensor("mention_entity"),
        torch.zeros_like(heads), heads, tails, torch.tensor(prepared["extra"]),
        torch.tensor(encoded["pair_context"][0], dtype=torch.long).reshape(-1, 2),
    )  # fmt: skip
    best_classes, probabilities = model.predict(model(pair_features=features).logits)
    relations, id2label = [], model.config.id2label
    for (h, t), row, best in zip(prepared["pairs"], probabilities, best_classes.tolist()):
        if best == 0 or float(row[best]) < min_probability:
            continue
        head, tail = _closest(
            [by_tuple[prepared["kept"][i]] for i in prepared["entities"][h][2]],
            [by_tuple[prepared["kept"][i]] for i in prepared["entities"][t][2]],
        )
        confidence = float(row[best]) * min(head.confidence, tail.confidence)
        relations.append(Relation(head, id2label[best], tail, confidence, evidence="relation classifier"))
    return relations


def _closest(heads: list[Mention], tails: list[Mention]) -> tuple[Mention, Mention]:
    """The (head, tail) mention pair nearest in the text (same sentence first)."""
    return min(
        ((h, t) for h in heads for t in tails),
        key=lambda pair: (pair[0].sentence != pair[1].sentence, abs(pair[0].start - pair[1].start)),
    )
