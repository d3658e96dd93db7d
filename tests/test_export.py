"""geohub.export: ONNX exports match PyTorch within the stated tolerance, int8 exports reload and stay close,
unsupported models and layers are clear errors, and `geohub export` writes loadable folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForTokenClassification
from typer.testing import CliRunner

from geohub.auto import families
from geohub.export import ONNX_TOLERANCE, ExportError, export_int8, export_onnx, export_spec, load_exported
from geohub.family import ExportDecl, OptOut


def _tiny(name: str):
    """The family's seconds-fast model, from the `tiny_config` its family.py declares."""
    return families()[name].tiny_model()


def _picker():
    return _tiny("seismic_picker")


def _magnitude():
    return _tiny("seismic_magnitude")


def _denoiser():
    return _tiny("seismic_denoiser")


def _landform():
    return _tiny("landform")


def _terrain_gan():
    return _tiny("terrain_gan")


def _gpd():
    return _tiny("gpd")


def _tagger():
    return _tiny("entity_tagger")


def _summarizer():
    return _tiny("extractive_summarizer")


def _summarizer_with_features():
    from geohub.models.extractive_summarizer import (
        ExtractiveSummarizerConfig,
        ExtractiveSummarizerForSentenceExtraction,
    )

    config = ExtractiveSummarizerConfig(max_sentences=8, num_attention_heads=2, use_features=True)
    return ExtractiveSummarizerForSentenceExtraction(config)


def declared(fmt: str) -> list[str]:
    """The families whose `export=ExportDecl(...)` lists `fmt` (the tests grow with the families)."""
    return sorted(n for n, f in families().items() if isinstance(f.export, ExportDecl) and fmt in f.export.formats)


# speed only (torch.export or a long LSTM graph: ~30 s each on a busy CPU), not what a family can do
SLOW = {"extractive_summarizer", "extractive_summarizer_features", "eqtransformer"}
VARIANTS = {"extractive_summarizer_features": _summarizer_with_features}  # a second config of a family


def _params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def _build(name: str):
    return VARIANTS[name]() if name in VARIANTS else _tiny(name)


@pytest.mark.parametrize("name", sorted(families()))
def test_every_family_declares_its_export(name):
    family = families()[name]
    assert isinstance(family.export, (ExportDecl, OptOut)), (
        f"{name}: declare export=ExportDecl(...) or export=OptOut(reason) in its family.py"
    )
    if isinstance(family.export, ExportDecl):
        assert family.tiny_config is not None, f"{name}: declare tiny_config so that these tests build its model"
        spec = export_spec(family.tiny_model())
        assert spec.kind == family.input_type and "batch" in json.dumps(spec.dynamic_axes)
        assert all(v.shape[0] == 2 for v in spec.inputs.values()) and all(
            v.shape[0] == 3 for v in spec.check_inputs.values()
        )


def _outputs(model, inputs) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model(**inputs)
    return {k: v.float().numpy() for k, v in out.items() if isinstance(v, torch.Tensor) and k != "loss"}


@pytest.mark.parametrize("family", _params(declared("onnx") + sorted(VARIANTS)))
def test_onnx_matches_pytorch_on_other_shapes(family, tmp_path):
    torch.manual_seed(0)
    model = _build(family).eval()
    info = export_onnx(model, tmp_path / "onnx")
    assert info["format"] == "onnx" and info["opset"] >= 17
    assert "batch" in json.dumps(info["dynamic_axes"])
    assert (tmp_path / "onnx" / "model.onnx").is_file() and (tmp_path / "onnx" / "config.json").is_file()
    exported = load_exported(tmp_path / "onnx")
    spec = export_spec(model)
    check = {k: v[:1] if v.shape[0] > 1 else v for k, v in spec.check_inputs.items()}  # a third batch size
    reference = _outputs(spec.module, check)
    actual = {k: v.numpy() for k, v in exported(**check).items()}
    assert set(actual) == set(reference)
    for name, ref in reference.items():
        finite = np.isfinite(ref)
        tolerance = ONNX_TOLERANCE["atol"] + ONNX_TOLERANCE["rtol"] * np.abs(ref[finite])
        assert np.all(np.abs(actual[name][finite] - ref[finite]) <= tolerance), name


