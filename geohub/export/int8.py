"""The `int8` export (see `geohub.export`): dynamic quantisation of the Linear/LSTM layers, stored as int8 weights
plus per-row scales in safetensors, verified after reloading."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..utils import atomic_directory, atomic_write_text
from .onnx import copy_support_files, export_info, largest_error, reference_outputs, reference_raw, tensor_output_names
from .specs import ExportError, ExportSpec, GeneratorModule, check_format, export_decl, export_spec

__all__ = ["quantize_int8", "export_int8", "int8_state"]

_QUANTIZABLE = (nn.Linear, nn.LSTM)


def _quantizable_modules(model: nn.Module, types: tuple[type, ...] = _QUANTIZABLE) -> list[str]:
    """Names of the plain (not parametrized, e.g. spectral-normed) Linear/LSTM modules of the model."""
    return [name for name, module in model.named_modules() if type(module) in types and name]


def _quantizable_weights(model: nn.Module, modules: list[str] | None = None) -> list[str]:
    """State-dict names of the 2-D weights of the given (default: all quantisable) modules."""
    names = []
    for prefix in _quantizable_modules(model) if modules is None else modules:
        for name, param in model.get_submodule(prefix).named_parameters(recurse=False):
            if name.startswith("weight") and param.dim() == 2:
                names.append(f"{prefix}.{name}")
    return names


def quantize_int8(model: nn.Module, modules: list[str] | None = None) -> nn.Module:
    """`torch.ao.quantization.quantize_dynamic` (int8 weights) of the named Linear/LSTM modules (default: all):
    per output channel for Linear layers (entity F1 of the quickstart tagger 0.570 vs 0.562 per tensor, fp32 0.596,
    same speed), per tensor for LSTMs."""
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    modules = _quantizable_modules(model) if modules is None else modules
    if not modules:
        raise ExportError(f"{type(model).__name__} has no Linear or LSTM layer to quantise", field="model",
                          expected="a model with Linear/LSTM layers (text models, the magnitude CNN-LSTM, EQTransformer); "
                          "export convolutional models with --format onnx")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qconfigs = {name: per_channel_dynamic_qconfig if isinstance(model.get_submodule(name), nn.Linear)
                    else default_dynamic_qconfig for name in modules}  # fmt: skip
        return quantize_dynamic(model.eval(), qconfigs, dtype=torch.qint8)


def _runs_quantized(model: nn.Module, spec: ExportSpec, modules: list[str]) -> str | None:
    """None when the model with `modules` quantised runs on the example inputs, else the error in words."""
    try:
        reference_outputs(_respec(spec, quantize_int8(_clone(model), modules)), spec.inputs)
        return None
    except ExportError:
        raise
    except Exception as err:  # a layer the model uses in a way dynamic quantisation does not support
        return f"{type(err).__name__}: {str(err)[:160]}"


def _working_modules(model: nn.Module, spec: ExportSpec, declared=None) -> tuple[list[str], dict[str, str]]:
    """The Linear/LSTM modules to quantise and those left in fp32 (name -> why): all of them when the quantised
    model runs, else each module tried alone (models that read a layer's weights themselves, e.g. EQTransformer's
    hard-sigmoid LSTM and attention, keep that layer in fp32). `declared`: the family's `ExportDecl.quantize`, the
    only modules to try when given."""
    modules = _quantizable_modules(model) if declared is None else list(declared)
    if not modules:
        quantize_int8(model, [])  # raises the "no Linear or LSTM layer" error
    error = _runs_quantized(model, spec, modules)
    if error is None:
        return modules, {}
    skipped = {name: why for name in modules if (why := _runs_quantized(model, spec, [name])) is not None}
    working = [name for name in modules if name not in skipped]
    if working and _runs_quantized(model, spec, working) is None:
        return working, skipped
    raise ExportError(f"the dynamically quantised model does not run ({error}); no subset of its {len(modules)} "
                      "Linear/LSTM layers quantises on its own", field="model",
                      expected="Linear/LSTM layers called through their forward (not their weights read directly)")  # fmt: skip


def int8_state(model: nn.Module, modules: list[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """State dict with the modules' weights as int8 + per-row fp32 scales (symmetric), the rest unchanged."""
    quantized = set(_quantizable_weights(model, modules))
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if name in quantized:
            scale = tensor.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
            state[name + ".int8"] = torch.round(tensor / scale).clamp(-127, 127).to(torch.int8)
            state[name + ".scale"] = scale.float()
        else:
            state[name] = tensor
    return state, sorted(quantized)


def export_int8(model: nn.Module, output_dir, *, source: Path | None = None) -> dict:
    """Write the int8 folder (see the module docstring) and verify the reloaded model; returns `export.json`."""
    from safetensors.torch import save_file

    model = model.eval()
    check_format(model, "int8")
    spec = export_spec(model)
    modules, skipped = _working_modules(
        model, spec, export_decl(model)[1].quantize
    )  # refuses models without usable layers, writes nothing
    state, quantized = int8_state(model, modules)
    output_names = tensor_output_names(reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        save_file(state, str(tmp / "model.int8.safetensors"), metadata={"format": "pt", "geohub": "int8"})
        copy_support_files(source, tmp, model)
        info = export_info(model, spec, "int8", output_names, quantized_modules=modules, quantized_weights=quantized,
                     kept_fp32_modules=skipped, files=["model.int8.safetensors"],
                     quantization="torch.ao.quantization.quantize_dynamic (qint8 weights per channel (Linear) / "
                     "tensor (LSTM), dynamic activations) of nn.Linear and nn.LSTM; stored int8 with per-row scales")  # fmt: skip
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
        from .exported import load_int8

        loaded = load_int8(tmp, info)
        check = spec.check_inputs
        reloaded = reference_outputs(_respec(spec, loaded), check)
        info["max_abs_difference_from_fp32"] = largest_error(reference_outputs(spec, check), reloaded)
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
    return info


def _respec(spec: ExportSpec, model: nn.Module) -> ExportSpec:
    module = GeneratorModule(model) if isinstance(spec.module, GeneratorModule) else model
    return ExportSpec(module, spec.inputs, spec.check_inputs, spec.dynamic_axes, spec.kind, spec.exporters)


def _clone(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)
