"""`onnx` and `onnx-int8` exports (see `geohub.export`): trace, verify with onnxruntime on other input sizes, write
the folder atomically with `export.json`."""

from __future__ import annotations

import contextlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils import atomic_directory, atomic_write_text
from .specs import ExportError, ExportSpec, check_format, export_spec

__all__ = ["DEFAULT_OPSET", "ONNX_TOLERANCE", "ONNX_INT8_OPS", "export_onnx", "export_onnx_int8", "run_onnx",
           "fold_weight_transposes", "reference_outputs", "reference_raw", "largest_error", "tensor_output_names",
           "export_info", "copy_support_files"]  # fmt: skip

DEFAULT_OPSET = 18
ONNX_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}
ONNX_INT8_OPS = ("MatMul", "LSTM", "Attention")  # not Conv (ConvInteger is slower than fp32 Conv in onnxruntime)
_PROCESSOR_FILES = ("preprocessor_config.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt",
                    "special_tokens_map.json", "generation_config.json", "README.md")  # fmt: skip


def tensor_output_names(outputs) -> list[str]:
    """Tensor fields of a ModelOutput (loss left out), or ["output"] for a bare tensor."""
    if isinstance(outputs, torch.Tensor):
        return ["output"]
    return [k for k, v in outputs.items() if isinstance(v, torch.Tensor) and k != "loss"]


class _TupleOutputs(nn.Module):
    """Calls `module(**named inputs)` and returns its output tensors as a tuple (what ONNX graphs return)."""

    def __init__(self, module: nn.Module, input_names: list[str], output_names: list[str], grad: bool = False):
        super().__init__()
        self.module, self.input_names, self.output_names, self.grad = module, input_names, output_names, grad

    def forward(self, *args):
        # grad mode on while the TorchScript exporter traces: eval fast paths that models take only without grad
        # (GPD's folded, TorchScript-frozen runner) would be traced as an opaque nested trace
        with torch.set_grad_enabled(self.grad or torch.is_grad_enabled()):
            outputs = self.module(**dict(zip(self.input_names, args)))
        if isinstance(outputs, torch.Tensor):
            return (outputs,)
        return tuple(outputs[name] for name in self.output_names)


