"""Training's thread count follows the machine's load (issue #20, item 7; the policy is `geohub.runtime`).

    from geohub.training.threads import AdaptiveThreads, ThreadAdapter, loop_step

- `ThreadAdapter`: reads the other runnable tasks at most once per `interval` seconds. When
  `geohub.runtime.ThreadPolicy` says the CPUs are oversubscribed, it runs a trial: `TRIAL_STEPS` steps at the
  fewer threads the policy asks for, then as many at the full count, and keeps the faster: one thread never waits
  at a barrier for a preempted sibling (a big gain for models of small operations, e.g. the magnitude LSTM), two
  threads get more of the CPU (large matrix products, e.g. BERT). Step times on a busy machine are noisy and a
  short run (the denoiser's quickstart: 25 steps) cannot afford many trial steps, so: the full count is kept only
  when its median step is at least `TIE_MARGIN` faster (on a tie, fewer threads leave more CPU to the others); the
  second count stops early once each of its steps took over `LOSING_FACTOR` times the first count's median; only
  steps of one kind are compared (a trial begun on training steps starts again when evaluation steps come, which
  take another time); the winner is kept for `HOLD_S` seconds while the machine stays busy, and each re-trial that
  confirms it doubles that (up to `MAX_HOLD_S`): a long run on a steadily busy machine does not keep paying for
  trials. Back at the full count once the machine is quiet. `restore()` puts back the count it found.
  A custom loop (the GAN's Accelerate loop) calls `adapter.step()` once per optimisation step.
- `AdaptiveThreads`: the same as a `transformers.TrainerCallback` (train and prediction steps). `GeoTrainer` and
  `GeoSeq2SeqTrainer` (`geohub.training.supervised`) attach it, so every Trainer-based recipe has it.
- `adapting_threads`: a task's whole run (data preparation, training, evaluation, saving) under one adapter;
  loops outside a Trainer inside the task (e.g. embedding a corpus with a frozen encoder before training) call
  `loop_step("inference")` once per batch (`geohub.runtime.loop_step`, importable from any layer), so the adapter
  reads the load and times trials there too.

Changing the intra-op count between steps is what `torch.set_num_threads` allows at any time (the inter-op
pool, which may only be sized before first use, is never touched). The training step runs on the thread that
calls the callbacks (CPU autograd runs backward on the calling thread), so the new count applies to the next
step. Where geohub did not choose the count (`geohub.runtime.adaptive_threads_enabled`), nothing changes.
"""

from __future__ import annotations

import functools
import statistics
import time

from transformers import TrainerCallback

from .. import runtime
from ..runtime import ThreadPolicy, adaptive_threads_enabled, other_runnable, usable_cpus

__all__ = ["ThreadAdapter", "AdaptiveThreads", "AdaptiveThreadsMixin", "adapting_threads", "loop_step"]

_IN_CHARGE: list[ThreadAdapter] = []  # the adapter changing the count now (at most one per process)
INTERVAL_S = 1.0  # between readings of the load (a reading costs ~0.1 ms)
FIRST_READINGS = 3  # taken at the start, a few ms apart, so a step of a few seconds adapts from the start
TRIAL_STEPS = 3  # steps timed at each thread count when the machine is busy
HOLD_S = 30.0  # seconds a trial's faster count is kept while the machine stays busy (then tried again)
MAX_HOLD_S = 240.0  # the longest hold, reached by re-trials that keep confirming the same count
TIE_MARGIN = 0.05  # the full count is kept only when its median step is this much faster than fewer threads'
LOSING_FACTOR = 1.5  # the second count of a trial stops once each of its steps took this much over the first's median
loop_step = runtime.loop_step  # one batch of a loop outside a Trainer, inside a training task


class _Trial:
    """Step times at each thread count compared (`arms`: [(threads, seconds), ...], the fewer count first), for
    steps of one `kind` ("train", "predict", "inference")."""

    def __init__(self, counts: tuple[int, ...], kind: str | None):
        self.arms = [(threads, []) for threads in counts]
        self.kind = kind

    def current(self) -> tuple[int, list[float]]:
        return next(arm for arm in self.arms if len(arm[1]) < TRIAL_STEPS)

    def record(self, seconds: float) -> int | None:
        """One step's time under the count being tried: the winning count once the trial is decided, else None."""
        threads, times = self.current()
        times.append(seconds)
        first = statistics.median(self.arms[0][1])
        if threads != self.arms[0][0] and min(times) > LOSING_FACTOR * first:
            return self.arms[0][0]  # every step at this count so far clearly slower: no need for the rest
        if len(times) < TRIAL_STEPS or threads != self.arms[-1][0]:
            return None
        fewer, full = self.arms[0][0], self.arms[-1][0]
        return full if statistics.median(times) < (1.0 - TIE_MARGIN) * first else fewer


