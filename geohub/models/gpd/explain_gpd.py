"""What `geohub.explain` explains for GPD (declared as `explain=` in this family's `family.py`; the hook's contract is
in `geohub.models.seismic_picker.explain_seismic_picker`): the probability of class `k` of one window (default: the
predicted class), per input sample `(C, T)`."""

from __future__ import annotations

import torch

FILE_READER = "strongest_p"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    x = batch["inputs"].float()
    if target is None:
        with torch.no_grad():
            label = int(model(inputs=x).logits[0].argmax())
    else:
        label = int(target)
    name = model.config.id2label.get(label, label)
    return {"forward": lambda v: torch.softmax(model(inputs=v).logits, -1)[:, label], "inputs": x,
            "baseline": torch.zeros_like(x), "target": f"probability of class {name}", "target_index": label}  # fmt: skip


def pick_target(model, sample: int) -> int:
    """The target that explains a P pick: the window's P class (GPD classifies whole windows)."""
    return int(model.config.label2id["P"])
