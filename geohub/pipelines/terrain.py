"""transformers pipelines for the terrain models.

    from transformers import pipeline
    import geohub  # registers the tasks

    generate = pipeline("terrain-generation", model="path/to/terrain_gan")
    generate(4, seed=0)            # or {"num_samples": 4, "seed": 0}
    # -> {"elevation": (4, H, W) float32 metres, "spacing_m": 92.7}

    classify = pipeline("landform-classification", model="path/to/landform_model")
    classify(dem, spacing_m=30.0)  # (rows, cols) metres array, a geohub.data.dem.DEM, or a DEM file path
    # -> [{"label": "mountain", "score": 0.93}, ...] sorted by score

Both follow transformers' chunk-pipeline contract: `preprocess` cuts one input into model-sized items (one latent
vector per generated patch; one patch per DEM tile), `_forward` runs the model on a batch of them, `postprocess`
joins the items of one input. So `batch_size`, lists of inputs and `num_workers` work as for any pipeline, and the
answer does not depend on them. A list given to the landform pipeline is checked before any work (a file's headers
are read); `errors="return"` gives a bad item `{"index", "input", "error", "error_type"}` in its place instead of
raising (`geohub.pipelines.items`). The processor (`TerrainImageProcessor`, saved with the model) is loaded by
`pipeline()` through `AutoImageProcessor`; the landform pipeline computes exactly
`geohub.inference.terrain.classify_landform` (what the demo serves).

Explanations (`geohub.explain`): `explain=True` (integrated gradients; or `"saliency"` / `"input_x_gradient"`,
with `explain_steps=` / `explain_max_steps=`). Generation adds `"explanation"`: one entry per generated patch, the
patch's mean (normalised units) attributed per latent dimension `(latent_dim,)` against a fixed seed-0 reference
latent. Classification returns `{"predictions": [...as without explain...], "explanation": {...}}`: the logit of
the predicted class attributed per pixel `(S, S)` of the patch that shows it most clearly (`patch_index`,
`num_patches`, `label`, `probability`). Entries hold `attributions` (numpy), `method`, `target`, `output`,
`baseline_output`, `completeness_gap`, `relative_completeness_gap`, `n_steps`
(`geohub.explain.explanation_entry`). Without `explain` the results are unchanged.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline

from ..data.dem import DEM, read_dem
from ..data.limits import check_count, check_seed, check_top_k
from ..errors import RasterError
from ..explain import explain as explain_model
from ..explain import explain_patches, explanation_entry, pipeline_settings
from ..inference.terrain import landform_patches, landform_scores
from .items import check_dem_file, check_errors_mode, check_items, run_items

__all__ = ["TerrainGenerationPipeline", "LandformClassificationPipeline"]


class _TerrainPipeline(ChunkPipeline):
    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.image_processor is None:
            raise RasterError(
                "the terrain model was given without its image processor",
                field="image_processor",
                expected="a model folder saved with its TerrainImageProcessor, or image_processor=...",
            )

    @property
    def terrain_processor(self):
        return self.image_processor


class TerrainGenerationPipeline(_TerrainPipeline):
    """Task "terrain-generation": DEM patches in metres from a `TerrainGAN` (same seed, same patches)."""

    def _sanitize_parameters(self, seed=None, num_samples=None, explain=None, explain_steps=None,
                             explain_max_steps=None):  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        preprocess = {}
        if seed is not None:
            preprocess["seed"] = seed
        if num_samples is not None:
            preprocess["num_samples"] = num_samples
        return preprocess, {}, {"explain": settings}

    def preprocess(self, inputs=None, seed: int | None = None, num_samples: int | None = None):
        if isinstance(inputs, dict):
            seed = inputs.get("seed", seed)
            num_samples = inputs.get("num_samples", num_samples)
        elif inputs is not None:
            num_samples = inputs
        num_samples = check_count(1 if num_samples is None else num_samples, "num_samples", 1, 4096, error=RasterError)
        seed = check_seed(seed)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        latents = self.model.sample_latents(num_samples, rng)
        for index in range(num_samples):
            yield {"latents": latents[index : index + 1], "is_last": index == num_samples - 1}

    def _forward(self, model_inputs):
        is_last = model_inputs.pop("is_last")
        with torch.no_grad():
            values = self.model.generator(model_inputs["latents"].to(self.model.device))
        return {"values": values, "latents": model_inputs["latents"], "is_last": is_last}

    def postprocess(self, model_outputs, explain: dict | None = None):
        values = torch.cat([output["values"] for output in model_outputs])
        result = {
            "elevation": self.image_processor.postprocess(values),
            "spacing_m": float(self.image_processor.spacing_m),
        }
        if explain is not None:
            result["explanation"] = [
                explanation_entry(explain_model(self.model, {"latents": output["latents"]}, **explain))
                for output in model_outputs
            ]
        return result


def check_dem_input(item, field: str) -> None:
    """A RasterError naming `field` unless `item` is a DEM file's path (headers checked), a `DEM` or a 2-D numeric
    array."""
    if isinstance(item, DEM):
        return
    if isinstance(item, (str, os.PathLike)):
        if not str(item).strip() or not os.path.isfile(item):
            raise RasterError("DEM file not found", path=str(item), field=field, expected="an existing file")
        check_dem_file(item, field)
        return
    array = np.asarray(item) if isinstance(item, (np.ndarray, list, tuple)) else None
    if array is None or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise RasterError(f"{type(item).__name__} {str(item)[:40]!r} is not a DEM input", field=field,
                          expected="a DEM file path, a geohub DEM or a 2-D array of elevations")  # fmt: skip


class LandformClassificationPipeline(_TerrainPipeline):
    """Task "landform-classification": landform probabilities of a DEM of any size (mean over its patches)."""

    def _sanitize_parameters(self, spacing_m=None, top_k=None, max_patches=None, explain=None, explain_steps=None,
                             explain_max_steps=None):  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        preprocess = {}
        if spacing_m is not None:
            preprocess["spacing_m"] = spacing_m
        if max_patches is not None:
            preprocess["max_patches"] = check_count(max_patches, "max_patches", error=RasterError)
        postprocess = {}
        if top_k is not None:
            postprocess["top_k"] = check_top_k(top_k, self.model.config.num_labels)
        return preprocess, {}, {**postprocess, "explain": settings}

    def __call__(self, inputs, *args, errors: str = "raise", **kwargs):
        """Every input (each item of a list) is checked before any work: a path to a file whose headers read
        (`check_dem_file`: format, declared size), a `DEM` or a 2-D array of numbers. `errors="raise"` (default): a
        bad item is an error naming its index (`inputs[1]`), so no good result is computed and then lost;
        `errors="return"`: a bad item's result is its error (`geohub.pipelines.items`), an item whose pixels fail
        only when read included, and the others their predictions."""
        if check_errors_mode(errors) == "return":
            return run_items(inputs, check_dem_input, lambda items: super(LandformClassificationPipeline, self).__call__(
                items, *args, **kwargs), lambda item: super(LandformClassificationPipeline, self).__call__(
                item, *args, **kwargs))  # fmt: skip
        check_items(inputs, check_dem_input)
        return super().__call__(inputs, *args, **kwargs)

    def preprocess(self, inputs, spacing_m: float | None = None, max_patches: int = 64):
        if isinstance(inputs, (str, os.PathLike)):
            inputs = read_dem(inputs, spacing_m=spacing_m)
            spacing_m = None
        if not isinstance(inputs, DEM):
            inputs = np.asarray(inputs)
        patches = landform_patches(inputs, self.image_processor, int(self.model.config.image_size),
                                   spacing_m=spacing_m, max_patches=max_patches)  # fmt: skip
        pixel_values = self.image_processor(patches)["pixel_values"]
        for index in range(len(patches)):
            yield {"pixel_values": pixel_values[index : index + 1], "is_last": index == len(patches) - 1}

    def _forward(self, model_inputs):
        is_last = model_inputs.pop("is_last")
        with torch.no_grad():
            logits = self.model(pixel_values=model_inputs["pixel_values"].to(self.model.device)).logits
        return {"logits": logits, "pixel_values": model_inputs["pixel_values"], "is_last": is_last}

    def postprocess(self, model_outputs, top_k: int | None = None, explain: dict | None = None):
        logits = torch.cat([output["logits"] for output in model_outputs])
        scores = landform_scores(self.model, logits)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        predictions = [{"label": label, "score": score} for label, score in ranked[: top_k or len(ranked)]]
        if explain is None:
            return predictions
        pixel_values = torch.cat([output["pixel_values"] for output in model_outputs]).to(self.model.device)
        e = explain_patches(self.model, pixel_values, logits, **explain)
        context = {key: e.extra[key] for key in ("label", "probability", "patch_index", "num_patches")}
        return {"predictions": predictions, "explanation": explanation_entry(e, **context)}
