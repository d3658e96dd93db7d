"""geohub's magnitude model: convolutions + bidirectional LSTM (MagNet, Mousavi & Beroza 2020; CRED) with heads for
magnitude, its log-variance (aleatoric uncertainty, Kendall & Gal 2017) and window-level event detection.

`SeismicMagnitudeForRegression(inputs (B, C, T), log_amplitude (B, C))` -> `MagnitudeEstimationOutput`.
Labels: `(B, 2)` = (magnitude, event label 0/1); the magnitude term (Gaussian NLL) uses event windows with a
finite magnitude only (NaN = unknown), the detection term (BCE) every window.
A `(B,)` labels tensor means "all windows are events with these magnitudes".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_seismic_magnitude import SeismicMagnitudeConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel


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


__all__ = [
    "MagnitudeEstimationOutput",
    "SeismicMagnitudePreTrainedModel",
    "SeismicMagnitudeModel",
    "SeismicMagnitudeForRegression",
]


class SeismicMagnitudeConvBlock(nn.Module):
    """Conv1d + BatchNorm + ReLU + MaxPool."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool_size: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = nn.BatchNorm1d(out_channels)
        self.pool = nn.MaxPool1d(pool_size, ceil_mode=True) if pool_size > 1 else nn.Identity()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(hidden))))


class SeismicMagnitudePreTrainedModel(GeoPreTrainedModel):
    config_class = SeismicMagnitudeConfig
    base_model_prefix = "seismic_magnitude"
    main_input_name = "inputs"
    _no_split_modules = ["SeismicMagnitudeConvBlock"]


class SeismicMagnitudeModel(SeismicMagnitudePreTrainedModel):
    """Body: `(B, C, T)` -> pooled features `(B, 4 * lstm_hidden_size)` (mean and max over time of the BiLSTM)."""

    def __init__(self, config: SeismicMagnitudeConfig):
        super().__init__(config)
        sizes = [config.in_channels, *config.conv_channels]
        self.blocks = nn.ModuleList(
            SeismicMagnitudeConvBlock(sizes[i], sizes[i + 1], config.kernel_size, config.pool_size)
            for i in range(len(sizes) - 1)
        )
        self.lstm = nn.LSTM(sizes[-1], config.lstm_hidden_size, batch_first=True, bidirectional=True)
        self.post_init()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 3 or inputs.shape[1] != self.config.in_channels:
            raise ValueError(f"inputs must be (batch, {self.config.in_channels}, samples), got {tuple(inputs.shape)}")
        hidden = inputs
        for block in self.blocks:
            hidden = block(hidden)
        sequence, _ = self.lstm(hidden.transpose(1, 2))
        return torch.cat([sequence.mean(dim=1), sequence.amax(dim=1)], dim=-1)


class SeismicMagnitudeForRegression(SeismicMagnitudePreTrainedModel):
    """Magnitude (with predicted log-variance) and event detection from one window."""

    def __init__(self, config: SeismicMagnitudeConfig):
        super().__init__(config)
        self.seismic_magnitude = SeismicMagnitudeModel(config)
        features = 4 * config.lstm_hidden_size + (config.in_channels if config.use_amplitude else 0)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, 3))
        self.post_init()

    def forward(
        self,
        inputs: torch.Tensor,
        log_amplitude: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> MagnitudeEstimationOutput | tuple:
        """inputs `(B, C, T)` normalised; log_amplitude `(B, C)` log10 peak per channel; labels `(B, 2)` or `(B,)`."""
        features = self.seismic_magnitude(inputs)
        if self.config.use_amplitude:
            if log_amplitude is None:
                raise ValueError(
                    "this model needs log_amplitude (B, C); use SeismicFeatureExtractor(return_amplitude=True)"
                )
            features = torch.cat([features, log_amplitude.to(features.dtype)], dim=-1)
        magnitude, log_variance, detection_logits = self.head(features).unbind(dim=-1)
        log_variance = log_variance.clamp(-10.0, 10.0)
        loss = None
        if labels is not None:
            labels = labels.to(magnitude.dtype)
            if labels.dim() == 1:
                labels = torch.stack([labels, torch.ones_like(labels)], dim=-1)
            target, is_event = labels[:, 0], labels[:, 1]
            # windows without a known magnitude (noise, or real records without a catalogue) train detection only
            weight = is_event * torch.isfinite(target).to(is_event.dtype)
            target = torch.where(weight > 0, target, magnitude.detach())
            nll = 0.5 * (log_variance + (magnitude - target) ** 2 * torch.exp(-log_variance))
            loss = (nll * weight).sum() / weight.sum().clamp(min=1.0)
            loss = loss + self.config.detection_loss_weight * F.binary_cross_entropy_with_logits(
                detection_logits, is_event
            )
        if return_dict is False:
            return tuple(v for v in (loss, magnitude, log_variance, detection_logits) if v is not None)
        return MagnitudeEstimationOutput(
            loss=loss, magnitude=magnitude, log_variance=log_variance, detection_logits=detection_logits
        )
