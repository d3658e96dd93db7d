"""Seismic phase picker: PhaseNet-style U-Net with P/S/noise and detection heads."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_seismic_picker": ["PHASE_LABELS", "SeismicPickerConfig"],
        ".modeling_seismic_picker": [
            "SeismicPickerForPhasePicking",
            "SeismicPickerModel",
            "SeismicPickerPreTrainedModel",
        ],
        ".processing_seismic_picker": ["SeismicFeatureExtractor", "make_picker_labels"],
    },
)

__all__ = [
    "PHASE_LABELS",
    "SeismicPickerConfig",
    "SeismicPickerModel",
    "SeismicPickerPreTrainedModel",
    "SeismicPickerForPhasePicking",
    "SeismicFeatureExtractor",
    "make_picker_labels",
]