class ThreadAdapter:
    """Adapts torch's intra-op thread count to the other runnable tasks while a loop runs (see module docstring).

    Args:
        interval: seconds between readings (default `INTERVAL_S`).
        read: returns the other runnable tasks (None = unknown); default `geohub.runtime.other_runnable`.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, interval: float | None = None, read=None, clock=time.monotonic):
        self.interval = INTERVAL_S if interval is None else interval
        self.read, self.clock = read or other_runnable, clock
        self.policy: ThreadPolicy | None = None
        self.delegate: ThreadAdapter | None = None  # the adapter in charge, when another one started first
        self.changes: list[tuple[float, int]] = []  # (clock, threads) of every change, for logs and tests
        self.trials: list[tuple[int, ...]] = []  # the steps timed per count of each finished trial, for logs and tests
        self._last = float("-inf")
        self._trial: _Trial | None = None
        self._held: tuple[int, float] | None = None  # (threads, until): a trial's winner, kept while still busy
        self._hold_s = HOLD_S
        self._winner: int | None = None  # the last trial's winner (a re-trial that confirms it holds it longer)
        self._last_step: tuple[str, float] | None = None  # (kind, clock) of the previous step

    @property
    def active(self) -> bool:
        return self.policy is not None or self.delegate is not None

    def start(self) -> None:
        """Begin adapting, if geohub chose the thread count (else a no-op); takes the first readings. Where
        another adapter is already in charge (the task's, `adapting_threads`), this one hands its steps to it."""
        import torch

        if self.active:
            return
        if _IN_CHARGE:
            self.delegate = _IN_CHARGE[0]
            return
        if torch.cuda.is_available() or not adaptive_threads_enabled(torch.get_num_threads()):
            return  # on a GPU run the CPU threads matter little; the user's count is theirs
        self.policy = ThreadPolicy(torch.get_num_threads(), usable_cpus())
        _IN_CHARGE.append(self)
        runtime._LOOP_HOOKS.append(self.step)
        for index in range(FIRST_READINGS):
            if index:
                time.sleep(0.005)
            self.policy.update(self.read())
        self._last = self.clock()
        self._decide(self.policy.threads, self._last, None)

    def step(self, kind: str = "train") -> None:
        """One loop step of `kind` ("train", "predict", "inference") done: time it (during a trial), read the load
        if `interval` has passed, change the thread count if asked."""
        if self.delegate is not None:
            self.delegate.step(kind)
        if self.policy is None:
            return
        now = self.clock()
        previous, self._last_step = self._last_step, (kind, now)
        seconds = now - previous[1] if previous is not None and previous[0] == kind else None
        if self._trial is not None:
            if self._trial.kind is None:
                self._trial.kind = kind
            if kind != self._trial.kind:  # another loop's steps: their own trial (their times are not comparable)
                self._start_trial(self._trial.arms[0][0], kind)
            elif seconds is not None:
                self._time_trial(seconds, now)
            return
        if now - self._last >= self.interval:
            self._last = now
            self._decide(self.policy.update(self.read()), now, kind)

    def _decide(self, wanted: int, now: float, kind: str | None) -> None:
        """The policy asks for `wanted` threads: all of them when the machine is quiet; when it is busy, the
        count that won the last trial (while its hold lasts), else a trial of `wanted` against the full count."""
        if wanted >= self.policy.full:
            self._trial = self._held = self._winner = None
            self._hold_s = HOLD_S
            self._apply(self.policy.full)
        elif self._held is not None and now < self._held[1]:
            self._apply(self._held[0])
        else:
            self._start_trial(wanted, kind)

    def _start_trial(self, wanted: int, kind: str | None) -> None:
        self._trial = _Trial((wanted, self.policy.full), kind)
        self._apply(wanted)

    def _time_trial(self, seconds: float, now: float) -> None:
        """Record one step's time under the count being tried; move to the next count or keep the winner."""
        best = self._trial.record(seconds)
        if best is None:
            self._apply(self._trial.current()[0])
            return
        self.trials.append(tuple(len(times) for _, times in self._trial.arms))
        self._hold_s = min(2 * self._hold_s, MAX_HOLD_S) if best == self._winner else HOLD_S
        self._winner, self._trial, self._held, self._last = best, None, (best, now + self._hold_s), now
        self._apply(best)

    def restore(self) -> None:
        """Stop adapting; torch runs with the count found at `start` again (a delegating adapter only stops
        handing on its steps)."""
        self.delegate = None
        self._trial = self._held = self._last_step = self._winner = None
        self._hold_s = HOLD_S
        if self.policy is not None:
            self._apply(self.policy.full)
            self.policy = None
            _IN_CHARGE.remove(self)
            runtime._LOOP_HOOKS.remove(self.step)

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
        self.adapter.start()

    def on_step_end(self, args, state, control, **kwargs):
        self.adapter.step("train")

    def on_prediction_step(self, args, state, control, **kwargs):
        self.adapter.step("predict")

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
        standalone = not adapter.active
        if standalone:
            adapter.start()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            if standalone:
                adapter.restore()


def adapting_threads(run):
    """`run` (a task's run function) with the thread count adapted from its start to its end: data
    preparation, training, evaluation and saving; the Trainer's callback and the GAN loop hand their steps to
    it. `geohub.training.tasks.get_task` wraps every task's `run` with this."""

    @functools.wraps(run)
    def adapted(*args, **kwargs):
        adapter = ThreadAdapter()
        adapter.start()
        try:
            return run(*args, **kwargs)
        finally:
            adapter.restore()

    return adapted
