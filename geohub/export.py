"""Export geohub models to ONNX, to int8 and to ONNX int8 (dynamic quantisation), and load the exports back.

    geohub export runs/seismic_picking/phasenet --format onnx --output exports/picker-onnx
    geohub export runs/knowledge_extraction --format onnx-int8 --output exports/tagger-onnx-int8

    from geohub.export import export_model, load_exported
    model = load_exported("exports/picker-onnx")       # same forward outputs as the PyTorch model
    model(inputs=batch["inputs"]).logits
    pipeline("knowledge-extraction", model="exports/tagger-onnx-int8")   # any geohub task takes an export folder

Every format writes a folder with the model's `config.json`, its processor files (feature extractor, image processor
or tokenizer: the pipelines and the waveform API read them from the folder) and `export.json` (format, opset, input
and output names, dynamic axes, the tolerance and the measured largest difference from PyTorch on a check input
of another batch size and length than the traced one).

- `onnx`: `torch.onnx.export` (the TorchScript exporter, else the torch.export-based one, opset 18; the summarizer
  tries torch.export first)
  with dynamic batch and length axes, then run with onnxruntime on a second input shape; an export whose outputs
  differ from PyTorch by more than `atol + rtol * |reference|` is an error, never a silently wrong file.
- `int8`: `torch.ao.quantization.quantize_dynamic` on the `nn.Linear` and `nn.LSTM` layers (weights int8, per output
  channel for Linear, per tensor for LSTM; activations quantised on the fly). The folder stores those weights as int8
  plus one fp32 scale per output row (`model.int8.safetensors`, safetensors only), the other weights in fp32;
  `load_exported` rebuilds the model from its config and quantises it again. A layer whose quantisation breaks the
  forward (a model reading its weights directly, e.g. EQTransformer's LSTM and attention) stays fp32
  (`kept_fp32_modules` in export.json); models with no Linear/LSTM layer (the convolutional U-Nets) are refused:
  dynamic quantisation would not change them.
- `onnx-int8`: the verified ONNX graph quantised by `onnxruntime.quantization.quantize_dynamic` (int8 weights per
  output channel of its MatMul, LSTM and Attention nodes, activations quantised on the fly); run by onnxruntime like
  `onnx`. The fastest variant for the MiniLM text models and the magnitude CNN-LSTM on CPU (benchmarks/README.md);
  graphs without such nodes (the convolution-only U-Nets) are refused. `Transpose` nodes of weights (torch.export
  writes `x @ W.T` so) are folded into the weights first, so that their MatMuls quantise.

Loading (`geohub/export_loading.py`, re-exported here): `load_exported(folder)`; `ExportedModelLoader` makes
`transformers.pipeline(task, model=FOLDER)` take an export folder for every geohub task (registered by
`geohub.auto`), and the waveform API and `geohub denoise` load them too.

What each model family exports (inputs -> outputs; "T" dynamic means any length works):

| family | inputs | outputs |
|---|---|---|
| seismic picker, magnitude, denoiser | `inputs` (B, C, T dynamic) [+ `log_amplitude` (B, C)] | the ModelOutput tensors |
| EQTransformer, GPD | `inputs` (B, C, window_length) | the ModelOutput tensors |
| landform CNN | `pixel_values` (B, 1, H, W) | `logits`, `pooler_output` |
| terrain GAN | `latents` (B, latent_dim) (the generator only) | `samples` |
| extractive summarizer | `input_ids`, `attention_mask` (B, sentences, tokens) [+ `sentence_features` (B, sentences, F), `title_input_ids`, `title_attention_mask` (B, title tokens), `title_mask` (B,) with document features] | `logits` |
| stock BERT token / sequence classifiers | `input_ids`, `attention_mask`, `token_type_ids` (B, L) | `logits` |

Encoder-decoder (generation) models and models that need more inputs (the relation classifier) raise
`ExportError` naming the model type.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import GeohubError
from .utils import atomic_directory, atomic_write_text, get_logger

logger = get_logger(__name__)

_LOADING = ("ExportedModelLoader", "ExportedOutput", "OnnxModel", "load_exported")  # geohub/export_loading.py
__all__ = ["FORMATS", "DEFAULT_OPSET", "ExportError", "ExportSpec", "export_model", "export_spec",
           "export_onnx_int8", "quantize_int8", *_LOADING]  # fmt: skip

FORMATS = ("onnx", "int8", "onnx-int8")
DEFAULT_OPSET = 18
ONNX_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}
ONNX_INT8_OPS = ("MatMul", "LSTM", "Attention")  # not Conv (ConvInteger is slower than fp32 Conv in onnxruntime)
_WAVEFORM_ANY_LENGTH = {"geohub_seismic_picker", "geohub_seismic_magnitude", "geohub_seismic_denoiser"}
_WAVEFORM_FIXED_LENGTH = {"geohub_eqtransformer", "geohub_gpd"}
_PROCESSOR_FILES = ("preprocessor_config.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt",
                    "special_tokens_map.json", "generation_config.json", "README.md")  # fmt: skip


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
        kind: "waveform", "image", "latent" or "text".
        exporters: the ONNX exporters to try, in order ("torchscript", "dynamo": torch.export-based).
    """

    module: nn.Module
    inputs: dict[str, torch.Tensor]
    check_inputs: dict[str, torch.Tensor]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    kind: str = "waveform"
    exporters: tuple[str, ...] = ("torchscript", "dynamo")


