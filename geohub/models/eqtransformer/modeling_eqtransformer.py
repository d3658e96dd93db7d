"""EQTransformer (Mousavi et al., 2020) in PyTorch, layer for layer as the published Keras models.

`EqTransformerForPhasePicking(inputs (B, 3, T)) -> EqTransformerOutput`: per-sample logits `(B, 3, T)` for
(detection, P, S) and their sigmoid probabilities `(B, T)` each. The layout follows the Keras graph of
`EqT_model.h5` / `EqT_model2.h5` exactly:

- encoder: 7 x (Conv1D 'same' + ReLU, MaxPool 2 'same'), 7 pre-activation residual blocks
  (BN, ReLU, spatial dropout, Conv1D, BN, ReLU, spatial dropout, Conv1D, add), `num_lstm_blocks` x (BiLSTM,
  1x1 Conv1D, BN), 2 transformer blocks (additive self-attention + add + LayerNorm + feed-forward + add + LayerNorm);
- three decoders (detection directly; P and S after an LSTM and a +-1-step additive attention): 7 x (up-sample 2,
  Conv1D + ReLU), one sample cropped at each end after the 4th up-sampling, a sigmoid Conv1D output.

Keras details kept: 'same' padding of even kernels pads on the right only, max-pooling of an odd length pads with
-inf (ceil mode), BatchNorm eps 1e-3, attention eps 1e-7, LayerNorm eps 1e-14, LSTM gates Keras 2 `hard_sigmoid`
(`clip(0.2 x + 0.5, 0, 1)`) when `config.lstm_gate == "hard_sigmoid"`.

Labels: `(B, 3, T)` float targets in [0, 1] for (detection, P, S); the loss is the `config.loss_weights`-weighted
sum of per-output binary cross-entropies.

CPU speed (same outputs up to float rounding): the long convolutions run channels-last `(B, C, 1, T)` (oneDNN),
max-pooling as the maximum of even and odd samples, the decoders' up-sampling in polyphase form with ReLU fused into
the convolution at inference; under bfloat16 autocast the LSTMs and attention layers stay float32 (their
elementwise tanh/exp and tiny matrix products are slower in bfloat16 on CPUs), the attention scores are computed a
few windows at a time (cache-sized blocks).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_eqtransformer import EqTransformerConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = [
    "EqTransformerOutput",
    "EqTransformerPreTrainedModel",
    "EqTransformerModel",
    "EqTransformerForPhasePicking",
]

_BN_EPS = 1e-3
_ATTENTION_EPS = 1e-7
_LAYER_NORM_EPS = 1e-14
_ATTENTION_BLOCK_ELEMENTS = 1 << 18  # (b, T, T, U) elements per step of the attention scores (about 1 MB in float32)


@dataclass
class EqTransformerOutput(ModelOutput):
    """Output of `EqTransformerForPhasePicking`.

    Args:
        loss: scalar weighted BCE of (detection, P, S), when `labels` are given.
        logits: `(B, 3, T)` pre-sigmoid scores for (detection, P, S).
        detection_probabilities: `(B, T)` probability that sample t lies inside an earthquake signal.
        p_probabilities: `(B, T)` P-arrival probability per sample.
        s_probabilities: `(B, T)` S-arrival probability per sample.
        last_hidden_state: `(B, T', lstm_units)` encoder output (T' = T / 128), with `output_hidden_states=True`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    detection_probabilities: torch.Tensor | None = None
    p_probabilities: torch.Tensor | None = None
    s_probabilities: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None


class KerasSameConv1d(nn.Conv1d):
    """Conv1d with Keras' 'same' padding: `(k - 1) // 2` on the left, the rest on the right."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, padding=0)
        self.pad_left = (kernel_size - 1) // 2
        self.pad_right = kernel_size - 1 - self.pad_left

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(B, C, T)` -> `(B, C', T)`; a channels-last `(B, C, 1, T)` input (the fast inference layout, see
        `_to_channels_last`) gives a channels-last `(B, C', 1, T)`."""
        if hidden.dim() == 4:
            return _channels_last_conv(hidden, self)
        if self.pad_left == self.pad_right:
            return F.conv1d(hidden, self.weight, self.bias, padding=self.pad_left)
        return super().forward(F.pad(hidden, (self.pad_left, self.pad_right)))


def _autocast_off(hidden: torch.Tensor):
    """(context, input): inside an autocast region, a context with autocast off and `hidden` in float32; else a
    no-op context and `hidden` as it is. The LSTM and attention layers run in float32 this way: their work is
    elementwise (tanh, exp, gates) and tiny matrix products, which bfloat16 makes slower on CPUs (no native
    bfloat16 elementwise math), and float32 keeps their outputs closer to the published model's."""
    device = hidden.device.type
    if not torch.is_autocast_enabled(device):
        return contextlib.nullcontext(), hidden
    return torch.autocast(device, enabled=False), hidden.float()


def _tracing() -> bool:
    """Whether the model is being traced, scripted, compiled or exported (ONNX): the CPU fast paths that depend on the
    batch size (attention in blocks) or on oneDNN-only operators (fused convolution + ReLU) step aside then."""
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()
                or torch.onnx.is_in_onnx_export())  # fmt: skip