def reference_outputs(spec: ExportSpec, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        outputs = spec.module(**inputs)
    if isinstance(outputs, torch.Tensor):
        return {"output": outputs.numpy()}
    return {k: v.detach().float().numpy() for k, v in outputs.items() if isinstance(v, torch.Tensor) and k != "loss"}


def largest_error(reference: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest |difference| per output over finite entries (-inf padding logits must match as -inf)."""
    errors = {}
    for name, ref in reference.items():
        got = np.asarray(actual[name], dtype=np.float64)
        if got.shape != ref.shape:
            raise ExportError(f"output {name!r} has shape {got.shape}, PyTorch gives {ref.shape}", field=name)
        finite = np.isfinite(ref)
        if not np.array_equal(finite, np.isfinite(got)):
            raise ExportError(f"output {name!r}: non-finite entries differ from PyTorch", field=name)
        errors[name] = float(np.abs(got[finite] - ref[finite]).max()) if finite.any() else 0.0
    return errors


def _within(reference, actual, atol: float, rtol: float) -> bool:
    for name, ref in reference.items():
        finite = np.isfinite(ref)
        if np.any(np.abs(actual[name][finite] - ref[finite]) > atol + rtol * np.abs(ref[finite])):
            return False
    return True


def _torch_onnx_export(spec: ExportSpec, path: Path, opset: int, output_names: list[str], exporter: str) -> None:
    """Write the ONNX file with the TorchScript exporter or the torch.export-based ("dynamo") one."""
    names = list(spec.inputs)
    wrapper = _TupleOutputs(spec.module, names, output_names, grad=exporter == "torchscript").eval()
    args = tuple(spec.inputs[n] for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            from torch.export import Dim

            dims: dict[str, Any] = {}
            shapes = {n: {axis: dims.setdefault(label, Dim(label, min=1 if label == "batch" else 2))
                          for axis, label in spec.dynamic_axes.get(n, {}).items()} for n in names}  # fmt: skip
            torch.onnx.export(wrapper, args, str(path), dynamo=True, opset_version=opset, input_names=names,
                              output_names=output_names, dynamic_shapes=(tuple(shapes.values()),), verbose=False)  # fmt: skip
        else:
            torch.onnx.export(wrapper, args, str(path), dynamo=False, opset_version=min(opset, 17), input_names=names,
                              output_names=output_names, dynamic_axes=dict(spec.dynamic_axes))  # fmt: skip


def _export_and_verify(spec, path: Path, opset: int, output_names, atol: float, rtol: float) -> tuple[str, dict]:
    """Try the spec's exporters in order (TorchScript, then torch.export, unless the family prefers otherwise); keep
    the first whose graph runs on inputs of other sizes with outputs within tolerance. Returns (exporter, largest
    error per output)."""
    reference = reference_outputs(spec, spec.check_inputs)
    failures = []
    for exporter in spec.exporters:
        try:
            _torch_onnx_export(spec, path, opset, output_names, exporter)
            actual = run_onnx(path, spec.check_inputs)
        except Exception as err:  # refused by the exporter, or a graph with shapes fixed at trace time
            failures.append(f"{exporter}: {type(err).__name__}: {str(err)[:240]}")
            continue
        errors = largest_error(reference, actual)
        if _within(reference, actual, atol, rtol):
            return exporter, errors
        failures.append(f"{exporter}: outputs differ from PyTorch (largest |difference| {errors})")
    raise ExportError("no ONNX exporter gave a graph that runs on other input sizes within tolerance ("
                      + " | ".join(failures) + ")", field="model",
                      expected=f"layers whose shapes follow the inputs, outputs within atol={atol} + rtol={rtol} * "
                      "|reference| (no data-dependent Python branches)")  # fmt: skip


def run_onnx(path: Path, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {k: v.numpy() for k, v in inputs.items()})
    return dict(zip(names, values))


def copy_support_files(source: Path | None, target: Path, model) -> None:
    model.config.save_pretrained(target)
    if source is None:
        return
    for name in _PROCESSOR_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def export_onnx(model: nn.Module, output_dir, *, source: Path | None = None, opset: int = DEFAULT_OPSET,
                atol: float = ONNX_TOLERANCE["atol"], rtol: float = ONNX_TOLERANCE["rtol"]) -> dict:  # fmt: skip
    """Export `model` to `output_dir/model.onnx`, verify it with onnxruntime, write `export.json`; returns it."""
    model = model.eval()
    check_format(model, "onnx")
    spec = export_spec(model)
    output_names = tensor_output_names(reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        exporter, errors = _export_and_verify(spec, tmp / "model.onnx", opset, output_names, atol, rtol)
        copy_support_files(source, tmp, model)
        import onnx

        opset = int(onnx.load(str(tmp / "model.onnx"), load_external_data=False).opset_import[0].version)
        files = sorted(f.name for f in tmp.iterdir() if f.name.startswith("model.onnx"))  # + model.onnx.data
        info = export_info(model, spec, "onnx", output_names, atol=atol, rtol=rtol, max_abs_error=errors, opset=opset,
                     exporter=exporter, files=files)  # fmt: skip
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
    return info


def export_onnx_int8(model: nn.Module, output_dir, *, source: Path | None = None, opset: int = DEFAULT_OPSET) -> dict:
    """The ONNX export (verified as `export_onnx`), then `onnxruntime.quantization.quantize_dynamic` of its MatMul,
    LSTM and Attention nodes (int8 weights per output channel, activations quantised on the fly: MatMulInteger,
    DynamicQuantizeLSTM). Written to `output_dir/model.onnx` with `export.json` (the quantised node count and the
    largest difference from PyTorch on the check input); a graph without such nodes is refused."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = model.eval()
    check_format(model, "onnx-int8")
    spec = export_spec(model)
    output_names = tensor_output_names(reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        fp32 = tmp / "fp32"
        fp32.mkdir()
        exporter, _ = _export_and_verify(spec, fp32 / "model.onnx", opset, output_names, **ONNX_TOLERANCE)
        fold_weight_transposes(fp32 / "model.onnx", fp32 / "folded.onnx")
        with warnings.catch_warnings(), _quiet_root_logger():
            warnings.simplefilter("ignore")
            quantize_dynamic(fp32 / "folded.onnx", tmp / "model.onnx", op_types_to_quantize=list(ONNX_INT8_OPS),
                             per_channel=True, weight_type=QuantType.QInt8)  # fmt: skip
        shutil.rmtree(fp32)
        graph = onnx.load(str(tmp / "model.onnx"), load_external_data=False)
        quantized = sorted({node.op_type for node in graph.graph.node if node.op_type in _ORT_INTEGER_OPS})
        count = sum(node.op_type in _ORT_INTEGER_OPS for node in graph.graph.node)
        if not count:
            raise ExportError(f"{type(model).__name__}'s ONNX graph has no {'/'.join(ONNX_INT8_OPS)} node to quantise",
                              field="model", expected="a model with MatMul/LSTM layers (text models, the magnitude "
                              "CNN-LSTM); export convolutional models with --format onnx")  # fmt: skip
        copy_support_files(source, tmp, model)
        files = sorted(f.name for f in tmp.iterdir() if f.name.startswith("model.onnx"))
        info = export_info(model, spec, "onnx-int8", output_names, opset=int(graph.opset_import[0].version),
                     exporter=exporter, files=files, quantized_node_types=quantized, quantized_nodes=count,
                     quantization="onnxruntime.quantization.quantize_dynamic (QInt8 weights per channel, dynamic "
                     f"activations) of the {'/'.join(ONNX_INT8_OPS)} nodes")  # fmt: skip
        reloaded = run_onnx(tmp / "model.onnx", spec.check_inputs)
        info["max_abs_difference_from_fp32"] = largest_error(reference_outputs(spec, spec.check_inputs), reloaded)
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
    return info


def fold_weight_transposes(source: Path, target: Path) -> int:
    """Write `source` (with its external data) to `target` (one file) with each `Transpose` of a weight initializer
    used only there replaced by the transposed initializer; returns how many. torch.export writes `x @ W.T` as
    `MatMul(x, Transpose(W))`, which `quantize_dynamic` leaves fp32: it quantises MatMuls whose weight is constant."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    uses: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    kept, folded = [], 0
    for node in model.graph.node:
        weight = initializers.get(node.input[0]) if node.op_type == "Transpose" and node.input else None
        if weight is None or uses[weight.name] != 1:
            kept.append(node)
            continue
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        array = numpy_helper.to_array(weight)
        array = np.ascontiguousarray(array.transpose(perm) if perm else array.T)
        model.graph.initializer.remove(weight)
        model.graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        folded += 1
    del model.graph.node[:]
    model.graph.node.extend(kept)
    onnx.save(model, str(target))
    return folded


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantiser logs advice ("consider pre-processing") on the root logger: not for our users."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


_ORT_INTEGER_OPS = {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM", "QAttention", "ConvInteger"}


def reference_raw(spec: ExportSpec):
    with torch.no_grad():
        return spec.module(**spec.inputs)


def export_info(model, spec: ExportSpec, fmt: str, output_names, **extra) -> dict:
    return {
        "format": fmt,
        "model_type": model.config.model_type,
        "architecture": type(model).__name__,
        "kind": spec.kind,
        "inputs": {
            n: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")} for n, t in spec.inputs.items()
        },
        "dynamic_axes": {n: {str(a): label for a, label in axes.items()} for n, axes in spec.dynamic_axes.items()},
        "outputs": list(output_names),
        "torch_version": torch.__version__,
        **extra,
    }
