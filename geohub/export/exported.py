"""Loaded `geohub export` folders (see `geohub.export`): `load_exported(folder)` gives an `OnnxModel` (onnx,
onnx-int8; run by onnxruntime) or the int8-quantised PyTorch model (int8). `ExportedModelLoader`, which makes
`transformers.pipeline(task, model=FOLDER)` take an export folder, is part of the one loader
(`geohub.inference.loading`)."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .int8 import quantize_int8
from .specs import FORMATS, ExportError

__all__ = ["ExportedOutput", "OnnxModel", "load_exported", "load_int8", "model_class", "load_config"]


def model_class(config, architecture: str | None = None) -> type:
    """The model class named `architecture` (default: `config.architectures[0]`), from transformers or a geohub
    family's declaration (`geohub.auto.families`)."""
    import transformers

    from ..auto import families

    architecture = architecture or (config.architectures or [""])[0]
    if not isinstance(architecture, str):
        architecture = repr(architecture)
    found = getattr(transformers, architecture, None) if architecture.isidentifier() else None
    if isinstance(found, type) and issubclass(found, transformers.PreTrainedModel):
        return found  # never `pipeline`, an Auto class or `Trainer`: export.json is untrusted input
    for family in families().values():
        for path in family.models:
            if path.rsplit(":", 1)[-1] == architecture:
                return family.load(path)
    raise ExportError(f"unknown architecture {architecture!r}", field="architectures",
                      expected="a transformers or geohub model class")  # fmt: skip


def load_config(folder: Path):
    from transformers import AutoConfig

    from .. import auto  # noqa: F401  (registers geohub's config classes)

    return AutoConfig.from_pretrained(os.fspath(folder))


def load_int8(folder: Path, info: dict) -> nn.Module:
    from safetensors.torch import load_file

    config = load_config(folder)
    model = model_class(config, info.get("architecture"))(config)
    try:
        stored = load_file(str(folder / "model.int8.safetensors"))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types for corrupt files
        raise ExportError(f"cannot read the int8 weights ({type(err).__name__}: {str(err)[:80]})",
                          path=folder / "model.int8.safetensors", expected="the file `geohub export` wrote") from None  # fmt: skip
    state = {}
    for name, tensor in stored.items():
        if name.endswith(".int8"):
            base = name[: -len(".int8")]
            state[base] = tensor.float() * stored[base + ".scale"]
        elif not name.endswith(".scale"):
            state[name] = tensor
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if not m.endswith(("position_ids", "num_batches_tracked"))]:
        raise ExportError(f"int8 weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})",
                          path=folder / "model.int8.safetensors")  # fmt: skip
    layers = dict(model.named_modules())
    bad = [m for m in info["quantized_modules"] if not isinstance(layers.get(m), (nn.Linear, nn.LSTM))]
    if bad:  # export.json is untrusted: only the model's own Linear/LSTM layers may be named
        raise ExportError(f"quantized_modules names {bad[:3]}, not Linear/LSTM layers of the model",
                          path=folder / "export.json", field="quantized_modules",
                          expected="names of the model's Linear or LSTM layers")  # fmt: skip
    return quantize_int8(model, info["quantized_modules"])


