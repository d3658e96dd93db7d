"""What `geohub.explain` explains for the terrain GAN (declared as `explain=` in this family's `family.py`; the hook's
contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the mean of the generated patch relative to a
fixed reference latent, per latent dimension `(latent_dim,)`."""

from __future__ import annotations

import torch

FILE_READER = "latent"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    z = batch["latents"].float()
    # baseline: a fixed reference latent (seed 0), not zero: the generator's pixel norm is scale-invariant, so the
    # straight path from zero would be constant and integrated gradients would not add up (the seed-1 latent when z
    # is the seed-0 one, e.g. the first patch of `generate(seed=0)`: x == baseline explains nothing)
    seed = 0
    reference = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
    if torch.allclose(reference, z):
        seed = 1
        reference = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
    return {"forward": lambda v: model(latents=v).samples.mean(dim=(1, 2, 3)), "inputs": z, "baseline": reference,
            "target": f"mean of the generated patch (relative to the seed-{seed} reference latent)",
            "target_index": None}  # fmt: skip
