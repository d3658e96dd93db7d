"""Seismic magnitude model: CNN + BiLSTM magnitude regression with predicted uncertainty and detection."""

from ..seismic_picker.processing_seismic_picker import SeismicFeatureExtractor
from .configuration_seismic_magnitude import SeismicMagnitudeConfig
from .modeling_seismic_magnitude import (
    SeismicMagnitudeForRegression,
    SeismicMagnitudeModel,
    SeismicMagnitudePreTrainedModel,
)

__all__ = [
    "SeismicMagnitudeConfig",
    "SeismicMagnitudeModel",
    "SeismicMagnitudePreTrainedModel",
    "SeismicMagnitudeForRegression",
    "SeismicFeatureExtractor",
]