def _hard_sigmoid_scan(projected: torch.Tensor, recurrent: torch.Tensor) -> torch.Tensor:
    """LSTM recurrence with Keras 2 hard-sigmoid gates for D directions at once.

    projected `(T, D, B, 4H)` input projections and recurrent `(D, H, 4H)` transposed recurrent weights, both in
    the gate order i, f, o, g with the hard sigmoid's affine part folded in (`_scan_weights`: the i, f, o columns
    scaled by 0.2, 0.5 added to their biases), so that a gate is one clamp to [0, 1] -> hidden states
    `(T, D, B, H)`. Six operations a step (the step count makes this loop the LSTM's cost).
    """
    hidden_size = recurrent.shape[1]
    h = torch.zeros(projected.shape[1], projected.shape[2], hidden_size, dtype=projected.dtype,
                    device=projected.device)  # fmt: skip
    c = torch.zeros_like(h)
    outputs = []
    for step in range(projected.shape[0]):
        gates = torch.baddbmm(projected[step], h, recurrent)
        sigmoid = torch.clamp(gates[:, :, : 3 * hidden_size], 0.0, 1.0)
        i, f, o = sigmoid.chunk(3, 2)
        c = torch.addcmul(f * c, i, torch.tanh(gates[:, :, 3 * hidden_size :]))
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs)


def _scan_weights(weight_ih, weight_hh, bias):
    """torch LSTM parameters (gate order i, f, g, o) -> (input weight, recurrent weight, bias) in the order i, f,
    o, g with the hard sigmoid `clip(0.2 x + 0.5, 0, 1)` folded into the i, f, o rows (see `_hard_sigmoid_scan`)."""
    i, f, g, o = weight_ih.chunk(4, 0)
    ri, rf, rg, ro = weight_hh.chunk(4, 0)
    bi, bf, bg, bo = bias.chunk(4, 0)
    return (torch.cat([0.2 * i, 0.2 * f, 0.2 * o, g]), torch.cat([0.2 * ri, 0.2 * rf, 0.2 * ro, rg]),
            torch.cat([0.2 * bi + 0.5, 0.2 * bf + 0.5, 0.2 * bo + 0.5, bg]))  # fmt: skip


_SCRIPTED_SCAN = None


def hard_sigmoid_scan(projected: torch.Tensor, recurrent: torch.Tensor) -> torch.Tensor:
    """`_hard_sigmoid_scan`, TorchScript-compiled on first use (about 1.5x faster on CPU); plain Python otherwise."""
    global _SCRIPTED_SCAN
    if _SCRIPTED_SCAN is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _SCRIPTED_SCAN = torch.jit.script(_hard_sigmoid_scan)
        except Exception:  # TorchScript unavailable (no sources, removed): the Python loop is exact too
            _SCRIPTED_SCAN = _hard_sigmoid_scan
    return _SCRIPTED_SCAN(projected, recurrent)


