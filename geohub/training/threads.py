"""Training's thread count follows the machine's load (issue #20, item 7; the policy is `geohub.runtime`).

    from geohub.training.threads import AdaptiveThreads, ThreadAdapter

- `ThreadAdapter`: reads the other runnable tasks at most once per `interval` seconds and calls
  `torch.set_num_threads` when `geohub.runtime.ThreadPolicy` asks for another count; `restore()` puts back the
  count it found. A custom loop (the GAN's Accelerate loop) calls `adapter.step()` once per optimisation step.
- `AdaptiveThreads`: the same as a `transformers.TrainerCallback` (train and prediction steps). `GeoTrainer` and
  `GeoSeq2SeqTrainer` (`geohub.training.supervised`) attach it, so every Trainer-based recipe has it.

Changing the intra-op count between steps is what `torch.set_num_threads` allows at any time (the inter-op
pool, which may only be sized before first use, is never touched). The training step runs on the thread that
calls the callbacks (CPU autograd runs backward on the calling thread), so the new count applies to the next
step. Where geohub did not choose the count (`geohub.runtime.adaptive_threads_enabled`), nothing changes.
"""

from __future__ import annotations

import time

from transformers import TrainerCallback

from ..runtime import ThreadPolicy, adaptive_threads_enabled, other_runnable, usable_cpus

__all__ = ["ThreadAdapter", "AdaptiveThreads", "AdaptiveThreadsMixin"]

INTERVAL_S = 1.0  # between readings of the load (a reading costs ~0.1 ms)
FIRST_READINGS = 3  # taken at the start, a few ms apart, so a step of a few seconds adapts from the start


class ThreadAdapter:
    """Adapts torch's intra-op thread count to the other runnable tasks while a loop runs (see module docstring).

    Args:
        interval: seconds between readings.
        read: returns the other runnable tasks (None = unknown); default `geohub.runtime.other_runnable`.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, interval: float = INTERVAL_S, read=None, clock=time.monotonic):
        self.interval, self.read, self.clock = interval, read or other_runnable, clock
        self.policy: ThreadPolicy | None = None
        self.changes: list[tuple[float, int]] = []  # (clock, threads) of every change, for logs and tests
        self._last = float("-inf")

    @property
    def active(self) -> bool:
        return self.policy is not None

    def start(self) -> None:
        """Begin adapting, if geohub chose the thread count (else a no-op); takes the first readings."""
        import torch

        if self.policy is None and adaptive_threads_enabled(torch.get_num_threads()):
            self.policy = ThreadPolicy(torch.get_num_threads(), usable_cpus())
            for index in range(FIRST_READINGS):
                if index:
                    time.sleep(0.005)
                self._apply(self.policy.update(self.read()))
            self._last = self.clock()

    def step(self) -> None:
        """One loop step done: read the load if `interval` has passed, change the thread count if asked."""
        if self.policy is None:
            return
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self._apply(self.policy.update(self.read()))

    def restore(self) -> None:
        """Stop adapting; torch runs with the count found at `start` again."""
        if self.policy is not None:
            self._apply(self.policy.full)
            self.policy = None

    def _apply(self, threads: int) -> None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
            self.changes.append((self.clock(), threads))


class AdaptiveThreads(TrainerCallback):
    """`ThreadAdapter` as a Trainer callback: starts with training, reads the load after train and prediction
    steps, restores the thread count when training ends (the Trainer subclass also restores it if training
    raises, and after evaluation)."""

    def __init__(self, adapter: ThreadAdapter | None = None):
        self.adapter = adapter or ThreadAdapter()

    def on_train_begin(self, args, state, control, **kwargs):
        if not args.use_cpu and _cuda():
            return
        self.adapter.start()

    def on_step_end(self, args, state, control, **kwargs):
        self.adapter.step()

    def on_prediction_step(self, args, state, control, **kwargs):
        self.adapter.step()

    def on_train_end(self, args, state, control, **kwargs):
        self.adapter.restore()


class AdaptiveThreadsMixin:
    """For a `transformers.Trainer` subclass: attaches `AdaptiveThreads` (as `self.thread_adaptation`), adapts
    during a standalone `evaluate()` too, and restores the thread count when `train()` or `evaluate()` returns
    or raises."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.thread_adaptation = AdaptiveThreads()
        self.add_callback(self.thread_adaptation)

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        finally:
            self.thread_adaptation.adapter.restore()

    def evaluate(self, *args, **kwargs):
        adapter = self.thread_adaptation.adapter
        standalone = not adapter.active and (self.args.use_cpu or not _cuda())
        if standalone:
            adapter.start()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            if standalone:
                adapter.restore()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