@pytest.mark.parametrize("family", declared("int8"))
def test_int8_reloads_close_to_fp32_and_smaller(family, tmp_path):
    torch.manual_seed(0)
    model = _build(family).eval()
    info = export_int8(model, tmp_path / "int8")
    assert info["quantized_modules"]
    loaded = load_exported(tmp_path / "int8")
    assert any("quantized" in type(m).__module__ for m in loaded.modules())
    spec = export_spec(model)
    loaded_spec = export_spec(loaded)
    reference = _outputs(spec.module, spec.check_inputs)
    actual = _outputs(loaded_spec.module, spec.check_inputs)
    for name, ref in reference.items():
        finite = np.isfinite(ref)
        scale = np.abs(ref[finite]).max() + 1e-6
        assert np.abs(actual[name][finite] - ref[finite]).max() <= 0.1 * scale, name  # int8: ~1 % of the range
    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "int8" / "model.int8.safetensors"))
    assert all(stored[name + ".int8"].dtype == torch.int8 for name in info["quantized_weights"])
    state = model.state_dict()
    fp32_bytes = sum(t.numel() * t.element_size() for t in state.values())
    linear_bytes = sum(state[name].numel() * 4 for name in info["quantized_weights"])
    size = (tmp_path / "int8" / "model.int8.safetensors").stat().st_size
    rows = sum(state[name].shape[0] for name in info["quantized_weights"])
    stored_bytes = sum(
        stored[n + ".int8"].numel() + 4 * stored[n + ".scale"].numel() for n in info["quantized_weights"]
    )
    assert stored_bytes <= 0.25 * linear_bytes + 4 * rows  # int8 weights + one fp32 scale per row
    if (
        linear_bytes > 0.5 * fp32_bytes
    ):  # where they are most of the model (not a tiny EQTransformer), the file shrinks
        assert size < fp32_bytes - 0.6 * linear_bytes + 4096  # the Linear/LSTM weights take ~1/4 of their fp32 bytes


def test_int8_keeps_layers_whose_weights_the_model_reads_in_fp32(tmp_path):
    from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking

    torch.manual_seed(0)
    config = EqTransformerConfig(encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2],
                                 num_lstm_blocks=1, lstm_units=4, attention_units=4, feed_forward_units=4,
                                 decoder_filters=[2] * 7)  # fmt: skip
    model = EqTransformerForPhasePicking(config).eval()
    info = export_int8(model, tmp_path / "eqt-int8")
    kept = info["kept_fp32_modules"]
    assert any(name.endswith("lstm.lstm") for name in kept)  # the hard-sigmoid LSTM reads its own weights
    assert any(name.endswith("attention.query") for name in kept)
    assert any("feed_forward" in name for name in info["quantized_modules"])
    assert not set(kept) & set(info["quantized_modules"])
    loaded = load_exported(tmp_path / "eqt-int8")
    check = export_spec(model).check_inputs
    reference, actual = _outputs(model, check), _outputs(loaded, check)
    for name in ("p_probabilities", "s_probabilities", "detection_probabilities"):
        assert np.abs(actual[name] - reference[name]).max() <= 0.02, name


def _branching_picker():
    from geohub.models.seismic_picker import SeismicPickerForPhasePicking

    class BranchingPicker(SeismicPickerForPhasePicking):
        def forward(self, inputs, **kwargs):
            out = super().forward(inputs=inputs, **kwargs)
            if inputs.shape[0] == 2:  # a Python branch: traced as a constant, refused by torch.export's batch axis
                out.logits = out.logits * 2.0
            return out

    model = _picker()
    branching = BranchingPicker(model.config)
    branching.load_state_dict(model.state_dict())
    return branching


def test_summarizer_branch_free_embeddings_match_the_eager_ones(monkeypatch):
    from geohub.models.extractive_summarizer import modeling_extractive_summarizer as module

    torch.manual_seed(0)
    model = _summarizer().eval()
    check = export_spec(model).check_inputs  # an absent sentence and a short one
    with torch.no_grad():
        eager = model(**check).logits
        monkeypatch.setattr(module, "_tracing", lambda: True)
        traced_path = model(**check).logits
    assert torch.isneginf(eager[0, -1]) and torch.isneginf(traced_path[0, -1])
    torch.testing.assert_close(traced_path, eager, atol=1e-5, rtol=1e-5)


def test_onnx_model_names_a_wrong_input_shape_or_dtype(tmp_path):
    torch.manual_seed(0)
    export_onnx(_gpd().eval(), tmp_path / "gpd")  # GPD's window length is fixed by the export
    exported = load_exported(tmp_path / "gpd")
    with pytest.raises(ExportError, match=r"input 'inputs' has shape \(1, 3, 500\).*\(batch, 3, 400\)"):
        exported(inputs=torch.randn(1, 3, 500))
    with pytest.raises(ExportError, match=r"input 'inputs' has shape \(3, 400\)"):
        exported(inputs=torch.randn(3, 400))
    with pytest.raises(ExportError, match="input 'inputs' has dtype complex64"):
        exported(inputs=np.zeros((1, 3, 400), dtype=np.complex64))
    assert exported(inputs=torch.randn(2, 3, 400, dtype=torch.float64)).logits.shape == (2, 3)  # cast, not refused


