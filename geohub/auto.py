"""Auto class and pipeline registration, in one place.

Importing `geohub` runs `register_all()`, after which `AutoConfig`, `AutoModel`, the task Auto classes and
`transformers.pipeline(task, model=...)` know every geohub model. Each family adds one `_Family` row and,
if it serves a pipeline, one `_Pipeline` row; nothing else registers anywhere else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import transformers
from transformers import AutoConfig

__all__ = ["register_all", "FAMILIES", "PIPELINES"]


@dataclass(frozen=True)
class _Family:
    module: str  # e.g. "geohub.models.seismic_picker"
    config: str  # configuration class name exported by `module`
    models: dict[str, str] = field(default_factory=dict)  # model class name -> transformers Auto class name


@dataclass(frozen=True)
class _Pipeline:
    task: str  # e.g. "seismic-phase-picking"
    module: str  # module holding the Pipeline subclass
    pipeline_class: str
    auto_class: str  # transformers Auto class used to load the model
    type: str = "multimodal"


FAMILIES: list[_Family] = [
    # one row per family, e.g.
    # _Family("geohub.models.seismic_picker", "SeismicPickerConfig",
    #         {"SeismicPickerModel": "AutoModel", "SeismicPickerForPhasePicking": "AutoModelForTokenClassification"}),
    _Family(
        "geohub.models.extractive_summarizer",
        "ExtractiveSummarizerConfig",
        {"ExtractiveSummarizerForSentenceExtraction": "AutoModel"},
    ),
    _Family("geohub.models.seismic_picker", "SeismicPickerConfig", {"SeismicPickerForPhasePicking": "AutoModel"}),
    _Family(
        "geohub.models.seismic_magnitude", "SeismicMagnitudeConfig", {"SeismicMagnitudeForRegression": "AutoModel"}
    ),
    _Family(
        "geohub.models.landform",
        "LandformConfig",
        {"LandformCNNForImageClassification": "AutoModelForImageClassification"},
    ),
    _Family("geohub.models.terrain_gan", "TerrainGANConfig", {"TerrainGAN": "AutoModel"}),
]

PIPELINES: list[_Pipeline] = [
    _Pipeline(
        "geo-summarization", "geohub.pipelines.text", "GeoSummarizationPipeline", "AutoModelForSeq2SeqLM", "text"
    ),
    _Pipeline("extractive-summarization", "geohub.pipelines.text", "GeoSummarizationPipeline", "AutoModel", "text"),
    _Pipeline(
        "knowledge-extraction",
        "geohub.pipelines.text",
        "KnowledgeExtractionPipeline",
        "AutoModelForTokenClassification",
        "text",
    ),
    _Pipeline("seismic-phase-picking", "geohub.pipelines.seismic", "SeismicPhasePickingPipeline", "AutoModel"),
    _Pipeline("seismic-magnitude", "geohub.pipelines.seismic", "SeismicMagnitudePipeline", "AutoModel"),
    _Pipeline("terrain-generation", "geohub.pipelines.terrain", "TerrainGenerationPipeline", "AutoModel"),
    _Pipeline(
        "landform-classification",
        "geohub.pipelines.terrain",
        "LandformClassificationPipeline",
        "AutoModelForImageClassification",
    ),
]

_registered = False


def register_all() -> None:
    """Register every family with the Auto classes and every pipeline task (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers.pipelines import PIPELINE_REGISTRY

    for family in FAMILIES:
        module = importlib.import_module(family.module)
        config_class = getattr(module, family.config)
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        for model_name, auto_name in family.models.items():
            getattr(transformers, auto_name).register(config_class, getattr(module, model_name), exist_ok=True)
    for spec in PIPELINES:
        module = importlib.import_module(spec.module)
        PIPELINE_REGISTRY.register_pipeline(
            spec.task,
            pipeline_class=getattr(module, spec.pipeline_class),
            pt_model=getattr(transformers, spec.auto_class),
            type=spec.type,
        )
    _registered = True
