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

Loading (`geohub/export/exported.py`, re-exported here): `load_exported(folder)`; `ExportedModelLoader` (the one
loader, `geohub.inference.loading`) makes `transformers.pipeline(task, model=FOLDER)` take an export folder for every
geohub task, and the waveform API and `geohub denoise` load them too.

What a family exports is its own declaration: `export=ExportDecl(...)` in its `family.py` (the formats that apply,
fixed or any length, an example-input hook where the input type's default does not fit, which layers quantise) or
`export=OptOut(reason)`; `export_spec` builds the trace from it by the family's `input_type` and never names a family.
Modules: `specs` (what to trace), `onnx` (onnx, onnx-int8), `int8`, `exported` (the loaded exports).

What each model family exports (inputs -> outputs; "T" dynamic means any length works):

| family | inputs | outputs |
|---|---|---|
| seismic picker, magnitude, denoiser | `inputs` (B, C, T dynamic) [+ `log_amplitude` (B, C)] | the ModelOutput tensors |
| EQTransformer, GPD | `inputs` (B, C, window_length) | the ModelOutput tensors |
| landform CNN | `pixel_values` (B, 1, H, W) | `logits`, `pooler_output` |
| terrain GAN | `latents` (B, latent_dim) (the generator only) | `samples` |
| extractive summarizer | `input_ids`, `attention_mask` (B, sentences, tokens) [+ `sentence_features` (B, sentences, F), `title_input_ids`, `title_attention_mask` (B, title tokens), `title_mask` (B,) with document features] | `logits` |
| stock BERT token / sequence classifiers | `input_ids`, `attention_mask`, `token_type_ids` (B, L) | `logits` |

Encoder-decoder (generation) models and families that opt out (the relation classifier) raise `ExportError` naming
the model type and the reason.
"""

import os
from pathlib import Path

from .exported import ExportedOutput, OnnxModel, load_exported
from .int8 import export_int8, quantize_int8
from .onnx import DEFAULT_OPSET, ONNX_INT8_OPS, ONNX_TOLERANCE, export_onnx, export_onnx_int8, fold_weight_transposes
from .specs import FORMATS, ExportError, ExportSpec, export_spec

__all__ = ["FORMATS", "DEFAULT_OPSET", "ONNX_TOLERANCE", "ONNX_INT8_OPS", "ExportError", "ExportSpec", "export_model",
           "export_spec", "export_onnx", "export_int8", "export_onnx_int8", "quantize_int8", "fold_weight_transposes",
           "ExportedModelLoader", "ExportedOutput", "OnnxModel", "load_exported"]  # fmt: skip


def export_model(model_dir: str | os.PathLike, fmt: str, output_dir: str | os.PathLike, *,
                 opset: int = DEFAULT_OPSET) -> dict:  # fmt: skip
    """Export the saved model in `model_dir` (a folder or Hub repo id) to `fmt` in `output_dir`; returns export.json."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}", field="format", expected=" or ".join(FORMATS))
    source = Path(model_dir)
    if (source / "export.json").is_file():
        raise ExportError("this is already an export folder (it holds export.json)", path=source,
                          expected="the saved model folder it was exported from")  # fmt: skip
    if not (source / "config.json").is_file():
        raise ExportError("not a model folder (no config.json)", path=source, expected="a folder saved by geohub")
    from .exported import load_config, model_class

    config = load_config(source)
    model = model_class(config).from_pretrained(os.fspath(source)).eval()
    if hasattr(model.config, "_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
        except Exception:  # models without the switch keep their attention
            pass
    from .integrity import add_file_hashes

    if fmt == "onnx":
        info = export_onnx(model, output_dir, source=source, opset=opset)
    elif fmt == "onnx-int8":
        info = export_onnx_int8(model, output_dir, source=source, opset=opset)
    else:
        info = export_int8(model, output_dir, source=source)
    return add_file_hashes(output_dir, info)  # sha256 of every file, in export.json, checked by load_exported


def __getattr__(name: str):
    """`ExportedModelLoader` lives in the one loader, `geohub.inference.loading` (re-exported here on first use)."""
    if name == "ExportedModelLoader":
        from ..inference.loading import ExportedModelLoader

        return ExportedModelLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
