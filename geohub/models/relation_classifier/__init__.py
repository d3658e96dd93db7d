"""Relation classifier: typed entity markers on a MiniLM (BERT) encoder, one class per relation + no_relation."""

from .configuration_relation_classifier import NO_RELATION, RelationClassifierConfig
from .modeling_relation_classifier import (
    RelationClassifierForPairClassification,
    RelationClassifierPreTrainedModel,
)

__all__ = [
    "NO_RELATION",
    "RelationClassifierConfig",
    "RelationClassifierForPairClassification",
    "RelationClassifierPreTrainedModel",
]
