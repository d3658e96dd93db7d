"""Generalized Phase Detection (Ross et al., 2018) in PyTorch, layer for layer as the published Keras model.

`GPDForWindowClassification(inputs (B, 3, 400)) -> GPDOutput(logits (B, 3), probabilities (B, 3))`, classes in
the order (P, S, Noise): 4 x (Conv1D 'same' (odd kernels), BatchNorm, ReLU, MaxPool 2 'valid'), a channels-last
flatten (`(B, C, T)` is permuted to `(B, T, C)` first, as Keras flattens), 2 x (Dense, BatchNorm, ReLU), Dense,
softmax. BatchNorm eps 1e-3 (Keras).

Labels: `(B,)` class indices (0 P, 1 S, 2 Noise) or `(B, 3)` target probabilities; the loss is cross-entropy.

Inference (eval mode, gradients off, no labels) runs `GPDInference`: every BatchNorm folded into the convolution or
dense layer before it, traced and frozen with TorchScript (no per-layer Python), in `config.inference_dtype` or, for
the calls inside `with inference_dtype("bfloat16"):`, in that dtype (a context variable: per thread, the config is
not touched, so concurrent calls at different precisions do not interfere). One cached path per dtype, rebuilt
whenever a parameter changes. With float32 the logits equal the layer-by-layer path up to float rounding.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_gpd import GPDConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = ["GPDOutput", "GPDPreTrainedModel", "GPDForWindowClassification", "GPDInference", "inference_dtype"]

_BN_EPS = 1e-3


@dataclass
class GPDOutput(ModelOutput):
    """Output of `GPDForWindowClassification`.

    Args:
        loss: scalar cross-entropy, when `labels` are given.
        logits: `(B, 3)` pre-softmax scores for (P, S, Noise).
        probabilities: `(B, 3)` softmax probabilities for (P, S, Noise).
        pooler_output: `(B, hidden_sizes[-1])` features before the classifier, with `output_hidden_states=True`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    probabilities: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None


class GPDConvBlock(nn.Module):
    """Conv1d ('same'), BatchNorm, ReLU, max-pool 2, run on channels-last `(B, C, 1, T)` tensors.

    Channels-last memory (samples outer, channels inner) makes oneDNN's convolutions 1.3-4x faster here, and it is
    the order Keras flattens in. The parameters are ordinary `Conv1d` / `BatchNorm1d` ones.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding="same")
        self.norm = nn.BatchNorm1d(out_channels, eps=_BN_EPS)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(B, C, 1, T)` channels-last -> `(B, C', 1, T // 2)` channels-last."""
        kernel_size = self.conv.kernel_size[0]
        left = (kernel_size - 1) // 2
        if kernel_size - 1 - left != left:  # even kernel: 'same' pads one more on the right
            hidden = F.pad(hidden, (left, kernel_size - 1 - left))
            left = 0
        weight = self.conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        hidden = F.conv2d(hidden, weight, self.conv.bias, padding=(0, left))
        norm = self.norm
        hidden = F.batch_norm(hidden, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                              norm.training, norm.momentum, norm.eps)  # fmt: skip
        return F.max_pool2d(F.relu(hidden), (1, 2))


class GPDDenseBlock(nn.Module):
    """(Dropout), Linear, BatchNorm, ReLU on `(B, F)`."""

    def __init__(self, in_features: int, out_features: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.BatchNorm1d(out_features, eps=_BN_EPS)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.linear(self.dropout(hidden))))


