"""Typed `ModelOutput`s shared by geohub's model families.

Shapes use B = batch, C = channels/classes, T = samples in time, H x W = raster rows x columns.
Each family keeps its outputs in its own section below.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput

__all__ = [
    "PhasePickingOutput",
    "MagnitudeEstimationOutput",
    "TerrainGANOutput",
    "LandformClassificationOutput",
    "SentenceExtractionOutput",
]


# --- seismic -------------------------------------------------------------------------------------------------
@dataclass
class PhasePickingOutput(ModelOutput):
    """Output of the phase picker.

    Args:
        loss: scalar, phase cross-entropy plus detection loss, when `labels` are given.
        logits: `(B, 3, T)` per-sample scores for (noise, P, S).
        detection_logits: `(B, T)` per-sample event-presence scores (sigmoid gives the probability).
        last_hidden_state: `(B, F, T')` bottleneck features of the U-Net, with `output_hidden_states=True`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    detection_logits: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None


@dataclass
class MagnitudeEstimationOutput(ModelOutput):
    """Output of the magnitude CNN-BiLSTM.

    Args:
        loss: scalar, Gaussian negative log-likelihood of the magnitude (plus detection BCE), with `labels`.
        magnitude: `(B,)` predicted magnitude.
        log_variance: `(B,)` predicted log variance of the magnitude (aleatoric uncertainty).
        detection_logits: `(B,)` window-level event-vs-noise score.
    """

    loss: torch.Tensor | None = None
    magnitude: torch.Tensor | None = None
    log_variance: torch.Tensor | None = None
    detection_logits: torch.Tensor | None = None


# --- terrain -------------------------------------------------------------------------------------------------
@dataclass
class TerrainGANOutput(ModelOutput):
    """Output of the terrain GAN's `forward` (generation from latent vectors).

    Args:
        samples: `(B, 1, H, W)` generated patches in the normalised space of the processor.
        critic_scores: `(B,)` discriminator scores of `samples`, when asked for.
    """

    samples: torch.Tensor | None = None
    critic_scores: torch.Tensor | None = None


@dataclass
class LandformClassificationOutput(ModelOutput):
    """Output of the landform classifier.

    Args:
        loss: scalar cross-entropy when `labels` are given.
        logits: `(B, num_labels)`.
        pooler_output: `(B, F)` pooled features (used by the Frechet terrain distance).
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None


# --- text ----------------------------------------------------------------------------------------------------
@dataclass
class SentenceExtractionOutput(ModelOutput):
    """Output of the extractive summarizer (sentence scoring on sentence embeddings).

    Args:
        loss: scalar BCE over sentences when `labels` are given.
        logits: `(B, S)` per-sentence scores; padded sentences get `-inf`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
