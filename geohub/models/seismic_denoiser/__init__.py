"""Seismic denoiser: DeepDenoiser-style STFT-mask encoder-decoder (Zhu, Mousavi & Beroza, 2019)."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_seismic_denoiser": ["SeismicDenoiserConfig"],
        ".modeling_seismic_denoiser": [
            "SeismicDenoiserForDenoising",
            "SeismicDenoiserModel",
            "SeismicDenoiserPreTrainedModel",
            "SeismicDenoisingOutput",
        ],
        ".processing_seismic_denoiser": ["SeismicDenoiserFeatureExtractor"],
    },
)

__all__ = [
    "SeismicDenoiserConfig",
    "SeismicDenoiserModel",
    "SeismicDenoiserPreTrainedModel",
    "SeismicDenoiserForDenoising",
    "SeismicDenoisingOutput",
    "SeismicDenoiserFeatureExtractor",
]