# --- loading ---------------------------------------------------------------------------------------------------
class ExportedOutput(OrderedDict):
    """The outputs of an exported model by name, also as attributes and by position (like a ModelOutput)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        return tuple(self.values())


class OnnxModel:
    """An ONNX export run with onnxruntime: `model(**inputs)` -> `ExportedOutput` of torch tensors.

    Has the `config`, `main_input_name`, `eval()`, `to()` and `device` that geohub's inference code uses.
    """

    def __init__(self, folder: str | os.PathLike, info: dict | None = None, *, threads: int | None = None):
        import onnxruntime

        self.folder = Path(folder)
        self.info = info or json.loads((self.folder / "export.json").read_text(encoding="utf-8"))
        self.config = load_config(self.folder)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options,
                                                        providers=["CPUExecutionProvider"])  # fmt: skip
        except Exception as err:  # noqa: BLE001 - onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
            raise ExportError(f"onnxruntime cannot load the graph ({type(err).__name__}: {str(err)[:100]})",
                              path=self.folder / "model.onnx", expected="the model.onnx `geohub export` wrote") from None  # fmt: skip
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.main_input_name = self.input_names[0]
        self.name_or_path = os.fspath(self.folder)
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    def can_generate(self) -> bool:
        return False

    # the terrain GAN's export is its generator (`latents` -> `samples`): what the terrain-generation pipeline calls
    def sample_latents(self, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard-normal latents `(num_samples, *latent_shape)`, as `TerrainGAN.sample_latents` draws them."""
        self._need_input("latents")
        shape = tuple(getattr(self.config, "latent_shape", (int(self.config.latent_dim),)))
        return torch.randn(num_samples, *shape, generator=generator)

    def generator(self, latents: torch.Tensor) -> torch.Tensor:
        """The generated samples `(B, 1, H, W)` of latents `(B, latent_dim)` (the exported generator)."""
        self._need_input("latents")
        return self(latents=latents)["samples"]

    def _need_input(self, name: str) -> None:
        if name not in self.input_names:
            raise ExportError(f"this export takes {self.input_names}, not {name!r}", path=self.folder, field=name,
                              expected="a terrain GAN export (its generator)")  # fmt: skip

    def eval(self) -> OnnxModel:
        return self

    def to(self, *args, **kwargs) -> OnnxModel:
        return self

    def __call__(self, *args, **inputs) -> ExportedOutput:
        if args:
            inputs.update(zip(self.input_names, args))
        inputs.pop("return_dict", None)
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ExportError(f"missing input(s) {missing}", field=missing[0], expected=f"inputs {self.input_names}")
        feed = {n: np.asarray(inputs[n].detach().cpu() if isinstance(inputs[n], torch.Tensor) else inputs[n])
                for n in self.input_names}  # fmt: skip
        self._check_feed(feed)
        values = self.session.run(self.output_names, feed)
        return ExportedOutput((n, torch.from_numpy(np.asarray(v))) for n, v in zip(self.output_names, values))

    forward = __call__

    def _check_feed(self, feed: dict[str, np.ndarray]) -> None:
        """`ExportError` naming the input when its rank, a fixed (traced) axis or its dtype does not fit the graph."""
        dtypes = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(double)": np.float64}
        for spec in self.session.get_inputs():
            value, expected = feed[spec.name], list(spec.shape)
            described = "(" + ", ".join(str(d) for d in expected) + ")"
            fixed_ok = all(not isinstance(d, int) or d == g for d, g in zip(expected, value.shape))
            if value.ndim != len(expected) or not fixed_ok:
                raise ExportError(f"input {spec.name!r} has shape {tuple(value.shape)}", path=self.folder,
                                  field=spec.name, expected=f"shape {described} (names are free axes; "
                                  "numbers are fixed by the exported model)")  # fmt: skip
            want = dtypes.get(spec.type)
            if want is not None and value.dtype != want:
                if not np.can_cast(value.dtype, want, casting="same_kind"):
                    raise ExportError(f"input {spec.name!r} has dtype {value.dtype}", path=self.folder,
                                      field=spec.name, expected=f"{np.dtype(want).name} values")  # fmt: skip
                feed[spec.name] = value.astype(want)


def load_exported(folder: str | os.PathLike):
    """The model of an export folder: `OnnxModel` for `onnx` and `onnx-int8`, the int8-quantised PyTorch model for
    `int8`."""
    from .integrity import read_export_info

    folder = Path(folder)
    path = folder / "export.json"
    info = read_export_info(folder)  # every field checked and every file's sha256 verified (ExportError)
    if info.get("format") in ("onnx", "onnx-int8"):
        return OnnxModel(folder, info)
    if info.get("format") == "int8":
        return load_int8(folder, info)
    raise ExportError(f"unknown export format {info.get('format')!r}", path=path, field="format",
                      expected=" or ".join(FORMATS))  # fmt: skip
