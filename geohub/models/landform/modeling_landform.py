"""Landform classifier: a VGG-style 2-D CNN over elevation patches normalised by `TerrainProcessor("patch")`.

Group normalisation (not batch normalisation) keeps every sample's output independent of the rest of its batch,
so a 2-process data-parallel run computes exactly what a 1-process run with the same global batch does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.utils import ModelOutput

from .configuration_landform import LandformConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel


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


__all__ = [
    "LandformClassificationOutput",
    "LandformCNNForImageClassification",
    "LandformPreTrainedModel",
    "LandformStage",
]


class LandformStage(nn.Module):
    """`layers` x (3x3 conv, group norm, ReLU), then 2x2 max pooling: `(B, C_in, H, W)` -> `(B, C_out, H/2, W/2)`."""

    def __init__(self, in_channels: int, out_channels: int, layers: int):
        super().__init__()
        blocks = []
        for index in range(layers):
            blocks += [
                nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                nn.GroupNorm(min(8, out_channels), out_channels),
                nn.ReLU(inplace=True),
            ]
        self.convolutions = nn.Sequential(*blocks)
        self.pool = nn.MaxPool2d(2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convolutions(hidden))


class LandformPreTrainedModel(GeoPreTrainedModel):
    config_class = LandformConfig
    base_model_prefix = "landform"
    main_input_name = "pixel_values"
    _no_split_modules = ["LandformStage"]


class LandformCNNForImageClassification(LandformPreTrainedModel):
    """Classifies `(B, 1, H, W)` normalised elevation patches into `config.id2label` landforms."""

    def __init__(self, config: LandformConfig):
        super().__init__(config)
        channels = [config.num_channels, *config.hidden_sizes]
        self.stages = nn.ModuleList(
            LandformStage(channels[i], channels[i + 1], config.layers_per_stage)
            for i in range(len(config.hidden_sizes))
        )
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_sizes[-1], config.num_labels)
        self.post_init()

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> LandformClassificationOutput:
        """Args:
            pixel_values: `(B, 1, H, W)` patches from `TerrainProcessor` (H, W divisible by 2**stages).
            labels: `(B,)` class ids; when given, the output holds the cross-entropy loss.

        Returns:
            `LandformClassificationOutput` with `logits` `(B, num_labels)` and pooled features `(B, F)`.
        """
        if pixel_values.ndim != 4 or pixel_values.shape[1] != self.config.num_channels:
            raise ValueError(
                f"pixel_values must be (B, {self.config.num_channels}, H, W), got {tuple(pixel_values.shape)}"
            )
        hidden = pixel_values
        for stage in self.stages:
            hidden = stage(hidden)
        pooled = hidden.mean(dim=(-2, -1))
        logits = self.classifier(self.dropout(pooled))
        loss = nn.functional.cross_entropy(logits, labels.long()) if labels is not None else None
        return LandformClassificationOutput(loss=loss, logits=logits, pooler_output=pooled)