class _GeneratorModule(nn.Module):
    """The terrain GAN's generator path only (`latents -> samples`), so the critic is not exported."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, latents: torch.Tensor):
        return self.model(latents=latents)


def _waveform_spec(model, config, any_length: bool) -> ExportSpec:
    channels, length = int(config.in_channels), int(config.window_length)
    generator = torch.Generator().manual_seed(0)
    check_length = max(int(length * 0.75), 64) if any_length else length
    inputs = {"inputs": torch.randn(2, channels, length, generator=generator)}
    check = {"inputs": torch.randn(3, channels, check_length, generator=generator)}
    axes = {"inputs": {0: "batch", 2: "samples"} if any_length else {0: "batch"}}
    if config.model_type == "geohub_seismic_magnitude":
        inputs["log_amplitude"] = torch.randn(2, channels, generator=generator)
        check["log_amplitude"] = torch.randn(3, channels, generator=generator)
        axes["log_amplitude"] = {0: "batch"}
    return ExportSpec(model, inputs, check, axes, "waveform")


def _text_spec(model, config) -> ExportSpec:
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
    return ExportSpec(model, inputs, check, axes, "text")


def _summarizer_spec(model, config) -> ExportSpec:
    """The sentences `(B, S, L)`; with document features also the lexical `sentence_features` `(B, S, F)` and the
    title (`title_input_ids`/`title_attention_mask` `(B, Lt)`, `title_mask` `(B,)`), as `summarize` passes them."""
    vocab = int(getattr(getattr(model, "encoder", None), "config", config).vocab_size)
    generator = torch.Generator().manual_seed(0)
    use_features = bool(getattr(config, "use_features", False))
    lexical = int(getattr(config, "num_lexical_features", 0)) if use_features else 0
    inputs, check = {}, {}
    for target, size in ((inputs, (2, 4, 12)), (check, (3, 5, 9))):
        target["input_ids"] = torch.randint(5, vocab, size, generator=generator)
        mask = torch.ones(size, dtype=torch.long)
        mask[0, -1] = 0  # an absent sentence
        mask[1, 0, size[2] // 2 :] = 0  # a short sentence
        target["attention_mask"] = mask
        if lexical:
            target["sentence_features"] = torch.rand(size[0], size[1], lexical, generator=generator)
        if use_features:
            target["title_input_ids"] = torch.randint(5, vocab, (size[0], size[2] - 2), generator=generator)
            target["title_attention_mask"] = torch.ones(size[0], size[2] - 2, dtype=torch.long)
            target["title_mask"] = torch.ones(size[0], dtype=torch.long)
            target["title_mask"][-1] = 0  # a document without a title
    axes = {name: {0: "batch", 1: "sentences", 2: "tokens"} for name in ("input_ids", "attention_mask")}
    if lexical:
        axes["sentence_features"] = {0: "batch", 1: "sentences"}
    if use_features:
        axes.update({name: {0: "batch", 1: "title_tokens"} for name in ("title_input_ids", "title_attention_mask")})
        axes["title_mask"] = {0: "batch"}
    # torch.export first: TorchScript tracing bakes nn.MultiheadAttention's reshapes to the traced sizes
    return ExportSpec(model, inputs, check, axes, "text", exporters=("dynamo", "torchscript"))


def export_spec(model: nn.Module) -> ExportSpec:
    """The `ExportSpec` of a geohub model (see the module docstring's table); `ExportError` when unsupported."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type in _WAVEFORM_ANY_LENGTH or model_type in _WAVEFORM_FIXED_LENGTH:
        return _waveform_spec(model, config, model_type in _WAVEFORM_ANY_LENGTH)
    if model_type == "geohub_landform":
        size, channels = int(config.image_size), int(config.num_channels)
        generator = torch.Generator().manual_seed(0)
        inputs = {"pixel_values": torch.randn(2, channels, size, size, generator=generator)}
        check = {"pixel_values": torch.randn(3, channels, size, size, generator=generator)}
        return ExportSpec(model, inputs, check, {"pixel_values": {0: "batch", 2: "height", 3: "width"}}, "image")
    if model_type == "geohub_terrain_gan":
        generator = torch.Generator().manual_seed(0)
        inputs = {"latents": torch.randn(2, config.latent_dim, generator=generator)}
        check = {"latents": torch.randn(3, config.latent_dim, generator=generator)}
        return ExportSpec(_GeneratorModule(model), inputs, check, {"latents": {0: "batch"}}, "latent")
    if model_type == "geohub_extractive_summarizer":
        return _summarizer_spec(model, config)
    if getattr(config, "is_encoder_decoder", False) or model_type in {
        "encoder-decoder",
        "geohub_abstractive_summarizer",
    }:
        raise ExportError(f"model type {model_type!r} generates text (encoder-decoder)", field="model",
                          expected="an encoder-only or waveform/raster model; export generation models with "
                          "optimum's seq2seq exporter")  # fmt: skip
    architecture = type(model).__name__
    if getattr(model, "main_input_name", None) == "input_ids" and architecture.endswith(
        ("ForTokenClassification", "ForSequenceClassification")
    ):
        return _text_spec(model, config)
    raise ExportError(f"no export recipe for model type {model_type!r} ({architecture})", field="model",
                      expected="a geohub seismic, terrain or text family model, or a stock BERT token/sequence "
                      "classifier")  # fmt: skip


def _output_names(outputs) -> list[str]:
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


def _reference(spec: ExportSpec, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        outputs = spec.module(**inputs)
    if isinstance(outputs, torch.Tensor):
        return {"output": outputs.numpy()}
    return {k: v.detach().float().numpy() for k, v in outputs.items() if isinstance(v, torch.Tensor) and k != "loss"}


def _largest_error(reference: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> dict[str, float]:
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
    reference = _reference(spec, spec.check_inputs)
    failures = []
    for exporter in spec.exporters:
        try:
            _torch_onnx_export(spec, path, opset, output_names, exporter)
            actual = _run_onnx(path, spec.check_inputs)
        except Exception as err:  # refused by the exporter, or a graph with shapes fixed at trace time
            failures.append(f"{exporter}: {type(err).__name__}: {str(err)[:240]}")
            continue
        errors = _largest_error(reference, actual)
        if _within(reference, actual, atol, rtol):
            return exporter, errors
        failures.append(f"{exporter}: outputs differ from PyTorch (largest |difference| {errors})")
    raise ExportError("no ONNX exporter gave a graph that runs on other input sizes within tolerance ("
                      + " | ".join(failures) + ")", field="model",
                      expected=f"layers whose shapes follow the inputs, outputs within atol={atol} + rtol={rtol} * "
                      "|reference| (no data-dependent Python branches)")  # fmt: skip


def _run_onnx(path: Path, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {k: v.numpy() for k, v in inputs.items()})
    return dict(zip(names, values))


def _copy_support_files(source: Path | None, target: Path, model) -> None:
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
    spec = export_spec(model)
    output_names = _output_names(_reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        exporter, errors = _export_and_verify(spec, tmp / "model.onnx", opset, output_names, atol, rtol)
        _copy_support_files(source, tmp, model)
        import onnx

        opset = int(onnx.load(str(tmp / "model.onnx"), load_external_data=False).opset_import[0].version)
        files = sorted(f.name for f in tmp.iterdir() if f.name.startswith("model.onnx"))  # + model.onnx.data
        info = _info(model, spec, "onnx", output_names, atol=atol, rtol=rtol, max_abs_error=errors, opset=opset,
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
    spec = export_spec(model)
    output_names = _output_names(_reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        fp32 = tmp / "fp32"
        fp32.mkdir()
        exporter, _ = _export_and_verify(spec, fp32 / "model.onnx", opset, output_names, **ONNX_TOLERANCE)
        _fold_weight_transposes(fp32 / "model.onnx", fp32 / "folded.onnx")
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
        _copy_support_files(source, tmp, model)
        files = sorted(f.name for f in tmp.iterdir() if f.name.startswith("model.onnx"))
        info = _info(model, spec, "onnx-int8", output_names, opset=int(graph.opset_import[0].version),
                     exporter=exporter, files=files, quantized_node_types=quantized, quantized_nodes=count,
                     quantization="onnxruntime.quantization.quantize_dynamic (QInt8 weights per channel, dynamic "
                     f"activations) of the {'/'.join(ONNX_INT8_OPS)} nodes")  # fmt: skip
        reloaded = _run_onnx(tmp / "model.onnx", spec.check_inputs)
        info["max_abs_difference_from_fp32"] = _largest_error(_reference(spec, spec.check_inputs), reloaded)
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
    return info


def _fold_weight_transposes(source: Path, target: Path) -> int:
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


def _reference_raw(spec: ExportSpec):
    with torch.no_grad():
        return spec.module(**spec.inputs)


def _info(model, spec: ExportSpec, fmt: str, output_names, **extra) -> dict:
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


# --- int8 ------------------------------------------------------------------------------------------------------
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
        _reference(_respec(spec, quantize_int8(_clone(model), modules)), spec.inputs)
        return None
    except ExportError:
        raise
    except Exception as err:  # a layer the model uses in a way dynamic quantisation does not support
        return f"{type(err).__name__}: {str(err)[:160]}"


def _working_modules(model: nn.Module, spec: ExportSpec) -> tuple[list[str], dict[str, str]]:
    """The Linear/LSTM modules to quantise and those left in fp32 (name -> why): all of them when the quantised
    model runs, else each module tried alone (models that read a layer's weights themselves, e.g. EQTransformer's
    hard-sigmoid LSTM and attention, keep that layer in fp32)."""
    modules = _quantizable_modules(model)
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


def _int8_state(model: nn.Module, modules: list[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
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
    spec = export_spec(model)
    modules, skipped = _working_modules(model, spec)  # refuses models without usable layers, writes nothing
    state, quantized = _int8_state(model, modules)
    output_names = _output_names(_reference_raw(spec))
    with atomic_directory(output_dir, last=("export.json",)) as tmp:
        tmp = Path(tmp)
        save_file(state, str(tmp / "model.int8.safetensors"), metadata={"format": "pt", "geohub": "int8"})
        _copy_support_files(source, tmp, model)
        info = _info(model, spec, "int8", output_names, quantized_modules=modules, quantized_weights=quantized,
                     kept_fp32_modules=skipped, files=["model.int8.safetensors"],
                     quantization="torch.ao.quantization.quantize_dynamic (qint8 weights per channel (Linear) / "
                     "tensor (LSTM), dynamic activations) of nn.Linear and nn.LSTM; stored int8 with per-row scales")  # fmt: skip
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
        from .export_loading import _load_int8

        loaded = _load_int8(tmp, info)
        check = spec.check_inputs
        reloaded = _reference(_respec(spec, loaded), check)
        info["max_abs_difference_from_fp32"] = _largest_error(_reference(spec, check), reloaded)
        atomic_write_text(tmp / "export.json", json.dumps(info, indent=2))
    return info


def _respec(spec: ExportSpec, model: nn.Module) -> ExportSpec:
    module = _GeneratorModule(model) if isinstance(spec.module, _GeneratorModule) else model
    return ExportSpec(module, spec.inputs, spec.check_inputs, spec.dynamic_axes, spec.kind, spec.exporters)


def _clone(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def export_model(model_dir: str | os.PathLike, fmt: str, output_dir: str | os.PathLike, *,
                 opset: int = DEFAULT_OPSET) -> dict:  # fmt: skip
    """Export the saved model in `model_dir` (a folder or Hub repo id) to `fmt` in `output_dir`; returns export.json."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}", field="format", expected=" or ".join(FORMATS))
    source = Path(model_dir)
    if not (source / "config.json").is_file():
        raise ExportError("not a model folder (no config.json)", path=source, expected="a folder saved by geohub")
    from .export_loading import _load_config, _model_class

    config = _load_config(source)
    model = _model_class(config).from_pretrained(os.fspath(source)).eval()
    if hasattr(model.config, "_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
        except Exception:  # models without the switch keep their attention
            pass
    if fmt == "onnx":
        return export_onnx(model, output_dir, source=source, opset=opset)
    if fmt == "onnx-int8":
        return export_onnx_int8(model, output_dir, source=source, opset=opset)
    return export_int8(model, output_dir, source=source)


def __getattr__(name: str):
    """The loading API (`load_exported`, `OnnxModel`, `ExportedModelLoader`, `ExportedOutput`) lives in
    `geohub.export_loading` (imported on first use: it imports this module)."""
    if name in _LOADING:
        from . import export_loading

        return getattr(export_loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
