"""Landform classifier: `LandformConfig`, `LandformCNNForImageClassification` (six geomorphometric classes)."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_landform": ["DEFAULT_LANDFORM_LABELS", "LandformConfig"],
        ".modeling_landform": ["LandformCNNForImageClassification", "LandformPreTrainedModel", "LandformStage"],
    },
)

__all__ = [
    "DEFAULT_LANDFORM_LABELS",
    "LandformConfig",
    "LandformCNNForImageClassification",
    "LandformPreTrainedModel",
    "LandformStage",
]
