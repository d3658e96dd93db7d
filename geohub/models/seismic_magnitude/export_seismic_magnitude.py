"""The magnitude model's example inputs for `geohub export` (declared as `export=ExportDecl(example=...)` in this
family's `family.py`): the window `inputs` (B, C, T) and its per-channel `log_amplitude` (B, C)."""

from __future__ import annotations

import torch


def example_inputs(model, check: bool, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Batch 2 at the configured window (traced), or batch 3 at three quarters of it (`check`)."""
    channels, length = int(model.config.in_channels), int(model.config.window_length)
    batch, samples = (3, max(int(length * 0.75), 64)) if check else (2, length)
    return {"inputs": torch.randn(batch, channels, samples, generator=generator),
            "log_amplitude": torch.randn(batch, channels, generator=generator)}  # fmt: skip
