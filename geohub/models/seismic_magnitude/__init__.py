"""Seismic magnitude model: CNN + BiLSTM magnitude regression with predicted uncertainty and detection."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "..seismic_picker.processing_seismic_picker": ["SeismicFeatureExtractor"],
        ".configuration_seismic_magnitude": ["SeismicMagnitudeConfig"],
        ".modeling_seismic_magnitude": [
            "SeismicMagnitudeForRegression",
            "SeismicMagnitudeModel",
            "SeismicMagnitudePreTrainedModel",
        ],
    },
)

__all__ = [
    "SeismicMagnitudeConfig",
    "SeismicMagnitudeModel",
    "SeismicMagnitudePreTrainedModel",
    "SeismicMagnitudeForRegression",
    "SeismicFeatureExtractor",
]