def _folded(weight: torch.Tensor, bias: torch.Tensor, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """`weight` `(out, ...)` and `bias` `(out,)` of a layer followed by eval-mode `norm`, as one affine layer."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    folded_weight = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return folded_weight.detach().clone(), ((bias - norm.running_mean) * scale + norm.bias).detach().clone()


class GPDInference(nn.Module):
    """Eval-time GPD: `(B, 3, T)` -> `(B, 3)` float32 logits, BatchNorm folded into the conv / dense weights, in
    `dtype` (float32, or bfloat16 computed in bfloat16 and returned as float32). Weights are copies: rebuild after
    training."""

    def __init__(self, model: GPDForWindowClassification, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.dtype = dtype
        self.paddings = []
        for i, block in enumerate(model.convs):
            kernel_size = block.conv.kernel_size[0]
            left = (kernel_size - 1) // 2
            self.paddings.append((left, kernel_size - 1 - left))
            weight, bias = _folded(block.conv.weight, block.conv.bias, block.norm)
            weight = weight.unsqueeze(2).to(dtype).contiguous(memory_format=torch.channels_last)
            self.register_buffer(f"conv_weight_{i}", weight)
            self.register_buffer(f"conv_bias_{i}", bias.to(dtype))
        for i, block in enumerate(model.dense):
            weight, bias = _folded(block.linear.weight, block.linear.bias, block.norm)
            self.register_buffer(f"dense_weight_{i}", weight.to(dtype))
            self.register_buffer(f"dense_bias_{i}", bias.to(dtype))
        self.num_dense = len(model.dense)
        self.register_buffer("classifier_weight", model.classifier.weight.detach().clone().to(dtype))
        self.register_buffer("classifier_bias", model.classifier.bias.detach().clone().to(dtype))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs.to(self.dtype).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        for i, (left, right) in enumerate(self.paddings):
            if left != right:
                hidden, left = F.pad(hidden, (left, right)), 0
            weight, bias = getattr(self, f"conv_weight_{i}"), getattr(self, f"conv_bias_{i}")
            hidden = F.max_pool2d(F.relu(F.conv2d(hidden, weight, bias, padding=(0, left))), (1, 2))
        hidden = hidden.permute(0, 2, 3, 1).flatten(1)
        for i in range(self.num_dense):
            hidden = F.relu(F.linear(hidden, getattr(self, f"dense_weight_{i}"), getattr(self, f"dense_bias_{i}")))
        return F.linear(hidden, self.classifier_weight, self.classifier_bias).float()


# model -> {dtype: (state key, tensors, runner)}: one eval path per dtype, so calls at different precisions (threads)
# never rebuild each other's; the lock makes check-and-build one step
_INFERENCE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
_INFERENCE_LOCK = threading.Lock()
_DTYPE: contextvars.ContextVar[str | None] = contextvars.ContextVar("geohub_gpd_inference_dtype", default=None)


@contextlib.contextmanager
def inference_dtype(dtype: str):
    """Run GPD's eval path in `dtype` ("float32" or "bfloat16") for the calls inside this context, in this thread
    (and its context) only: `config.inference_dtype` is not changed, so concurrent calls at other dtypes are not
    affected."""
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"inference_dtype must be 'float32' or 'bfloat16', got {dtype!r}")
    token = _DTYPE.set(dtype)
    try:
        yield
    finally:
        _DTYPE.reset(token)


def _state_key(model: GPDForWindowClassification, dtype: torch.dtype, device: torch.device, tensors: list) -> tuple:
    """What the cached eval path depends on: dtype, device, the layer objects, their tensors' versions and storages."""
    layers = [m for block in (*model.convs, *model.dense) for m in block.children()]
    return (dtype, device, *map(id, layers), id(model.classifier), *[t._version for t in tensors],
            *[t.data_ptr() for t in tensors])  # fmt: skip


def inference_runner(model: GPDForWindowClassification, example: torch.Tensor):
    """The cached `GPDInference` of `model`, TorchScript-traced and frozen when TorchScript works here; None when a
    layer is not a plain Conv1d / Linear / BatchNorm1d (e.g. dynamically quantised: the layer path runs then).
    Rebuilt when a layer is replaced, a parameter or buffer changed in place or moved (version counter, storage), or
    the dtype (`inference_dtype(...)` in this context, else `config.inference_dtype`) has no path yet."""
    name = _DTYPE.get() or getattr(model.config, "inference_dtype", "float32")
    dtype = torch.bfloat16 if name == "bfloat16" else torch.float32
    with _INFERENCE_LOCK:
        paths = _INFERENCE.setdefault(model, {})
        cached = paths.get(dtype)
        if cached is not None and cached[0] == _state_key(model, dtype, example.device, cached[1]):
            return cached[2]
        paths[dtype] = _build_runner(model, dtype, example)
        return paths[dtype][2]


def _build_runner(model: GPDForWindowClassification, dtype: torch.dtype, example: torch.Tensor) -> tuple:
    """(state key, tensors, runner) of `inference_runner`."""
    tensors = [*model.parameters(), *model.buffers()]
    plain = [type(b.conv) is nn.Conv1d and type(b.norm) is nn.BatchNorm1d for b in model.convs]
    plain += [type(b.linear) is nn.Linear and type(b.norm) is nn.BatchNorm1d for b in model.dense]
    runner = None  # quantised or other non-plain layers: the layer-by-layer path runs the modules themselves
    if all(plain) and type(model.classifier) is nn.Linear:
        runner = GPDInference(model, dtype).eval()
        try:
            runner = torch.jit.freeze(torch.jit.trace(runner, example[:1], check_trace=False))
        except Exception:  # TorchScript unavailable: the folded eager module gives the same logits
            pass
    return _state_key(model, dtype, example.device, tensors), tensors, runner


class GPDPreTrainedModel(GeoPreTrainedModel):
    config_class = GPDConfig
    base_model_prefix = "gpd"
    main_input_name = "inputs"
    _no_split_modules = ["GPDConvBlock", "GPDDenseBlock"]


class GPDForWindowClassification(GPDPreTrainedModel):
    """GPD: classifies each 4 s window as P, S or noise (see the module docstring)."""

    def __init__(self, config: GPDConfig):
        super().__init__(config)
        channels = [config.in_channels, *config.conv_filters]
        self.convs = nn.ModuleList(
            GPDConvBlock(channels[i], channels[i + 1], k) for i, k in enumerate(config.conv_kernel_sizes)
        )
        sizes = [config.flat_length * config.conv_filters[-1], *config.hidden_sizes]
        self.dense = nn.ModuleList(
            GPDDenseBlock(sizes[i], sizes[i + 1], config.dropout) for i in range(len(sizes) - 1)
        )
        self.classifier = nn.Linear(sizes[-1], len(config.id2label))
        self.post_init()

    def train(self, mode: bool = True):
        with _INFERENCE_LOCK:
            _INFERENCE.pop(self, None)  # the eval paths are rebuilt from the current weights
        return super().train(mode)

    def forward(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> GPDOutput | tuple:
        """inputs `(B, 3, window_length)` (max-abs normalised windows); labels `(B,)` indices or `(B, 3)`."""
        config = self.config
        if inputs.dim() != 3 or inputs.shape[1] != config.in_channels or inputs.shape[2] != config.window_length:
            raise ValueError(
                f"inputs must be (batch, {config.in_channels}, {config.window_length}), got {tuple(inputs.shape)}"
            )
        if labels is None and not output_hidden_states and not self.training and not torch.is_grad_enabled():
            runner = inference_runner(self, inputs)
            if runner is not None:
                logits = runner(inputs)
                if return_dict is False:
                    return (logits,)
                return GPDOutput(logits=logits, probabilities=logits.softmax(-1))
        hidden = inputs.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        for block in self.convs:
            hidden = block(hidden)
        hidden = hidden.permute(0, 2, 3, 1).flatten(1)  # Keras flattens channels-last: feature t * C + c
        for block in self.dense:
            hidden = block(hidden)
        logits = self.classifier(hidden)
        loss = None
        if labels is not None:
            if labels.dim() == 2:
                loss = -(labels.to(logits.dtype) * F.log_softmax(logits, dim=-1)).sum(-1).mean()
            else:
                loss = F.cross_entropy(logits, labels.long())
        pooler_output = hidden if output_hidden_states else None
        if return_dict is False:
            return tuple(v for v in (loss, logits, pooler_output) if v is not None)
        return GPDOutput(loss=loss, logits=logits, probabilities=logits.softmax(-1), pooler_output=pooler_output)
