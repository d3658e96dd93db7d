"""What `geohub.explain` explains for the U-Net picker (declared as `explain=` in this family's `family.py`): the P
(or S) probability at one sample, per input sample `(C, T)`; default sample: the highest probability.

A family's explain hook defines `FILE_READER` (how `geohub explain FILE` reads an input file for it: one of
`geohub.explain.files.READERS`), `problem(model, batch, target, phase, tokenizer) -> dict` (the scalar to attribute:
`forward`, `inputs`, `baseline`, `target` in words, `target_index`, optionally `reduce` and `tokens`; `batch` holds the
first row of each input, a missing one raises `ExplainError`) and, for phase pickers, `pick_target(model, sample)`.
"""

from __future__ import annotations

import torch

from ...errors import ExplainError

FILE_READER = "strongest_p"


def curve_problem(probability, x: torch.Tensor, target, phase: str) -> dict:
    """The problem "`probability(x)[:, sample]`" of a per-sample probability curve; default sample: its maximum."""
    with torch.no_grad():
        curve = probability(x)[0]
    sample = int(curve.argmax()) if target is None else int(target)
    if not 0 <= sample < curve.shape[-1]:
        raise ExplainError(f"target sample {sample}", field="target", expected=f"0 <= sample < {curve.shape[-1]}")
    return {"forward": lambda v: probability(v)[:, sample], "inputs": x, "baseline": torch.zeros_like(x),
            "target": f"{phase} probability at sample {sample}", "target_index": sample}  # fmt: skip


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    if phase not in ("P", "S"):
        raise ExplainError(f"phase {phase!r}", field="phase", expected="P or S (the U-Net has no detection curve)")
    row = {"P": 1, "S": 2}[phase]

    def probability(v):
        return torch.softmax(model(inputs=v).logits, dim=1)[:, row]

    return curve_problem(probability, batch["inputs"].float(), target, phase)


def pick_target(model, sample: int) -> int:
    """The target that explains a P pick at `sample` of the model window: that sample."""
    return int(sample)
