"""Every registry of geohub, derived from the families' declarations (`geohub/models/<family>/family.py`).

Importing `geohub` runs `register_all()`, after which `AutoConfig`, the Auto model classes, `AutoFeatureExtractor`
/ `AutoImageProcessor` and `transformers.pipeline(task, model=...)` know every geohub family (each registry is filled
when transformers imports it, so `import geohub` stays light: `tests/test_layering.py`). The other registries
read the same declarations through the functions here:

- `families()`: name -> `Family`, discovered from the `family.py` of each folder under `geohub/models/` (and under
  the packages named in `$GEOHUB_FAMILY_PACKAGES`, see `family_packages()`);
- `family_for_config(config)`: the family of a saved model (by `model_type`, a legacy model type, or the
  `geohub_family` that training writes into the config of models built on stock transformers architectures);
- `training_tasks()`: recipe `task:` name -> import path of its `Task` (used by `geohub.training.tasks`);
- `demo_slots()`: the demo's model slots (also the quickstart's folders and `geohub demo`'s model flags);
- `quickstart_families()`: the families `geohub quickstart` trains, in order.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from .family import ConversionDecl, DemoDecl, Family
from .import_hooks import when_imported

__all__ = [
    "register_all",
    "families",
    "get_family",
    "family_for_config",
    "training_tasks",
    "demo_slots",
    "quickstart_families",
    "pipeline_tasks",
    "conversions",
    "family_for_model_type",
    "family_for_model",
    "family_packages",
]


FAMILY_PACKAGES_ENV = "GEOHUB_FAMILY_PACKAGES"


def family_packages() -> list[str]:
    """The packages whose sub-packages with a `family.py` are families: `geohub.models`, then the importable packages
    named (comma-separated) in `$GEOHUB_FAMILY_PACKAGES`, e.g. a family developed outside geohub."""
    import os

    extra = [name.strip() for name in os.environ.get(FAMILY_PACKAGES_ENV, "").split(",") if name.strip()]
    return ["geohub.models", *dict.fromkeys(name for name in extra if name != "geohub.models")]


@functools.cache
def _discovered() -> tuple[Family, ...]:
    found, names = [], {}
    for package_name in family_packages():
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.ispkg or not (Path(package.__path__[0]) / info.name / "family.py").is_file():
                continue
            family = importlib.import_module(f"{package_name}.{info.name}.family").FAMILY
            if not isinstance(family, Family) or family.name != info.name:
                raise TypeError(
                    f"{package_name}.{info.name}.family must define FAMILY = Family(name={info.name!r}, ...)"
                )
            if family.name in names:
                raise TypeError(f"family {family.name!r} is declared by {names[family.name]} and {package_name}")
            names[family.name] = package_name
            found.append(family)
    return tuple(found)


def families() -> dict[str, Family]:
    """Every family, by name (its folder under `geohub/models/`)."""
    return {family.name: family for family in _discovered()}


def get_family(name: str) -> Family:
    """The family called `name`; a `KeyError` lists the known ones."""
    known = families()
    if name not in known:
        raise KeyError(f"unknown geohub family {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def family_for_config(config) -> Family | None:
    """The family of a saved model's config (a `PretrainedConfig` or the dict of config.json); None if not geohub's."""
    data = (
        config
        if isinstance(config, dict)
        else {key: getattr(config, key, None) for key in ("model_type", "geohub_family")}
    )  # a PretrainedConfig, or any object with a model_type
    named = data.get("geohub_family")
    if named in families():
        return families()[named]
    model_type = data.get("model_type")
    for family in _discovered():
        if model_type and (model_type == family.model_type or model_type in family.legacy_model_types):
            return family
    return None


def family_for_model(model) -> Family | None:
    """The family of a loaded model (`family_for_config` of its config; for a stock architecture without
    `geohub_family`, e.g. a plain BERT token classifier, the family whose `stock_model_types` has its model type)."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return None
    family = family_for_config(config)
    model_type = getattr(config, "model_type", None)
    if family is None and model_type:
        family = next((f for f in _discovered() if model_type in f.stock_model_types), None)
    return family


def family_for_model_type(model_type: str | None) -> Family | None:
    """The family whose `model_type` (or a legacy one) is `model_type`; None if no geohub family has it."""
    return family_for_config({"model_type": model_type}) if model_type else None


def conversions() -> dict[str, tuple[Family, ConversionDecl]]:
    """`geohub convert` NAME -> (family, its `ConversionDecl`), from every family's `conversions`."""
    found: dict[str, tuple[Family, ConversionDecl]] = {}
    for family in _discovered():
        for decl in family.conversions:
            if found.setdefault(decl.name, (family, decl))[0] is not family:
                raise ValueError(f"conversion {decl.name!r} is declared by two families")
    return found


def training_tasks() -> dict[str, str]:
    """Recipe `task:` name -> import path of its `geohub.training.tasks.Task`."""
    tasks: dict[str, str] = {}
    for family in _discovered():
        if family.task and tasks.setdefault(family.task, family.task_object) != family.task_object:
            raise ValueError(f"training task {family.task!r} is declared twice with different Task objects")
    return tasks


