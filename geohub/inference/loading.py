"""Loading any geohub model with its processor, in one place.

    from geohub.inference.loading import load_model_and_processor
    model, processor = load_model_and_processor("path/to/folder")       # or "user/name[@revision]" on a Hub

The model's family (`geohub.auto.family_for_config`) says which transformers Auto class loads the model and which
one loads its processor (`AutoFeatureExtractor`, `AutoImageProcessor` or `AutoTokenizer`), so every caller (the
pipelines, the demo, the CLI, the benchmarks) gets the same pair. A folder without its processor is an error
naming the folder, never a silently guessed default.

This is the one loader: the text, relation, denoising and waveform loaders, `geohub.hub.load_model` and export folders
(`ExportedModelLoader`, `load_model_folder`) all come here, and `check_family` is the one family check (a caller
that needs, say, a relation classifier passes `family="relation_classifier"` and its own error class).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GeohubError, HubError

__all__ = [
    "resolve_source",
    "read_config",
    "load_model_and_processor",
    "load_processor",
    "auto_model_class_name",
    "ExportedModelLoader",
    "is_export_folder",
    "load_model_folder",
    "check_family",
]

# stock transformers heads (families built on stock architectures) -> the Auto class that loads them
_AUTO_BY_SUFFIX = (
    ("ForTokenClassification", "AutoModelForTokenClassification"),
    ("ForSequenceClassification", "AutoModelForSequenceClassification"),
    ("ForImageClassification", "AutoModelForImageClassification"),
    ("EncoderDecoderModel", "AutoModelForSeq2SeqLM"),
    ("ForConditionalGeneration", "AutoModelForSeq2SeqLM"),
)


def resolve_source(source: str | os.PathLike, error: type[GeohubError] = HubError) -> Path:
    """A local folder as is; a Hub repo id (`user/name[@revision]`) downloaded to the local cache. A local path
    that is no folder raises `error` (default `HubError`)."""
    path = Path(os.path.expanduser(os.fspath(source)))
    if path.is_dir():
        return path.resolve()
    text = os.fspath(source)
    repo_id, _, revision = text.partition("@")
    if text.startswith((".", "/", "~")) or repo_id.count("/") != 1:
        raise error("model folder not found", path=text, expected="a saved model folder or a Hub repo id user/name")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision or None))
    except Exception as err:  # offline, unknown repo, no access: all end as "this model is unavailable"
        raise HubError(f"cannot download {repo_id!r}: {type(err).__name__}: {err}", field=repo_id) from None


def auto_model_class_name(config: dict) -> str:
    """The transformers Auto class that loads a saved model, from its family's declaration or its class name."""
    from ..auto import family_for_config

    architecture = (config.get("architectures") or [""])[0]
    family = family_for_config(config)
    if family is not None and family.auto_class_of(architecture):
        return family.auto_class_of(architecture)
    for suffix, auto in _AUTO_BY_SUFFIX:
        if architecture.endswith(suffix):
            return auto
    return "AutoModel"


def read_config(folder: str | os.PathLike, error: type[GeohubError] = HubError) -> dict:
    """The JSON object in `folder/config.json` (cheap: no model is built); `error` (default `HubError`) names the
    folder or file when it is missing or not a JSON object, so each caller raises its own kind of error."""
    import json

    folder = Path(folder)
    path = folder / "config.json"
    if not folder.is_dir() or not path.is_file():
        raise error("not a model folder (no config.json)", path=folder,
                    expected="a folder written by save_pretrained (config.json + model.safetensors)")  # fmt: skip
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"config.json is not valid JSON ({err})", path=path, expected="a JSON object") from None
    if not isinstance(config, dict):
        raise error(f"config.json holds a {type(config).__name__}", path=path, expected="a JSON object")
    return config


def load_processor(folder: str | os.PathLike, config: dict | None = None):
    """The processor saved in `folder`, through the Auto class its family declares (a tokenizer for text models).

    A folder whose processor file is missing raises `HubError` naming the folder."""
    import transformers

    from ..auto import family_for_config

    folder = Path(folder)
    config = config if config is not None else read_config(folder)
    family = family_for_config(config)
    auto_name = family.processor_auto if family is not None and family.processor_auto else None
    if auto_name is None:
        auto_name = "AutoTokenizer" if (folder / "tokenizer_config.json").is_file() else "AutoFeatureExtractor"
    expected = "tokenizer_config.json" if auto_name == "AutoTokenizer" else "preprocessor_config.json"
    if not (folder / expected).is_file():
        raise HubError(
            f"the model folder has no processor ({expected} is missing)",
            path=folder,
            expected="a folder saved with its processor: processor.save_pretrained(folder) beside the model",
        )
    return getattr(transformers, auto_name).from_pretrained(os.fspath(folder))


