"""Seismic denoiser: DeepDenoiser-style STFT-mask encoder-decoder (Zhu, Mousavi & Beroza, 2019)."""

from .configuration_seismic_denoiser import SeismicDenoiserConfig
from .modeling_seismic_denoiser import (
    SeismicDenoiserForDenoising,
    SeismicDenoiserModel,
    SeismicDenoiserPreTrainedModel,
    SeismicDenoisingOutput,
)
from .processing_seismic_denoiser import SeismicDenoiserFeatureExtractor

__all__ = [
    "SeismicDenoiserConfig",
    "SeismicDenoiserModel",
    "SeismicDenoiserPreTrainedModel",
    "SeismicDenoiserForDenoising",
    "SeismicDenoisingOutput",
    "SeismicDenoiserFeatureExtractor",
]
