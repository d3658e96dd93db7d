"""geohub's seismic phase picker: a PhaseNet-style 1-D U-Net (Zhu & Beroza, 2019) with a detection head.

`SeismicPickerForPhasePicking(inputs (B, C, T)) -> PhasePickingOutput(logits (B, 3, T), detection_logits (B, T))`:
per-sample scores for (noise, P, S) and for "inside an event" (from P to the end of the S coda). Any `T` works:
each decoder level crops its up-sampled features to the matching skip connection.

Labels: `(B, 4, T)` float, rows 0-2 the target probabilities of (noise, P, S) (e.g. Gaussians around the
picks, see `processing_seismic_picker.make_picker_labels`), row 3 the 0/1 detection mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_seismic_picker import SeismicPickerConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel


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


__all__ = ["PhasePickingOutput", "SeismicPickerPreTrainedModel", "SeismicPickerModel", "SeismicPickerForPhasePicking"]


class SeismicPickerConvLayer(nn.Module):
    """Conv1d + BatchNorm + ReLU, 'same' padding for stride 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                              bias=False)  # fmt: skip
        self.norm = nn.BatchNorm1d(out_channels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(hidden)))


class SeismicPickerDownBlock(nn.Module):
    """One encoder level: a strided convolution (down-sampling by `stride`) then a convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.down = SeismicPickerConvLayer(in_channels, out_channels, kernel_size, stride=stride)
        self.conv = SeismicPickerConvLayer(out_channels, out_channels, kernel_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv(self.down(hidden))


class SeismicPickerUpBlock(nn.Module):
    """One decoder level: transposed-conv up-sampling, crop to the skip length, concatenate, convolve."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.up = nn.ConvTranspose1d(in_channels, out_channels, stride, stride=stride, bias=False)
        self.conv = SeismicPickerConvLayer(2 * out_channels, out_channels, kernel_size)

    def forward(self, hidden: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        hidden = self.up(hidden)[..., : skip.shape[-1]]
        return self.conv(torch.cat([hidden, skip], dim=1))


class SeismicPickerPreTrainedModel(GeoPreTrainedModel):
    config_class = SeismicPickerConfig
    base_model_prefix = "seismic_picker"
    main_input_name = "inputs"
    _no_split_modules = ["SeismicPickerDownBlock", "SeismicPickerUpBlock"]


class SeismicPickerModel(SeismicPickerPreTrainedModel):
    """The U-Net body: `(B, C, T)` normalised waveforms -> `(B, hidden_sizes[0], T)` features and bottleneck."""

    def __init__(self, config: SeismicPickerConfig):
        super().__init__(config)
        sizes, k, s = config.hidden_sizes, config.kernel_size, config.stride
        self.stem = SeismicPickerConvLayer(config.in_channels, sizes[0], k)
        self.down_blocks = nn.ModuleList(
            SeismicPickerDownBlock(sizes[i], sizes[i + 1], k, s) for i in range(len(sizes) - 1)
        )
        self.up_blocks = nn.ModuleList(
            SeismicPickerUpBlock(sizes[i + 1], sizes[i], k, s) for i in reversed(range(len(sizes) - 1))
        )
        self.post_init()

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (features `(B, hidden_sizes[0], T)`, bottleneck `(B, hidden_sizes[-1], T / stride^L)`)."""
        if inputs.dim() != 3 or inputs.shape[1] != self.config.in_channels:
            raise ValueError(f"inputs must be (batch, {self.config.in_channels}, samples), got {tuple(inputs.shape)}")
        hidden = self.stem(inputs)
        skips = []
        for block in self.down_blocks:
            skips.append(hidden)
            hidden = block(hidden)
        bottleneck = hidden
        for block in self.up_blocks:
            hidden = block(hidden, skips.pop())
        return hidden, bottleneck


class SeismicPickerForPhasePicking(SeismicPickerPreTrainedModel):
    """U-Net with a per-sample phase head (noise, P, S) and a per-sample event-detection head."""

    def __init__(self, config: SeismicPickerConfig):
        super().__init__(config)
        self.seismic_picker = SeismicPickerModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.phase_head = nn.Conv1d(config.hidden_sizes[0], len(config.id2label), 1)
        self.detection_head = nn.Conv1d(config.hidden_sizes[0], 1, 1)
        self.post_init()

    def forward(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> PhasePickingOutput | tuple:
        """inputs `(B, C, T)` normalised waveforms; labels `(B, 4, T)` (see module docstring)."""
        features, bottleneck = self.seismic_picker(inputs)
        features = self.dropout(features)
        logits = self.phase_head(features)
        detection_logits = self.detection_head(features).squeeze(1)
        loss = None
        if labels is not None:
            labels = labels.to(logits.dtype)
            if labels.shape != (logits.shape[0], logits.shape[1] + 1, logits.shape[2]):
                raise ValueError(f"labels must be (batch, {logits.shape[1] + 1}, samples), got {tuple(labels.shape)}")
            phase_loss = -(labels[:, :-1] * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
            detection_loss = F.binary_cross_entropy_with_logits(detection_logits, labels[:, -1])
            loss = phase_loss + self.config.detection_loss_weight * detection_loss
        last_hidden_state = bottleneck if output_hidden_states else None
        if return_dict is False:
            return tuple(v for v in (loss, logits, detection_logits, last_hidden_state) if v is not None)
        return PhasePickingOutput(
            loss=loss, logits=logits, detection_logits=detection_logits, last_hidden_state=last_hidden_state
        )
