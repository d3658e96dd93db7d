"""What `geohub export` traces for a model: `ExportSpec` (module, example and check inputs, dynamic axes), built
from the model family's `export=ExportDecl(...)` by its `input_type`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import GeohubError
from ..family import EXPORT_FORMATS, ExportDecl, OptOut

__all__ = ["FORMATS", "ExportError", "ExportSpec", "GeneratorModule", "export_decl", "export_spec",
           "check_format"]  # fmt: skip

FORMATS = EXPORT_FORMATS


class ExportError(GeohubError):
    """A model, layer or shape that cannot be exported in the asked format (the message says why and what works)."""


@dataclass
class ExportSpec:
    """What to trace: the module, named example inputs, a check input of other sizes, and the dynamic axes.

    Args:
        module: the `nn.Module` to export; called as `module(**inputs)` and returning a ModelOutput or a tensor.
        inputs: example inputs by name (traced).
        check_inputs: inputs of another batch size (and length where dynamic) to verify the export on.
        dynamic_axes: input name -> {axis: name} of the axes that may change.
        kind: the family's input type ("waveform", "image", "latent", "text", "catalog").
        exporters: the ONNX exporters to try, in order ("torchscript", "dynamo": torch.export-based).
    """

    module: nn.Module
    inputs: dict[str, torch.Tensor]
    check_inputs: dict[str, torch.Tensor]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    kind: str = "waveform"
    exporters: tuple[str, ...] = ("torchscript", "dynamo")


class GeneratorModule(nn.Module):
    """A latent-input model's generator path only (`latents -> outputs`), so that e.g. the terrain GAN's critic is
    not exported."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, latents: torch.Tensor):
        return self.model(latents=latents)


def export_decl(model) -> tuple[object, ExportDecl]:
    """(family, its `ExportDecl`) of `model`; `ExportError` for a model geohub cannot export, naming why."""
    from ..auto import family_for_model

    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    family = family_for_model(model)
    decl = family.export if family is not None else None
    if getattr(config, "is_encoder_decoder", False):
        raise ExportError(f"model type {model_type!r} generates text (encoder-decoder)", field="model",
                          expected="an encoder-only or waveform/raster model; export generation models with "
                          "optimum's seq2seq exporter")  # fmt: skip
    if isinstance(decl, OptOut):
        raise ExportError(f"model type {model_type!r} is not exported: {decl.reason}", field="model",
                          expected="a model of a family whose family.py declares export=ExportDecl(...)")  # fmt: skip
    if decl is None:
        raise ExportError(f"no export recipe for model type {model_type!r} ({type(model).__name__})", field="model",
                          expected="a model of a geohub family that declares export=ExportDecl(...) in its family.py")  # fmt: skip
    return family, decl


def check_format(model, fmt: str) -> None:
    """`ExportError` unless the model's family declares `fmt` among its export formats (checked before any work)."""
    family, decl = export_decl(model)
    if fmt not in decl.formats:
        raise ExportError(f"the {family.name} family does not export to {fmt} (its family.py declares "
                          f"{', '.join(decl.formats)})", field="format",
                          expected=f"{' or '.join(decl.formats)}; int8 formats need Linear/LSTM layers (MatMul/LSTM "
                          "nodes), which convolution-only models do not have")  # fmt: skip


def _waveform_spec(model, config, decl: ExportDecl) -> ExportSpec:
    any_length = decl.length == "any"
    channels, length = int(config.in_channels), int(config.window_length)
    generator = torch.Generator().manual_seed(0)
    check_length = max(int(length * 0.75), 64) if any_length else length
    inputs = {"inputs": torch.randn(2, channels, length, generator=generator)}
    check = {"inputs": torch.randn(3, channels, check_length, generator=generator)}
    axes = {"inputs": {0: "batch", 2: "samples"} if any_length else {0: "batch"}}
    return ExportSpec(model, inputs, check, axes, "waveform", tuple(decl.exporters))


