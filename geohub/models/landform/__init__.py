"""Landform classifier: `LandformConfig`, `LandformCNNForImageClassification` (six geomorphometric classes)."""

from .configuration_landform import DEFAULT_LANDFORM_LABELS, LandformConfig
from .modeling_landform import LandformCNNForImageClassification, LandformPreTrainedModel, LandformStage

__all__ = [
    "DEFAULT_LANDFORM_LABELS",
    "LandformConfig",
    "LandformCNNForImageClassification",
    "LandformPreTrainedModel",
    "LandformStage",
]
