"""Trainer glue for geohub's supervised tasks.

- `GeoTrainer` / `GeoSeq2SeqTrainer`: transformers' `Trainer` / `Seq2SeqTrainer` whose checkpoints are written
  into a staging folder and renamed into `checkpoint-N` only when complete, so a run killed mid-save never
  leaves a checkpoint that `resume_from_checkpoint` would pick up half-written.
- `resolve_resume_checkpoint`: `resume_from_checkpoint: last` in a recipe means "the newest complete
  checkpoint in output_dir, if any".
- `train_and_evaluate`: the shared body of every supervised task (train with resume, evaluate, save the final
  model and its processor atomically, write metrics).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transformers import Seq2SeqTrainer, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from ..utils import atomic_write_text, fsync_dir, get_logger, progress_output
from .threads import AdaptiveThreadsMixin

logger = get_logger(__name__)

__all__ = [
    "GeoTrainer",
    "GeoSeq2SeqTrainer",
    "resolve_resume_checkpoint",
    "train_and_evaluate",
    "with_device_defaults",
    "staged_checkpoint",
    "add_results",
]

STAGING_DIR = ".checkpoint-staging"
_RESUME_LAST = {"last", "auto", "true", "latest"}


@contextlib.contextmanager
def staged_checkpoint(accelerator, run_dir: str, name: str, *, main: bool) -> Iterator[str]:
    """Yield `<run_dir>/.checkpoint-staging/<name>` for every process to write a checkpoint into; afterwards the
    main process flushes it and renames it to `<run_dir>/<name>` in one `os.replace`, so a run killed mid-save never
    leaves a `checkpoint-N` that resumes from half-written state. Used by the Trainer tasks and the GAN loop.

    The folder is created before a barrier: other ranks write their RNG states into it while the main process
    saves the model, so the model's own atomic save must move files into this folder, never replace it."""
    staging_root = os.path.join(run_dir, STAGING_DIR)
    staging = os.path.join(staging_root, name)
    if main:
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
    accelerator.wait_for_everyone()
    yield staging
    accelerator.wait_for_everyone()
    if main:
        for root, _, files in os.walk(staging):
            for file_name in files:
                with open(os.path.join(root, file_name), "rb") as handle:
                    os.fsync(handle.fileno())
        final = os.path.join(run_dir, name)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(staging, final)
        fsync_dir(run_dir)
        shutil.rmtree(staging_root, ignore_errors=True)


class AtomicCheckpointMixin:
    """Write each checkpoint under `<output_dir>/.checkpoint-staging/` and rename it into place when complete."""

    _staging_root: str | None = None

    def _get_output_dir(self, trial) -> str:  # noqa: D401  (transformers hook)
        if self._staging_root is not None:
            return self._staging_root
        return super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        with staged_checkpoint(self.accelerator, run_dir, name, main=self.args.should_save):
            self._staging_root = os.path.join(run_dir, STAGING_DIR)
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._staging_root = None
        if self.args.should_save:
            staging_root = os.path.join(run_dir, STAGING_DIR)
            best = self.state.best_model_checkpoint
            if best and best.startswith(staging_root):
                self.state.best_model_checkpoint = os.path.join(run_dir, os.path.basename(best))
            from transformers.trainer_utils import rotate_checkpoints

            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=False,
            )
        self.accelerator.wait_for_everyone()


class GeoTrainer(AdaptiveThreadsMixin, AtomicCheckpointMixin, Trainer):
    """`transformers.Trainer` with atomic checkpoints and a thread count that follows the machine's load."""


class GeoSeq2SeqTrainer(AdaptiveThreadsMixin, AtomicCheckpointMixin, Seq2SeqTrainer):
    """`transformers.Seq2SeqTrainer` with atomic checkpoints and a thread count that follows the machine's load."""


def resolve_resume_checkpoint(args: TrainingArguments) -> str | None:
    """Turn `resume_from_checkpoint` into a path or None.

    `last`/`auto`/`true` pick the newest complete `checkpoint-N` in `output_dir` (None if there is none, so the
    same recipe both starts and resumes a run); any other value must be an existing checkpoint folder.
    """
    value = args.resume_from_checkpoint
    if value is None or str(value).lower() in {"", "none", "false"}:
        return None
    if str(value).lower() in _RESUME_LAST:
        if not os.path.isdir(args.output_dir):
            return None
        return get_last_checkpoint(args.output_dir)
    if not os.path.isdir(value):
        from ..errors import ConfigError

        raise ConfigError("checkpoint folder not found", path=value, field="resume_from_checkpoint")
    return str(value)


def with_device_defaults(args: TrainingArguments, **changes) -> TrainingArguments:
    """`args` with `changes`, and `use_cpu=True` where CUDA is absent (so that N CPU processes under accelerate form
    a gloo group instead of failing to find a GPU)."""
    import dataclasses

    import torch

    if not torch.cuda.is_available() and not args.use_cpu:
        changes["use_cpu"] = True
    return dataclasses.replace(args, **changes) if changes else args


class _QuietProgress(TrainerCallback):
    """A training progress bar on `stream` (what `geohub.utils.progress_output` names); the log dictionaries go
    to stdout, which the caller sends to its log file."""

    def __init__(self, stream, description: str):
        self.stream = stream
        self.description = description
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, file=self.stream,
                            desc=self.description, dynamic_ncols=True, leave=True)  # fmt: skip

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            print({k: round(v, 6) if isinstance(v, float) else v for k, v in logs.items()})  # to the run's log

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def add_results(trainer: Trainer, metrics: dict[str, float]) -> None:
    """Merge `metrics` (computed after `train_and_evaluate`, e.g. a test set) into `<output_dir>/all_results.json`
    (atomically, on the main process)."""
    if trainer.is_world_process_zero():
        path = Path(trainer.args.output_dir) / "all_results.json"
        previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        atomic_write_text(path, json.dumps({**previous, **metrics}, indent=2, sort_keys=True, default=float))


def train_and_evaluate(
    trainer: Trainer,
    *,
    processors: list[Any] | tuple[Any, ...] = (),
    final_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Train (resuming if asked), evaluate, and save the final model + processors into `final_dir`.

    `final_dir` defaults to `output_dir` itself (beside the checkpoints), where `from_pretrained(output_dir)`
    looks. Returns the merged train/eval metrics.
    """
    args = trainer.args
    metrics: dict[str, float] = {}
    if progress_output.get() is not None:  # one quiet bar instead of Trainer's bar and its printed log dicts
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(_QuietProgress(*progress_output.get()))
    if args.do_train or args.max_steps > 0 or args.num_train_epochs > 0:
        result = trainer.train(resume_from_checkpoint=resolve_resume_checkpoint(args))
        metrics.update({f"train_{k}" if not k.startswith("train_") else k: v for k, v in result.metrics.items()})
    if trainer.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    final_dir = Path(final_dir or args.output_dir)
    trainer.save_model(str(final_dir))
    if trainer.is_world_process_zero():
        for processor in processors:
            processor.save_pretrained(str(final_dir))
        atomic_write_text(final_dir / "all_results.json", json.dumps(metrics, indent=2, sort_keys=True, default=float))
    trainer.accelerator.wait_for_everyone()
    return metrics
