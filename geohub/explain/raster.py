"""Explanations of DEM tiles: the landform class of a tile on its most typical patch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .core import Explanation, explain

__all__ = ["explain_landform_patch", "explain_patches"]


def explain_landform_patch(model: nn.Module, processor: Any, dem, *, spacing_m: float | None = None,
                           max_patches: int = 64, **kwargs) -> Explanation:  # fmt: skip
    """Per-pixel attribution of a DEM's predicted class (the mean over its patches, as `classify_landform`) on the
    patch that shows it most clearly. `extra`: `patch` `(S, S)` metres, `patch_index`, `num_patches`, `label`,
    `probability` (of the label on that patch), `spacing_m` (the patch's grid spacing)."""
    from ..inference.terrain import landform_patches

    patches = landform_patches(dem, processor, int(model.config.image_size), spacing_m=spacing_m,
                               max_patches=max_patches)  # fmt: skip
    pixel_values = processor(patches)["pixel_values"].to(model.device)
    explanation = explain_patches(model, pixel_values, **kwargs)
    explanation.extra.update(patch=patches[explanation.extra["patch_index"]], spacing_m=float(processor.spacing_m))
    return explanation


def explain_patches(model: nn.Module, pixel_values: torch.Tensor, logits: torch.Tensor | None = None,
                    **kwargs) -> Explanation:  # fmt: skip
    """Per-pixel attribution of the class predicted for a DEM's patches `pixel_values` `(N, 1, S, S)` (the mean of
    their probabilities; `logits` `(N, K)` when already computed) on the patch that shows it most clearly. `extra`:
    `patch_index`, `num_patches`, `label`, `probability` (of the label on that patch)."""
    if logits is None:
        with torch.no_grad():
            logits = model(pixel_values=pixel_values).logits
    probabilities = logits.detach().float().softmax(-1)
    label = int(probabilities.mean(0).argmax())
    best = int(probabilities[:, label].argmax())
    explanation = explain(model, {"pixel_values": pixel_values[best : best + 1]}, target=label, **kwargs)
    explanation.extra.update(patch_index=best, num_patches=len(pixel_values), label=model.config.id2label[label],
                             probability=float(probabilities[best, label]))  # fmt: skip
    return explanation
