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


RELATION_FAMILY = "relation_classifier"


def default_relation_model() -> str | None:
    """The relation classifier named by the family's demo slot (`DemoDecl` in its family.py): its environment
    variable (`GEOHUB_RELATION_MODEL`: a folder or Hub repo id), else the slot's folder under `GEOHUB_MODELS_DIR` or
    `$GEOHUB_HOME` (where `geohub quickstart` saves it); None when there is none (relations then come from rules)."""
    from ..auto import get_family
    from ..environment import default_output_dir

    decl = get_family(RELATION_FAMILY).demo
    if os.environ.get(decl.env):
        return os.environ[decl.env]
    models_dir = Path(os.environ["GEOHUB_MODELS_DIR"]) if os.environ.get("GEOHUB_MODELS_DIR") else default_output_dir()
    path = models_dir / decl.slot
    return str(path) if (path / "config.json").is_file() else None


def load_relation_model(model: Any, tokenizer: Any = None):
    """(model, tokenizer) from a folder, a Hub repo id or an already-loaded relation classifier (eval mode), through
    the one loader (`geohub.inference.loading`); anything but a relation classifier is a `CorpusError`."""
    from .loading import check_family, load_model_and_processor

    if isinstance(model, (str, os.PathLike)):
        model, loaded = load_model_and_processor(model, family=RELATION_FAMILY, error=CorpusError,
                                                 field="relation_model", processor=tokenizer is None)  # fmt: skip
        tokenizer = tokenizer or loaded
    else:
        check_family(model.config, RELATION_FAMILY, error=CorpusError, field="relation_model")
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