def check_family(
    config: Any,
    family: str | tuple[str, ...] | None,
    *,
    path: str | os.PathLike | None = None,
    error: type[GeohubError] = HubError,
    field: str = "model",
    what: str | None = None,
):
    """The one family check: the `Family` of `config` (a config.json dict or a `PretrainedConfig`; None for a model
    that is not geohub's). When `family` names the expected family (or families), anything else raises `error`
    naming `path`, the model type found and `what` was expected (default: the families' names)."""
    from ..auto import families, family_for_config

    found = family_for_config(config)
    if family is None:
        return found
    wanted = (family,) if isinstance(family, str) else tuple(family)
    if found is None or found.name not in wanted:
        data = (
            config
            if isinstance(config, dict)
            else {key: getattr(config, key, None) for key in ("model_type", "geohub_family")}
        )  # a PretrainedConfig, or any object with a model_type
        what = what or " or ".join(name.replace("_", " ") for name in wanted)
        types = ", ".join(
            str(families()[n].model_type) for n in wanted if n in families() and families()[n].model_type
        )
        raise error(f"the model is not a {what} (model_type {data.get('model_type')!r})", path=path, field=field,
                    expected=f"a {what} model folder" + (f" (model_type {types})" if types else ""))  # fmt: skip
    return found


def load_model_and_processor(
    source: Any,
    *,
    device: str | None = None,
    family: str | tuple[str, ...] | None = None,
    error: type[GeohubError] = HubError,
    field: str = "model",
    processor: bool = True,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """(model in eval mode, its processor) from a folder or a Hub repo id (see the module docstring).

    `family`: the family (or families) the model must belong to (`check_family`); `error` / `field`: the error class
    and field name of a missing folder, a bad config.json or a wrong family, so that each caller reports its kind of
    error; `processor=False`: the model only (`(model, None)`); `kwargs` go to `from_pretrained`. An export folder
    written by `geohub export` (with `export.json`) gives its ONNX or int8 model (`geohub.export.load_exported`) with
    the processor copied beside it."""
    import transformers

    import geohub  # noqa: F401  (registers the families with the Auto classes)

    folder = resolve_source(source, error)
    config = read_config(folder, error)
    check_family(config, family, path=folder / "config.json", error=error, field=field)
    auto = getattr(transformers, auto_model_class_name(config))
    model = load_model_folder(auto, folder, **{"use_safetensors": True, **kwargs})
    if device is not None:
        model = model.to(device)
    return model.eval(), (load_processor(folder, config) if processor else None)


def is_export_folder(folder: str | os.PathLike) -> bool:
    """True when `folder` is a local folder written by `geohub export` (it holds `export.json`)."""
    return (Path(os.fspath(folder)) / "export.json").is_file()


def load_model_folder(model_class, folder: str | os.PathLike, **kwargs):
    """The model saved in `folder` (or a Hub repo id): `geohub.export.load_exported(folder)` for a `geohub export`
    folder (its ONNX or int8 model), else `model_class.from_pretrained(folder, **kwargs)`; what every geohub loader
    of a model folder calls."""
    if is_export_folder(folder):
        from ..export import load_exported  # onnxruntime and the export code only when an export folder is loaded

        return load_exported(folder)
    return model_class.from_pretrained(os.fspath(folder), **kwargs)


class ExportedModelLoader:
    """The first model class of every geohub pipeline task (`geohub.auto.register_all`), so that
    `transformers.pipeline(task, model=FOLDER)` takes an export folder like a model folder.

    `from_pretrained(folder)` returns `geohub.export.load_exported(folder)` when the folder holds `export.json`;
    otherwise it raises `OSError`, which transformers' `load_model` catches before trying the task's Auto class (one
    file check, nothing loaded). The processor files the export copied beside the model load as from a model folder.
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        folder = Path(os.fspath(pretrained_model_name_or_path))
        if not is_export_folder(folder):
            raise OSError(f"{folder} is not a geohub export folder (no export.json); the task's Auto class loads it")
        return load_model_folder(None, folder)