class EqTransformerLSTM(nn.Module):
    """(Bi)LSTM over `(B, T, F)` with torch's parameter layout; Keras `hard_sigmoid` or `sigmoid` gates.

    The parameters live in an `nn.LSTM` (so both gate variants share one state-dict layout); with sigmoid gates
    it runs `nn.LSTM` itself, with hard-sigmoid gates the input projections of all steps are one matmul and the
    recurrence is `hard_sigmoid_scan`. Keras' input dropout is applied as plain dropout on the inputs in training.
    """

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool, gate: str, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.gate = gate
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        context, hidden = _autocast_off(hidden)
        with context:
            return self._forward(self.dropout(hidden))

    def _forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.gate == "sigmoid":
            return self.lstm(hidden)[0]
        lstm = self.lstm
        suffixes = ("", "_reverse") if lstm.bidirectional else ("",)
        projected, recurrent = [], []
        for d, suffix in enumerate(suffixes):
            bias = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
            weight_ih, weight_hh, bias = _scan_weights(getattr(lstm, f"weight_ih_l0{suffix}"),
                                                       getattr(lstm, f"weight_hh_l0{suffix}"), bias)  # fmt: skip
            inputs = hidden.flip(1) if d == 1 else hidden
            projected.append(F.linear(inputs, weight_ih, bias))
            recurrent.append(weight_hh.t())
        # (D, B, T, 4H) -> (T, D, B, 4H)
        states = hard_sigmoid_scan(torch.stack(projected).permute(2, 0, 1, 3).contiguous(), torch.stack(recurrent))
        outputs = [states[:, 0].transpose(0, 1)]
        if len(suffixes) == 2:
            outputs.append(states[:, 1].transpose(0, 1).flip(1))
        return torch.cat(outputs, dim=-1)


class EqTransformerAttention(nn.Module):
    """Additive self-attention of keras-self-attention (`SeqSelfAttention`) as used by EQTransformer.

    `e[t, t'] = Wa . tanh(x_t Wt + x_t' Wx + bh) + ba`, exponentiated after subtracting the row maximum, masked to
    `|t - t'| <= width // 2` when `width` is set, normalised by its sum + 1e-7; returns `(a @ x, a)`.
    """

    def __init__(self, dim: int, units: int, width: int | None = None):
        super().__init__()
        self.query = nn.Linear(dim, units, bias=False)  # Keras Wt
        self.key = nn.Linear(dim, units, bias=False)  # Keras Wx
        self.additive_bias = nn.Parameter(torch.zeros(units))  # Keras bh
        self.score = nn.Linear(units, 1)  # Keras Wa, ba
        self.width = width

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """hidden `(B, T, D)` -> (attended `(B, T, D)`, attention `(B, T, T)`); float32 under autocast."""
        context, hidden = _autocast_off(hidden)
        with context:
            return self._attend(hidden)

    def _attend(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length = hidden.shape[0], hidden.shape[1]
        # (B, T, 1, U) + (B, 1, T, U): the bias folded into the query, tanh in place; a few windows at a time, so that
        # each (b, T, T, U) block stays in cache between the add, the tanh and the product (2-3x faster on CPU)
        q = torch.addmm(self.additive_bias, hidden.flatten(0, 1), self.query.weight.t()).view(batch, length, 1, -1)
        k = self.key(hidden).unsqueeze(1)
        rows = batch if _tracing() else max(1, _ATTENTION_BLOCK_ELEMENTS // (length * length * q.shape[-1]))
        blocks = [torch.matmul(torch.tanh_(q[b : b + rows] + k[b : b + rows]), self.score.weight.t())
                  for b in range(0, batch, rows)]  # fmt: skip
        scores = torch.cat(blocks).squeeze(-1) + self.score.bias
        scores = torch.exp_(scores - scores.amax(dim=-1, keepdim=True))
        if self.width is not None:
            steps = torch.arange(length, device=hidden.device)
            lower = (steps - self.width // 2).unsqueeze(-1)
            band = (lower <= steps.unsqueeze(0)) & (steps.unsqueeze(0) < lower + self.width)
            scores = scores * band.to(scores.dtype)
        attention = scores / (scores.sum(dim=-1, keepdim=True) + _ATTENTION_EPS)
        return torch.bmm(attention, hidden), attention


class EqTransformerTransformerBlock(nn.Module):
    """Attention, add, LayerNorm, feed-forward (ReLU), add, LayerNorm on `(B, T, D)`."""

    def __init__(self, dim: int, attention_units: int, feed_forward_units: int, dropout: float):
        super().__init__()
        self.attention = EqTransformerAttention(dim, attention_units)
        self.norm1 = nn.LayerNorm(dim, eps=_LAYER_NORM_EPS)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, feed_forward_units), nn.ReLU(), nn.Dropout(dropout), nn.Linear(feed_forward_units, dim)
        )
        self.norm2 = nn.LayerNorm(dim, eps=_LAYER_NORM_EPS)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.norm1(hidden + self.attention(hidden)[0])
        return self.norm2(hidden + self.feed_forward(hidden))


class EqTransformerResBlock(nn.Module):
    """Pre-activation residual block on `(B, C, T)`: (BN, ReLU, spatial dropout, Conv1D) x 2, plus the input."""

    def __init__(self, channels: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm1 = nn.BatchNorm1d(channels, eps=_BN_EPS)
        self.conv1 = KerasSameConv1d(channels, channels, kernel_size)
        self.norm2 = nn.BatchNorm1d(channels, eps=_BN_EPS)
        self.conv2 = KerasSameConv1d(channels, channels, kernel_size)
        self.dropout = nn.Dropout1d(dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.dropout(F.relu(self.norm1(hidden))))
        out = self.conv2(self.dropout(F.relu(self.norm2(out))))
        return hidden + out


class EqTransformerBiLSTMBlock(nn.Module):
    """BiLSTM, 1x1 convolution, BatchNorm: `(B, C, T)` -> `(B, units, T)`."""

    def __init__(self, in_channels: int, units: int, gate: str, dropout: float):
        super().__init__()
        self.lstm = EqTransformerLSTM(in_channels, units, bidirectional=True, gate=gate, dropout=dropout)
        self.conv = nn.Conv1d(2 * units, units, 1)
        self.norm = nn.BatchNorm1d(units, eps=_BN_EPS)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.lstm(hidden.transpose(1, 2)).transpose(1, 2)))


