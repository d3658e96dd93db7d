"""Child process for tests/training/test_atomic_writes.py: starts a save and is SIGKILLed in the middle of it.

The weights writer (or the checkpoint's RNG-state writer) is slowed down *after* it has written part of its
output, so the parent can kill the process at a known point of the save. Usage:
    python _atomic_child.py save_pretrained TARGET MARKER
    python _atomic_child.py checkpoint OUTPUT_DIR MARKER
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn
from transformers import PretrainedConfig

from geohub.modeling_utils import GeoPreTrainedModel


class TinyConfig(PretrainedConfig):
    model_type = "geohub_atomic_test"

    def __init__(self, width: int = 16, **kwargs):
        self.width = width
        super().__init__(**kwargs)


class TinyBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(self.linear(x))


class TinyRegressor(GeoPreTrainedModel):
    config_class = TinyConfig
    base_model_prefix = "tiny"
    main_input_name = "inputs"
    _no_split_modules = ["TinyBlock"]

    def __init__(self, config):
        super().__init__(config)
        self.block = TinyBlock(config.width)
        self.head = nn.Linear(config.width, 1)
        self.post_init()

    def forward(self, inputs, labels=None):
        prediction = self.head(self.block(inputs)).squeeze(-1)
        loss = torch.nn.functional.mse_loss(prediction, labels) if labels is not None else None
        return {"loss": loss, "logits": prediction}


def _stall(marker: Path):
    marker.write_text("writing")
    time.sleep(120)


def save_pretrained(target: Path, marker: Path):
    import transformers.modeling_utils as tmu

    real_save = tmu.safe_save_file

    def slow_save(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as handle:  # leave a truncated file behind, as a crash mid-write would
            handle.truncate(64)
        _stall(marker)

    tmu.safe_save_file = slow_save
    TinyRegressor(TinyConfig()).save_pretrained(target)


def checkpoint(output_dir: Path, marker: Path):
    import datasets
    from transformers import TrainingArguments

    from geohub.training.supervised import GeoTrainer

    torch.manual_seed(0)
    data = datasets.Dataset.from_dict({"inputs": torch.randn(32, 16).tolist(), "labels": torch.randn(32).tolist()})
    args = TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=8, max_steps=4, save_steps=2, report_to="none",
        use_cpu=True, logging_steps=1, disable_tqdm=True,
    )  # fmt: skip

    class StallingTrainer(GeoTrainer):
        def _save_rng_state(self, output_dir):
            super()._save_rng_state(output_dir)
            if self.state.global_step == 4:  # the second checkpoint: model and optimizer written, state not
                _stall(marker)

    StallingTrainer(model=TinyRegressor(TinyConfig()), args=args, train_dataset=data.with_format("torch")).train()


if __name__ == "__main__":
    mode, path, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    {"save_pretrained": save_pretrained, "checkpoint": checkpoint}[mode](path, marker)