def demo_slots() -> dict[str, tuple[Family, DemoDecl]]:
    """Demo slot name -> (family, its `DemoDecl`), in quickstart order."""
    ordered = sorted(_discovered(), key=lambda f: (f.quickstart_order, f.name))
    return {family.demo.slot: (family, family.demo) for family in ordered if family.demo is not None}


def quickstart_families() -> list[Family]:
    """The families with a quickstart recipe, small and fast ones first."""
    return sorted((f for f in _discovered() if f.quickstart is not None), key=lambda f: (f.quickstart_order, f.name))


def pipeline_tasks() -> dict[str, tuple[Family, object]]:
    """Pipeline task name -> (family, its `PipelineDecl`)."""
    return {decl.task: (family, decl) for family in _discovered() for decl in family.pipelines}


def _register_config(model_type: str, config_class, *, alias: bool = False) -> None:
    """Add `model_type` -> `config_class` to transformers' config mapping; a clash with another class is an error."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type in CONFIG_MAPPING:
        if CONFIG_MAPPING[model_type] is config_class:
            return
        raise RuntimeError(
            f"model type {model_type!r} is already registered by {CONFIG_MAPPING[model_type].__module__}; "
            f"geohub's {config_class.__name__} cannot take it"
        )
    if alias:  # an older saved name of the same config: `AutoConfig.register` only takes the class's own name
        CONFIG_MAPPING.register(model_type, config_class)
    else:
        AutoConfig.register(model_type, config_class)


def _register_configs(_module=None) -> None:
    """Every family's config class (and legacy model types) in transformers' config mapping."""
    for family in _discovered():
        config_class = family.config_class()
        if config_class is None:
            continue
        if config_class.model_type != family.model_type:
            raise TypeError(f"{config_class.__name__}.model_type is {config_class.model_type!r}, family.py says "
                            f"{family.model_type!r}")  # fmt: skip
        _register_config(family.model_type, config_class)
        for legacy in family.legacy_model_types:
            _register_config(legacy, config_class, alias=True)


def _register_models(modeling_auto) -> None:
    """Every family's model classes with the Auto model classes its declaration names."""
    _register_configs()
    for family in _discovered():
        config_class = family.config_class()
        if config_class is not None:
            for path, auto_name in family.models.items():
                getattr(modeling_auto, auto_name).register(config_class, family.load(path), exist_ok=True)


def _register_processors(auto_name: str, auto_module) -> None:
    """Every family's processor with `auto_name` (`AutoFeatureExtractor` or `AutoImageProcessor`)."""
    _register_configs()
    for family in _discovered():
        config_class = family.config_class()
        if config_class is None or family.processor_auto != auto_name:
            continue
        processor = family.processor_class()
        if processor is None:
            continue
        if auto_name == "AutoFeatureExtractor":
            auto_module.AutoFeatureExtractor.register(config_class, processor, exist_ok=True)
        else:
            backends = {"pil": processor}
            backends.update({f"legacy-{path.rpartition(':')[2]}": family.load(path)
                             for path in family.legacy_processors})  # fmt: skip
            auto_module.AutoImageProcessor.register(config_class, image_processor_classes=backends, exist_ok=True)


def _register_pipelines(pipelines) -> None:
    """Every family's pipeline tasks. An export folder (`geohub export`, with export.json) loads as its ONNX / int8
    model (`ExportedModelLoader`); any other folder falls through to the task's Auto class."""
    import transformers

    from .inference.loading import ExportedModelLoader

    for task, (family, decl) in pipeline_tasks().items():
        pipelines.PIPELINE_REGISTRY.register_pipeline(
            task,
            pipeline_class=family.load(decl.pipeline_class),
            pt_model=(ExportedModelLoader, getattr(transformers, decl.auto_model)),
            type=decl.type,
        )


_AUTO = "transformers.models.auto."
_registered = False


def register_all() -> None:
    """Register every family with transformers (idempotent), each registry when transformers first imports it.

    `AutoConfig`, the Auto model classes, `AutoFeatureExtractor` / `AutoImageProcessor` and `transformers.pipeline`
    each learn geohub's families right after transformers imports the module that defines them (at once when it
    already has: `geohub.import_hooks`), so `import geohub` itself imports neither the transformers model stack nor
    any geohub model, processor or pipeline.
    """
    global _registered
    if _registered:
        return
    _registered = True
    for family in _discovered():
        if family.processor_auto not in (None, "AutoFeatureExtractor", "AutoImageProcessor", "AutoTokenizer"):
            raise ValueError(f"family {family.name}: processor_auto {family.processor_auto!r} cannot register a "
                             "processor")  # fmt: skip
    when_imported(_AUTO + "configuration_auto", _register_configs)
    when_imported(_AUTO + "modeling_auto", _register_models)
    when_imported(_AUTO + "feature_extraction_auto", functools.partial(_register_processors, "AutoFeatureExtractor"))
    when_imported(_AUTO + "image_processing_auto", functools.partial(_register_processors, "AutoImageProcessor"))
    when_imported("transformers.pipelines", _register_pipelines)