def _image_spec(model, config, decl: ExportDecl) -> ExportSpec:
    size, channels = int(config.image_size), int(config.num_channels)
    generator = torch.Generator().manual_seed(0)
    inputs = {"pixel_values": torch.randn(2, channels, size, size, generator=generator)}
    check = {"pixel_values": torch.randn(3, channels, size, size, generator=generator)}
    axes = {"pixel_values": {0: "batch", 2: "height", 3: "width"} if decl.length == "any" else {0: "batch"}}
    return ExportSpec(model, inputs, check, axes, "image", tuple(decl.exporters))


def _latent_spec(model, config, decl: ExportDecl) -> ExportSpec:
    generator = torch.Generator().manual_seed(0)
    shape = tuple(getattr(config, "latent_shape", (config.latent_dim,)))  # a latent field (C, h, w): any h, w
    inputs = {"latents": torch.randn(2, *shape, generator=generator)}
    check = {"latents": torch.randn(3, *shape[:1], *(s + 1 for s in shape[1:]), generator=generator)}
    axes = {"latents": {0: "batch", 2: "height", 3: "width"} if len(shape) == 3 else {0: "batch"}}
    return ExportSpec(GeneratorModule(model), inputs, check, axes, "latent", tuple(decl.exporters))


def _text_spec(model, config, decl: ExportDecl) -> ExportSpec:
    vocab = int(getattr(config, "vocab_size", 100))
    generator = torch.Generator().manual_seed(0)
    names = inspect.signature(model.forward).parameters
    shape, check_shape = (2, 16), (3, 11)
    inputs, check = {}, {}
    for target, size in ((inputs, shape), (check, check_shape)):
        target["input_ids"] = torch.randint(5, vocab, size, generator=generator)
        mask = torch.ones(size, dtype=torch.long)
        mask[0, size[1] // 2 :] = 0  # one padded row: the attention mask must be honoured
        target["attention_mask"] = mask
        if "token_type_ids" in names and getattr(config, "type_vocab_size", 0):
            target["token_type_ids"] = torch.zeros(size, dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    return ExportSpec(model, inputs, check, axes, "text", tuple(decl.exporters))


def _example_spec(family, model, config, decl: ExportDecl) -> ExportSpec:
    """The spec from the family's own `example_inputs(model, check, generator)` hook: the traced inputs
    (`check=False`) and the check inputs of another batch size (and length where dynamic, `check=True`)."""
    example = family.load(decl.example)
    generator = torch.Generator().manual_seed(0)
    inputs = example(model, False, generator)
    check = example(model, True, generator)
    axes = {name: dict(axes) for name, axes in decl.dynamic_axes.items() if name in inputs}
    return ExportSpec(model, inputs, check, axes, family.input_type, tuple(decl.exporters))


_BY_INPUT_TYPE = {"waveform": _waveform_spec, "image": _image_spec, "latent": _latent_spec, "text": _text_spec}


def export_spec(model: nn.Module) -> ExportSpec:
    """The `ExportSpec` of a geohub model from its family's `ExportDecl` (see `geohub.export`); `ExportError` when
    the family opts out or the model is not one geohub exports."""
    family, decl = export_decl(model)
    config = model.config
    if decl.example is not None:
        return _example_spec(family, model, config, decl)
    if family.input_type == "text" and not (
        getattr(model, "main_input_name", None) == "input_ids"
        and type(model).__name__.endswith(("ForTokenClassification", "ForSequenceClassification"))
    ):
        raise ExportError(f"no export recipe for model type {config.model_type!r} ({type(model).__name__})",
                          field="model", expected="a token or sequence classifier of a text family")  # fmt: skip
    if family.input_type not in _BY_INPUT_TYPE:
        raise ExportError(f"no default export for input type {family.input_type!r} (family {family.name})",
                          field="model", expected="an ExportDecl(example=...) hook in the family's family.py")  # fmt: skip
    return _BY_INPUT_TYPE[family.input_type](model, config, decl)
