"""What `geohub.explain` explains for the magnitude model (declared as `explain=` in this family's `family.py`; the
hook's contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the predicted magnitude, per input
sample `(C, T)` (the window's `log_amplitude` held fixed)."""

from __future__ import annotations

import torch

FILE_READER = "first_window"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    x = batch["inputs"].float()
    extra = {k: v for k, v in batch.items() if k not in {"inputs", "labels"}}

    def magnitude(v):
        return model(inputs=v, **{k: t.expand(v.shape[0], *t.shape[1:]) for k, t in extra.items()}).magnitude

    return {"forward": magnitude, "inputs": x, "baseline": torch.zeros_like(x), "target": "predicted magnitude",
            "target_index": None}  # fmt: skip