_POLYPHASE_CACHE: dict[tuple[int, int], tuple[torch.Tensor, int, int]] = {}


def _polyphase_matrix(kernel_size: int, pad_left: int) -> tuple[torch.Tensor, int, int]:
    """(S `(2, taps, k)`, first offset, last offset): phase r of "up-sample x2, then convolve" taps x[j + d]."""
    key = (kernel_size, pad_left)
    if key not in _POLYPHASE_CACHE:
        offsets = [[(r + m - pad_left) // 2 for m in range(kernel_size)] for r in (0, 1)]
        low, high = min(min(o) for o in offsets), max(max(o) for o in offsets)
        with torch.inference_mode(False):  # cached: a normal tensor even when first built under inference_mode
            matrix = torch.zeros(2, high - low + 1, kernel_size)
            for r, row in enumerate(offsets):
                for m, d in enumerate(row):
                    matrix[r, d - low, m] = 1.0
        _POLYPHASE_CACHE[key] = (matrix, low, high)
    return _POLYPHASE_CACHE[key]


def upsample_conv1d(hidden: torch.Tensor, conv: KerasSameConv1d) -> torch.Tensor:
    """`conv(hidden.repeat_interleave(2, -1))` without building the up-sampled signal (polyphase form).

    `hidden` `(B, C, T)` -> `(B, C', 2T)`. Each output phase r in {0, 1} is a convolution of `hidden` itself with
    the taps of `conv` that fall on the same input sample summed, so both phases are one convolution with twice the
    output channels (about half the multiply-adds); exact up to float rounding, including Keras' zero padding.
    """
    return _channels_last_upsample_conv(_to_channels_last(hidden), conv).squeeze(2)


def _to_channels_last(hidden: torch.Tensor) -> torch.Tensor:
    """`(B, C, T)` -> `(B, C, 1, T)` in channels-last memory (samples outer, channels inner)."""
    return hidden.unsqueeze(2).contiguous(memory_format=torch.channels_last)


_FUSED_CONV_RELU = None


def _fused_conv_relu():
    """oneDNN's convolution with a fused ReLU (`torch.ops.mkldnn._convolution_pointwise`, what `torch.compile`
    uses on CPU), or False where this torch lacks it or it disagrees with `relu(conv2d)` on a probe."""
    global _FUSED_CONV_RELU
    if _FUSED_CONV_RELU is None:
        _FUSED_CONV_RELU = False
        try:
            op = torch.ops.mkldnn._convolution_pointwise
            with torch.inference_mode(False), torch.no_grad(), torch.autocast("cpu", enabled=False):
                probe = torch.linspace(-1, 1, 24).view(1, 2, 1, 12).contiguous(memory_format=torch.channels_last)
                weight = torch.linspace(-1, 1, 18).view(3, 2, 1, 3).contiguous(memory_format=torch.channels_last)
                bias = torch.tensor([0.1, -0.2, 0.3])
                fused = op(probe, weight, bias, [0, 1], [1, 1], [1, 1], 1, "relu", [], "")
                if torch.allclose(fused, F.relu(F.conv2d(probe, weight, bias, padding=(0, 1))), atol=1e-6):
                    _FUSED_CONV_RELU = op
        except Exception:  # no oneDNN in this torch, or the op changed: the unfused path below is exact too
            pass
    return _FUSED_CONV_RELU


def _conv2d(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: int, relu: bool):
    """`conv2d(hidden, weight, bias, padding=(0, padding))` on channels-last tensors, then ReLU when `relu`: fused
    into the convolution on CPU without autograd (about 2.5x faster than a separate ReLU pass over the output)."""
    fused = relu and hidden.device.type == "cpu" and not torch.is_grad_enabled() and not _tracing()
    fused = fused and _fused_conv_relu()
    if fused:
        if torch.is_autocast_enabled("cpu"):  # the op has no autocast rule: cast as autocast casts convolutions
            dtype = torch.get_autocast_dtype("cpu")
            hidden, weight, bias = hidden.to(dtype), weight.to(dtype), bias.to(dtype)
        if hidden.dtype == weight.dtype == bias.dtype:
            return fused(hidden, weight, bias, [0, padding], [1, 1], [1, 1], 1, "relu", [], "")
    out = F.conv2d(hidden, weight, bias, padding=(0, padding))
    return out.relu_() if relu else out


def _channels_last_upsample_conv(hidden: torch.Tensor, conv: KerasSameConv1d, relu: bool = False) -> torch.Tensor:
    """Polyphase up-sample + convolution (+ ReLU when `relu`) on channels-last `(B, C, 1, T)` -> `(B, C', 1, 2T)`
    channels-last.

    In channels-last memory the two phases' outputs `(B, T, 2, C')` already sit in the interleaved order, so the
    interleaving is a view, not a copy.
    """
    matrix, low, high = _polyphase_matrix(conv.kernel_size[0], conv.pad_left)
    weight = torch.einsum("rtm,oim->roit", matrix.to(conv.weight), conv.weight).flatten(0, 1).unsqueeze(2)
    weight = weight.contiguous(memory_format=torch.channels_last)
    bias = torch.cat([conv.bias, conv.bias])
    if -low != high:
        hidden = F.pad(hidden, (-low, high))
        low = high = 0
    out = _conv2d(hidden, weight, bias, high, relu)  # (B, 2C', 1, T), memory (B, T, 2, C')
    batch, channels, length = out.shape[0], conv.out_channels, out.shape[-1]
    out = out.permute(0, 2, 3, 1).reshape(batch, 1, 2 * length, channels)
    return out.permute(0, 3, 1, 2)


def _channels_last_max_pool(hidden: torch.Tensor) -> torch.Tensor:
    """Keras' MaxPooling1D(2, padding='same') on channels-last `(B, C, 1, T)` -> `(B, C, 1, ceil(T / 2))`: the
    maximum of the even and odd samples (several times faster than `max_pool2d` in this layout); an odd last
    sample is kept as it is (Keras pads with -inf)."""
    samples = hidden.permute(0, 2, 3, 1)  # (B, 1, T, C), contiguous
    length = samples.shape[2]
    pooled = torch.maximum(samples[:, :, 0 : length - 1 : 2], samples[:, :, 1::2])
    if length % 2:
        pooled = torch.cat([pooled, samples[:, :, -1:]], dim=2)
    return pooled.permute(0, 3, 1, 2)


def _channels_last_conv(hidden: torch.Tensor, conv: KerasSameConv1d, relu: bool = False) -> torch.Tensor:
    """`conv` (+ ReLU when `relu`) on channels-last `(B, C, 1, T)` -> channels-last `(B, C', 1, T)`."""
    weight = conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    if conv.pad_left != conv.pad_right:
        hidden = F.pad(hidden, (conv.pad_left, conv.pad_right))
    return _conv2d(hidden, weight, conv.bias, conv.pad_left if conv.pad_left == conv.pad_right else 0, relu)


def _channels_last_single_output(hidden: torch.Tensor, conv: KerasSameConv1d) -> torch.Tensor:
    """One-output-channel `conv` on channels-last `(B, C, 1, T)` -> `(B, T)` (oneDNN's channels-last convolution,
    several times faster than the same convolution on `(B, C, T)`). Same zero padding."""
    return _channels_last_conv(hidden, conv).flatten(1)


def single_output_conv1d(hidden: torch.Tensor, conv: KerasSameConv1d) -> torch.Tensor:
    """`conv(hidden).squeeze(1)` for a one-output-channel convolution, `(B, C, T)` -> `(B, T)` (see above)."""
    return _channels_last_single_output(_to_channels_last(hidden), conv)


class EqTransformerDecoder(nn.Module):
    """Up-sampling decoder `(B, C, T')` -> `(B, T)` logits (one output, pre-sigmoid).

    Runs in channels-last memory (samples outer, channels inner), where oneDNN's convolutions of these few-channel,
    long signals are several times faster and the polyphase interleaving is free.
    """

    def __init__(self, config: EqTransformerConfig):
        super().__init__()
        channels = [config.lstm_units, *config.decoder_filters]
        self.convs = nn.ModuleList(
            KerasSameConv1d(channels[i], channels[i + 1], k) for i, k in enumerate(config.decoder_kernel_sizes)
        )
        self.crop_level = config.decoder_crop_level
        self.output = KerasSameConv1d(channels[-1], 1, config.output_kernel_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = _to_channels_last(hidden)
        for level, conv in enumerate(self.convs):
            if level == self.crop_level:  # up-sample, drop one sample at each end, convolve
                samples = hidden.permute(0, 2, 3, 1).repeat_interleave(2, dim=2)[:, :, 1:-1]  # (B, 1, 2T - 2, C)
                hidden = _channels_last_conv(samples.permute(0, 3, 1, 2), conv, relu=True)
            else:
                hidden = _channels_last_upsample_conv(hidden, conv, relu=True)
        return _channels_last_single_output(hidden, self.output)


class EqTransformerPreTrainedModel(GeoPreTrainedModel):
    config_class = EqTransformerConfig
    base_model_prefix = "eqtransformer"
    main_input_name = "inputs"
    _no_split_modules = ["EqTransformerResBlock", "EqTransformerBiLSTMBlock", "EqTransformerTransformerBlock"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, EqTransformerAttention):
            nn.init.zeros_(module.additive_bias)


class EqTransformerModel(EqTransformerPreTrainedModel):
    """The encoder: `(B, 3, T)` normalised waveforms -> `(B, T / 128, lstm_units)` features."""

    def __init__(self, config: EqTransformerConfig):
        super().__init__(config)
        channels = [config.in_channels, *config.encoder_filters]
        self.convs = nn.ModuleList(
            KerasSameConv1d(channels[i], channels[i + 1], k) for i, k in enumerate(config.encoder_kernel_sizes)
        )
        width = config.encoder_filters[-1]
        self.res_blocks = nn.ModuleList(
            EqTransformerResBlock(width, k, config.dropout) for k in config.res_kernel_sizes
        )
        units = config.lstm_units
        self.lstm_blocks = nn.ModuleList(
            EqTransformerBiLSTMBlock(width if i == 0 else units, units, config.lstm_gate, config.dropout)
            for i in range(config.num_lstm_blocks)
        )
        self.transformers = nn.ModuleList(
            EqTransformerTransformerBlock(units, config.attention_units, config.feed_forward_units, config.dropout)
            for _ in range(2)
        )
        self.post_init()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 3 or inputs.shape[1] != self.config.in_channels:
            raise ValueError(f"inputs must be (batch, {self.config.in_channels}, samples), got {tuple(inputs.shape)}")
        # channels-last (B, C, 1, T) through the long convolutions (oneDNN's fast layout for few channels)
        hidden = _to_channels_last(inputs)
        for conv in self.convs:  # ReLU after the pooling (they commute), on half the samples
            hidden = _channels_last_max_pool(conv(hidden)).relu_()
        hidden = hidden.squeeze(2).contiguous()
        for block in self.res_blocks:
            hidden = block(hidden)
        for block in self.lstm_blocks:
            hidden = block(hidden)
        hidden = hidden.transpose(1, 2)
        for block in self.transformers:
            hidden = block(hidden)
        return hidden


class EqTransformerPhaseBranch(nn.Module):
    """The P or S branch before its decoder: LSTM then local (+-1 step) additive attention, `(B, T', D)`."""

    def __init__(self, config: EqTransformerConfig):
        super().__init__()
        units = config.lstm_units
        self.lstm = EqTransformerLSTM(units, units, bidirectional=False, gate=config.lstm_gate, dropout=config.dropout)
        self.attention = EqTransformerAttention(units, config.attention_units, width=config.local_attention_width)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.attention(self.lstm(hidden))[0]


class EqTransformerForPhasePicking(EqTransformerPreTrainedModel):
    """EQTransformer with its three heads: event detection, P picking, S picking (see the module docstring)."""

    def __init__(self, config: EqTransformerConfig):
        super().__init__(config)
        self.eqtransformer = EqTransformerModel(config)
        self.p_branch = EqTransformerPhaseBranch(config)
        self.s_branch = EqTransformerPhaseBranch(config)
        self.detection_decoder = EqTransformerDecoder(config)
        self.p_decoder = EqTransformerDecoder(config)
        self.s_decoder = EqTransformerDecoder(config)
        self.post_init()

    def forward(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> EqTransformerOutput | tuple:
        """inputs `(B, 3, T)` (per-window, per-channel standardised, see the feature extractor); labels `(B, 3, T)`."""
        encoded = self.eqtransformer(inputs)
        logits = torch.stack(
            [
                self.detection_decoder(encoded.transpose(1, 2)),
                self.p_decoder(self.p_branch(encoded).transpose(1, 2)),
                self.s_decoder(self.s_branch(encoded).transpose(1, 2)),
            ],
            dim=1,
        )
        if logits.shape[-1] != inputs.shape[-1]:
            raise ValueError(
                f"inputs of {inputs.shape[-1]} samples give {logits.shape[-1]} output samples; "
                f"use windows of {self.config.window_length} samples"
            )
        loss = None
        if labels is not None:
            loss = self.loss(logits, labels)
        probabilities = torch.sigmoid(logits)
        last_hidden_state = encoded if output_hidden_states else None
        if return_dict is False:
            return tuple(v for v in (loss, logits, last_hidden_state) if v is not None)
        return EqTransformerOutput(
            loss=loss,
            logits=logits,
            detection_probabilities=probabilities[:, 0],
            p_probabilities=probabilities[:, 1],
            s_probabilities=probabilities[:, 2],
            last_hidden_state=last_hidden_state,
        )

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Weighted BCE: `logits`, `labels` `(B, 3, T)` (detection, P, S) -> scalar."""
        if labels.shape != logits.shape:
            raise ValueError(f"labels must be (batch, 3, samples) = {tuple(logits.shape)}, got {tuple(labels.shape)}")
        per_output = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
        weights = torch.tensor(self.config.loss_weights, dtype=logits.dtype, device=logits.device)
        return (per_output.mean(dim=(0, 2)) * weights).sum()
