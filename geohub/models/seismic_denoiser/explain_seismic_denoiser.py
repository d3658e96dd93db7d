"""What `geohub.explain` explains for the denoiser (declared as `explain=` in this family's `family.py`; the hook's
contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the denoised sample `t` of component `c`
(`target=(c, t)`; default: the largest of component 0), per input sample `(C, T)`."""

from __future__ import annotations

import torch

FILE_READER = "first_window"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    x = batch["inputs"].float()
    if target is None:
        with torch.no_grad():
            channel, sample = 0, int(model(inputs=x).denoised[0, 0].abs().argmax())
    else:
        channel, sample = int(target[0]), int(target[1])
    return {"forward": lambda v: model(inputs=v).denoised[:, channel, sample], "inputs": x,
            "baseline": torch.zeros_like(x), "target": f"denoised sample {sample} of component {channel}",
            "target_index": (channel, sample)}  # fmt: skip
