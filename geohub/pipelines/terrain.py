"""transformers pipelines for the terrain models.

    from transformers import pipeline
    import geohub  # registers the tasks

    generate = pipeline("terrain-generation", model="path/to/terrain_gan")
    generate(4, seed=0)            # or {"num_samples": 4, "seed": 0}
    # -> {"elevation": (4, H, W) float32 metres, "spacing_m": 92.7}

    classify = pipeline("landform-classification", model="path/to/landform_model")
    classify(dem_patch, spacing_m=30.0)    # (H, H) metres array, a geohub.data.dem.DEM, or a DEM file path
    # -> [{"label": "mountain", "score": 0.93}, ...] sorted by score

The processors (`TerrainProcessor`, `preprocessor_config.json`) are read from the model folder.
"""

from __future__ import annotations

import os

import numpy as np
from transformers import Pipeline

from ..data.dem import DEM, read_dem
from ..inference.terrain import classify_landform

__all__ = ["TerrainGenerationPipeline", "LandformClassificationPipeline"]


def _processor_of(model):
    from ..models.terrain_gan import TerrainProcessor

    source = getattr(model, "name_or_path", None) or ""
    if not source:
        return None
    try:  # a local folder or a Hub repo id (fetched like the weights, so `pipeline(task, model=repo)` keeps it)
        return TerrainProcessor.from_pretrained(source)
    except OSError:
        return None


class _TerrainPipeline(Pipeline):
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.terrain_processor = _processor_of(self.model)

    def _ensure_tensor_on_device(self, inputs, device):
        return inputs


class TerrainGenerationPipeline(_TerrainPipeline):
    """Task "terrain-generation": DEM patches in metres from a `TerrainGAN`."""

    def _sanitize_parameters(self, seed=None, num_samples=None):
        preprocess = {}
        if seed is not None:
            preprocess["seed"] = seed
        if num_samples is not None:
            preprocess["num_samples"] = num_samples
        return preprocess, {}, {}

    def preprocess(self, inputs=None, seed: int | None = None, num_samples: int | None = None):
        if isinstance(inputs, dict):
            seed = inputs.get("seed", seed)
            num_samples = inputs.get("num_samples", num_samples)
        elif inputs is not None:
            num_samples = int(inputs)
        return {"num_samples": int(num_samples or 1), "seed": seed}

    def _forward(self, model_inputs, **forward_parameters):
        elevation = self.model.generate(model_inputs["num_samples"], seed=model_inputs["seed"],
                                        processor=self.terrain_processor)  # fmt: skip
        return {"elevation": elevation}

    def postprocess(self, model_outputs):
        spacing = self.terrain_processor.spacing_m if self.terrain_processor else self.model.config.spacing_m
        return {"elevation": model_outputs["elevation"], "spacing_m": float(spacing)}


class LandformClassificationPipeline(_TerrainPipeline):
    """Task "landform-classification": landform probabilities of one square DEM patch."""

    def _sanitize_parameters(self, spacing_m=None, top_k=None):
        preprocess = {"spacing_m": spacing_m} if spacing_m is not None else {}
        postprocess = {"top_k": top_k} if top_k is not None else {}
        return preprocess, {}, postprocess

    def preprocess(self, inputs, spacing_m: float | None = None):
        if isinstance(inputs, (str, os.PathLike)):
            inputs = read_dem(inputs, spacing_m=spacing_m)
        if not isinstance(inputs, DEM):
            inputs = np.asarray(inputs)
        return {"dem": inputs, "spacing_m": spacing_m}

    def _forward(self, model_inputs, **forward_parameters):
        scores = classify_landform(self.model, model_inputs["dem"], spacing_m=model_inputs["spacing_m"],
                                   processor=self.terrain_processor)  # fmt: skip
        return {"scores": scores}

    def postprocess(self, model_outputs, top_k: int | None = None):
        ranked = sorted(model_outputs["scores"].items(), key=lambda item: -item[1])
        return [{"label": label, "score": score} for label, score in ranked[: top_k or len(ranked)]]
