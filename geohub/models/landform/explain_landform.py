"""What `geohub.explain` explains for the landform CNN (declared as `explain=` in this family's `family.py`; the
hook's contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the logit of class `k` (default: the
predicted one), per pixel `(H, W)` (channels summed)."""

from __future__ import annotations

import torch

FILE_READER = "dem"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    x = batch["pixel_values"].float()
    with torch.no_grad():
        logits = model(pixel_values=x).logits
    label = int(logits[0].argmax()) if target is None else int(target)
    name = model.config.id2label.get(label, label)
    # baseline: a flat patch at the patch's mean (the CNN's group norms are scale-invariant, so the path from an
    # all-zero patch would be constant except at zero, and integrated gradients would not add up)
    return {"forward": lambda v: model(pixel_values=v).logits[:, label], "inputs": x,
            "baseline": torch.full_like(x, float(x.mean())), "target": f"logit of {name}", "target_index": label,
            "reduce": lambda a: a.sum(axis=1)[0]}  # fmt: skip
