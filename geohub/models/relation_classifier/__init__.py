"""Relation classifier: typed entity markers on a MiniLM (BERT) encoder, one class per relation + no_relation."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_relation_classifier": ["NO_RELATION", "RelationClassifierConfig"],
        ".modeling_relation_classifier": [
            "RelationClassifierForPairClassification",
            "RelationClassifierPreTrainedModel",
        ],
    },
)

__all__ = [
    "NO_RELATION",
    "RelationClassifierConfig",
    "RelationClassifierForPairClassification",
    "RelationClassifierPreTrainedModel",
]