def test_generation_and_multi_input_models_are_refused_by_name():
    from transformers import T5Config, T5ForConditionalGeneration

    t5 = T5ForConditionalGeneration(T5Config(vocab_size=32, d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2))
    with pytest.raises(ExportError, match="generates text.*seq2seq exporter"):
        export_spec(t5)
    with pytest.raises(ExportError, match="no export recipe.*BertModel"):
        export_spec(BertForTokenClassification(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                                          num_attention_heads=2, intermediate_size=8)).bert)  # fmt: skip


def test_unsupported_models_and_layers_are_clear_errors(tmp_path):
    with pytest.raises(ExportError, match="seismic_picker family does not export to int8.*declares onnx"):
        export_int8(_picker().eval(), tmp_path / "picker-int8")  # its ExportDecl leaves int8 out
    assert not (tmp_path / "picker-int8").exists()
    with pytest.raises(ExportError, match="no export recipe"):
        export_spec(torch.nn.Linear(2, 2))
    with pytest.raises(ExportError, match="(?s)no ONNX exporter.*no data-dependent Python branches"):
        export_onnx(_branching_picker().eval(), tmp_path / "branching-onnx")  # a branch on the batch size
    assert not (tmp_path / "branching-onnx").exists()
    with pytest.raises(ExportError, match="not an export folder"):
        load_exported(tmp_path)


