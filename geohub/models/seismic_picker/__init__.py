"""Seismic phase picker: PhaseNet-style U-Net with P/S/noise and detection heads."""

from .configuration_seismic_picker import PHASE_LABELS, SeismicPickerConfig
from .modeling_seismic_picker import SeismicPickerForPhasePicking, SeismicPickerModel, SeismicPickerPreTrainedModel
from .processing_seismic_picker import SeismicFeatureExtractor, make_picker_labels

__all__ = [
    "PHASE_LABELS",
    "SeismicPickerConfig",
    "SeismicPickerModel",
    "SeismicPickerPreTrainedModel",
    "SeismicPickerForPhasePicking",
    "SeismicFeatureExtractor",
    "make_picker_labels",
]
