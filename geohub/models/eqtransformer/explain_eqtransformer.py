"""What `geohub.explain` explains for EQTransformer (declared as `explain=` in this family's `family.py`; the hook's
contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the P, S or detection ("D") probability at
one sample, per input sample `(C, T)`; default sample: the highest probability."""

from __future__ import annotations

import torch

from ...errors import ExplainError

FILE_READER = "strongest_p"
_OUTPUTS = {"P": "p_probabilities", "S": "s_probabilities", "D": "detection_probabilities"}


# Copied from geohub.models.seismic_picker.explain_seismic_picker.curve_problem
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
    key = _OUTPUTS[phase]

    def probability(v):
        return getattr(model(inputs=v), key)

    return curve_problem(probability, batch["inputs"].float(), target, phase)


def pick_target(model, sample: int) -> int:
    """The target that explains a P pick at `sample` of the model window: that sample."""
    return int(sample)