def test_cli_export_and_denoise_with_the_onnx_export(tmp_path):
    from geohub.cli import app
    from geohub.data.synthetic_seismic import synthetic_stream
    from geohub.inference.denoise import denoise
    from geohub.models.seismic_denoiser import SeismicDenoiserFeatureExtractor

    model = _denoiser().eval()
    model.save_pretrained(tmp_path / "model")
    SeismicDenoiserFeatureExtractor.from_config(model.config).save_pretrained(tmp_path / "model")
    runner = CliRunner()
    result = runner.invoke(
        app, ["export", str(tmp_path / "model"), "--format", "onnx", "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "export.json").read_text())["model_type"] == "geohub_seismic_denoiser"
    assert (tmp_path / "out" / "preprocessor_config.json").is_file()
    stream, _ = synthetic_stream(30.0, seed=2)
    with_onnx = denoise(stream, str(tmp_path / "out"))
    with_torch = denoise(stream, str(tmp_path / "model"))
    for a, b in zip(with_onnx, with_torch):
        assert np.allclose(a.data, b.data, atol=1e-3 * np.abs(b.data).max())
    bad = runner.invoke(app, ["export", str(tmp_path / "model"), "--format", "int8", "--output", str(tmp_path / "q")])
    assert bad.exit_code != 0 and "does not export to int8" in bad.output
    unknown = runner.invoke(
        app, ["export", str(tmp_path / "model"), "--format", "tflite", "--output", str(tmp_path / "x")]
    )
    assert unknown.exit_code != 0 and "unknown format" in unknown.output


@pytest.mark.parametrize("family", _params(declared("onnx-int8")))
def test_onnx_int8_quantises_matmul_and_lstm_nodes_and_stays_close(family, tmp_path):
    from geohub.export import OnnxModel, export_onnx_int8

    torch.manual_seed(0)
    model = _build(family).eval()
    info = export_onnx_int8(model, tmp_path / "q")
    assert info["format"] == "onnx-int8" and info["quantized_nodes"] > 0
    assert {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"} & set(info["quantized_node_types"])
    if family == "seismic_magnitude":
        assert "DynamicQuantizeLSTM" in info["quantized_node_types"]
    loaded = load_exported(tmp_path / "q")
    assert isinstance(loaded, OnnxModel)
    check = export_spec(model).check_inputs
    reference = _outputs(model, check)
    actual = {k: v.numpy() for k, v in loaded(**check).items()}
    assert set(actual) == set(reference)
    for name, ref in reference.items():
        finite = np.isfinite(ref)  # the summarizer's absent sentences score -inf in both
        assert np.array_equal(finite, np.isfinite(actual[name])), name
        scale = np.abs(ref[finite]).max() + 1e-6
        assert np.abs(actual[name][finite] - ref[finite]).max() <= 0.05 * scale, name
        assert info["max_abs_difference_from_fp32"][name] <= 0.05 * scale, name


def test_onnx_int8_refuses_convolution_only_models_and_cli_writes_it(tmp_path):
    from geohub.cli import app
    from geohub.export import export_onnx_int8

    with pytest.raises(ExportError, match="does not export to onnx-int8"):
        export_onnx_int8(_picker().eval(), tmp_path / "picker-q")
    assert not (tmp_path / "picker-q").exists()
    torch.manual_seed(0)
    _magnitude().save_pretrained(tmp_path / "model")
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "model"), "--format", "onnx-int8", "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "export.json").read_text())["format"] == "onnx-int8"
    assert load_exported(tmp_path / "out")(
        inputs=torch.randn(2, 3, 800), log_amplitude=torch.randn(2, 3)
    ).magnitude.shape == (2,)


@pytest.mark.parametrize("fmt", ["onnx", "int8", "onnx-int8"])
def test_waveform_api_takes_export_folders(fmt, tmp_path):
    from geohub.data.synthetic_seismic import synthetic_stream
    from geohub.export import export_model
    from geohub.inference.waveform import WaveformModel
    from geohub.models.seismic_picker import SeismicFeatureExtractor

    torch.manual_seed(0)
    _magnitude().save_pretrained(tmp_path / "model")
    SeismicFeatureExtractor(return_amplitude=True).save_pretrained(tmp_path / "model")
    export_model(tmp_path / "model", fmt, tmp_path / fmt)
    stream, _ = synthetic_stream(40.0, seed=3)
    reference = WaveformModel.from_pretrained(tmp_path / "model")
    exported = WaveformModel.from_pretrained(tmp_path / fmt)
    assert exported.feature_extractor.to_dict() == reference.feature_extractor.to_dict()  # the export's copy
    want, got = reference.annotate(stream), exported.annotate(stream)
    assert len(want) > 0 and [t.id for t in got] == [t.id for t in want]
    tolerance = 1e-4 if fmt == "onnx" else 0.05
    for a, b in zip(got, want):
        assert np.abs(a.data - b.data).max() <= tolerance * (np.abs(b.data).max() + 1e-6), a.id


def test_weight_transposes_are_folded_so_that_onnx_int8_quantises_them(tmp_path):
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from geohub.export import fold_weight_transposes

    weight = np.random.RandomState(0).randn(6, 4).astype(np.float32)  # (out, in), as torch.export writes x @ W.T
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]), helper.make_node("MatMul", ["x", "wt"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "a.onnx"))
    assert fold_weight_transposes(tmp_path / "a.onnx", tmp_path / "b.onnx") == 1
    folded = onnx.load(str(tmp_path / "b.onnx"))
    assert [n.op_type for n in folded.graph.node] == ["MatMul"]
    x = np.random.RandomState(1).randn(3, 4).astype(np.float32)
    (y,) = onnxruntime.InferenceSession(str(tmp_path / "b.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    np.testing.assert_allclose(y, x @ weight.T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", ["onnx", "int8"])
def test_load_model_and_processor_takes_export_folders(fmt, tmp_path):
    """The one loader behind the demo and the CLI gives an export folder's model with the processor beside it."""
    from geohub.export import export_model
    from geohub.inference.loading import load_model_and_processor
    from geohub.models.terrain_gan.processing_terrain_gan import TerrainImageProcessor

    torch.manual_seed(0)
    model = _landform().eval()
    model.save_pretrained(tmp_path / "model")
    TerrainImageProcessor(image_size=16).save_pretrained(tmp_path / "model")
    export_model(tmp_path / "model", fmt, tmp_path / fmt)
    loaded, processor = load_model_and_processor(tmp_path / fmt)
    assert type(loaded).__name__ == ("OnnxModel" if fmt == "onnx" else type(model).__name__)
    assert isinstance(processor, TerrainImageProcessor) and processor.image_size == 16
    pixels = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        want, got = model(pixel_values=pixels).logits, loaded(pixel_values=pixels).logits
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-4 if fmt == "onnx" else 0.1)


def test_generate_terrain_takes_an_onnx_generator_export_with_the_same_patches_per_seed(tmp_path):
    from geohub.export import export_model
    from geohub.inference.loading import load_model_and_processor
    from geohub.inference.terrain import generate_mosaic
    from geohub.models.terrain_gan.processing_terrain_gan import TerrainImageProcessor

    torch.manual_seed(0)
    _terrain_gan().save_pretrained(tmp_path / "model")
    TerrainImageProcessor(image_size=16).save_pretrained(tmp_path / "model")
    export_model(tmp_path / "model", "onnx", tmp_path / "onnx")
    (model, processor), (exported, exported_processor) = (load_model_and_processor(tmp_path / name)
                                                          for name in ("model", "onnx"))  # fmt: skip
    want = generate_mosaic(model, 2, seed=7, processor=processor)
    got = generate_mosaic(exported, 2, seed=7, processor=exported_processor)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-3 * (np.abs(want).max() + 1.0)
    assert np.abs(generate_mosaic(exported, 2, seed=8, processor=exported_processor) - got).max() > 1e-3
