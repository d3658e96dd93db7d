"""geohub.runtime: thread count and OpenMP wait policy set before torch loads, and the automatic precision choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from geohub import runtime
from geohub.runtime import (
    BF16_MIN_AGREEMENT,
    chosen_by_geohub,
    configure_environment,
    resolve_precision,
    threads_per_process,
    usable_cpus,
)


def test_fresh_environment_gets_affinity_threads_and_sleeping_openmp_threads():
    env = {}
    changed = configure_environment(env)
    assert env["OMP_NUM_THREADS"] == str(usable_cpus())
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and int(env["GOMP_SPINCOUNT"]) <= 100_000
    assert changed == {k: env[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert all(chosen_by_geohub(k, env) for k in changed)


def test_the_users_settings_are_kept():
    env = {"OMP_NUM_THREADS": "7", "OMP_WAIT_POLICY": "ACTIVE"}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "7" and env["OMP_WAIT_POLICY"] == "ACTIVE" and "GOMP_SPINCOUNT" not in env
    assert not chosen_by_geohub("OMP_NUM_THREADS", env)
    env = {"GOMP_SPINCOUNT": "5"}  # a spin count of the user's: no wait policy imposed on top of it
    configure_environment(env)
    assert env["GOMP_SPINCOUNT"] == "5" and "OMP_WAIT_POLICY" not in env


def test_off_switch_and_fixed_thread_count():
    env = {"GEOHUB_RUNTIME": "off"}
    assert configure_environment(env) == {} and set(env) == {"GEOHUB_RUNTIME"}
    env = {"GEOHUB_THREADS": "3"}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "3"


def test_processes_under_accelerate_share_the_cpus(monkeypatch):
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 8)
    assert threads_per_process({}) == 8
    assert threads_per_process({"LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"}) == 2
    assert threads_per_process({"WORLD_SIZE": "16"}) == 1  # never 0
    # a child launched from a geohub process recomputes its share instead of inheriting the parent's count
    env = {}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "8"
    env["LOCAL_WORLD_SIZE"] = "2"
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "4"


def _child(env_extra: dict) -> dict:
    code = ("import json, os, geohub, torch; print(json.dumps({'threads': torch.get_num_threads(), "
            "'policy': os.environ.get('OMP_WAIT_POLICY')}))")  # fmt: skip
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
           and not k.startswith("GEOHUB_")}  # fmt: skip
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_geohub_sets_torch_threads_before_torch_loads():
    fresh = _child({})
    assert fresh == {"threads": usable_cpus(), "policy": "PASSIVE"}
    assert _child({"LOCAL_WORLD_SIZE": str(usable_cpus())})["threads"] == 1
    old = _child({"GEOHUB_RUNTIME": "off"})
    assert old["policy"] is None


def test_precision_auto_needs_native_bf16_and_a_recorded_agreement(monkeypatch):
    agreeing, disagreeing = SimpleNamespace(bf16_agreement=0.995), SimpleNamespace(bf16_agreement=0.97)
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert resolve_precision("auto", agreeing) == "bf16"
    assert resolve_precision(None, agreeing) == "bf16"
    assert resolve_precision("auto", disagreeing) == "fp32"
    assert resolve_precision("auto", SimpleNamespace()) == "fp32"  # nothing measured: fp32
    assert resolve_precision("auto", SimpleNamespace(bf16_agreement=BF16_MIN_AGREEMENT)) == "bf16"
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: {"avx2"})  # emulated bf16 is slow: fp32
    assert resolve_precision("auto", agreeing) == "fp32"
    assert resolve_precision("bf16", disagreeing) == "bf16"  # an explicit choice is kept
    assert resolve_precision("FP32", agreeing) == "fp32"
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        resolve_precision("fp16", agreeing)


# -- threads while training: fewer on a busy machine, back up when it is quiet (geohub.training.threads) --


def _geohub_chose(monkeypatch, threads: int = 2) -> None:
    """The environment as `configure_environment` leaves it on a `threads`-CPU machine with nothing user-set."""
    monkeypatch.setenv("OMP_NUM_THREADS", str(threads))
    monkeypatch.setenv("GEOHUB_RUNTIME_SET", "GOMP_SPINCOUNT,OMP_NUM_THREADS,OMP_WAIT_POLICY")
    for name in ("GEOHUB_THREADS", "GEOHUB_ADAPT_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("geohub.training.threads.usable_cpus", lambda: threads)


@pytest.fixture
def torch_threads():
    """torch's intra-op count, put back after the test."""
    import torch

    previous = torch.get_num_threads()
    yield torch
    torch.set_num_threads(previous)


def test_fake_proc_readings_count_the_other_runnable_tasks(tmp_path):
    from geohub.runtime import other_runnable, own_running_threads, running_tasks

    (tmp_path / "loadavg").write_text("4.10 3.02 1.50 7/412 12345\n")
    tasks = tmp_path / "task"
    for tid, state in (("100", "R"), ("101", "S"), ("102", "R")):
        (tasks / tid).mkdir(parents=True)
        (tasks / tid / "stat").write_text(f"{tid} (pt_main (thread)) {state} 1 2 3 4\n")  # a name with ") "
    assert running_tasks(str(tmp_path / "loadavg")) == 7
    assert own_running_threads(str(tasks)) == 2
    assert other_runnable(str(tmp_path / "loadavg"), str(tasks)) == 5
    assert running_tasks(str(tmp_path / "missing")) is None and other_runnable(str(tmp_path / "missing")) is None
    (tmp_path / "bad").write_text("garbage\n")
    assert running_tasks(str(tmp_path / "bad")) is None
    real = other_runnable()  # this machine (Linux): a count, never negative
    assert real is None or real >= 0


def test_policy_drops_to_one_thread_when_oversubscribed_and_restores_with_hysteresis():
    from geohub.runtime import ThreadPolicy

    policy = ThreadPolicy(full=2, cpus=2)
    assert [policy.update(0) for _ in range(3)] == [2, 2, 2]
    assert policy.update(4) == 2  # one busy reading (a burst) does not move it
    assert policy.update(0) == 2 and policy.update(4) == 2
    assert policy.update(4) == 1  # two in a row: one thread
    assert policy.update(1) == 1 and policy.update(None) == 1  # still busy; an unreadable /proc changes nothing
    assert [policy.update(0) for _ in range(3)] == [1, 1, 2]  # three quiet readings in a row: back to two
    wide = ThreadPolicy(full=8, cpus=8)
    assert [wide.update(5) for _ in range(2)] == [8, 3]  # the CPUs the others leave, not all-or-one
    assert [wide.update(9) for _ in range(2)] == [3, 1]  # never below one
    with pytest.raises(ValueError):
        ThreadPolicy(full=0, cpus=2)


def test_adaptation_only_where_geohub_chose_the_thread_count(monkeypatch):
    from geohub.runtime import adaptive_threads_enabled

    geohub_set = {"OMP_NUM_THREADS": "2", "GEOHUB_RUNTIME_SET": "OMP_NUM_THREADS,OMP_WAIT_POLICY"}
    assert adaptive_threads_enabled(2, geohub_set)
    assert not adaptive_threads_enabled(2, {"OMP_NUM_THREADS": "2"})  # the user's OMP_NUM_THREADS
    assert not adaptive_threads_enabled(2, {**geohub_set, "GEOHUB_THREADS": "2"})  # the user's fixed count
    assert not adaptive_threads_enabled(2, {**geohub_set, "GEOHUB_ADAPT_THREADS": "off"})
    assert not adaptive_threads_enabled(3, geohub_set)  # torch.set_num_threads(3) by the user's code
    assert not adaptive_threads_enabled(1, {"OMP_NUM_THREADS": "1", "GEOHUB_RUNTIME_SET": "OMP_NUM_THREADS"})
    assert not adaptive_threads_enabled(2, {"GEOHUB_RUNTIME": "off"})


class _FakeSteps:
    """A busy machine (`load` other runnable tasks) whose steps take `seconds[threads][kind]` on a fake clock."""

    def __init__(self, torch, seconds: dict, load: int = 4):
        self.torch, self.seconds, self.load, self.now = torch, seconds, [load], [0.0]

    def adapter(self):
        from geohub.training.threads import ThreadAdapter

        return ThreadAdapter(interval=1.0, read=lambda: self.load[0], clock=lambda: self.now[0])

    def run(self, adapter, n: int, kind: str = "train") -> list[int]:
        """`n` steps; returns the thread count each ran with."""
        counts = []
        for _ in range(n):
            threads = self.torch.get_num_threads()
            counts.append(threads)
            entry = self.seconds[threads]
            self.now[0] += entry[kind] if isinstance(entry, dict) else entry
            adapter.step(kind)
        return counts


def test_adapter_tries_fewer_threads_when_busy_keeps_the_faster_and_restores(monkeypatch, torch_threads):
    from geohub.training import threads

    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    steps = _FakeSteps(torch_threads, {1: 1.0, 2: 1.2})  # one thread a little faster (not "clearly")
    adapter = steps.adapter()
    adapter.start()  # a 4-process load at the start: one thread before the first step, and a trial begins
    assert adapter.active and torch_threads.get_num_threads() == 1
    # the first step only starts the clock; then 3 timed at one thread, 3 at two
    assert steps.run(adapter, 1 + 2 * threads.TRIAL_STEPS) == [1] * 4 + [2] * 3
    assert torch_threads.get_num_threads() == 1 and adapter.trials == [(3, 3)]  # one thread won
    assert steps.run(adapter, 5) == [1] * 5  # still busy, within HOLD_S: kept without another trial
    assert [t for _, t in adapter.changes] == [1, 2, 1]
    steps.load[0] = 0
    steps.run(adapter, 3)  # three quiet readings: all threads again
    assert torch_threads.get_num_threads() == 2
    adapter.restore()
    assert torch_threads.get_num_threads() == 2 and not adapter.active

    steps.seconds[2] = 0.5  # large operations: two threads are faster even on a busy machine
    steps.load[0] = 4
    adapter = steps.adapter()
    adapter.start()
    steps.run(adapter, 1 + 2 * threads.TRIAL_STEPS)
    assert torch_threads.get_num_threads() == 2  # the trial kept the full count
    steps.now[0] += threads.HOLD_S
    steps.run(adapter, 1)  # the hold is over and the machine still busy: tried again
    assert torch_threads.get_num_threads() == 1
    adapter.restore()
    assert torch_threads.get_num_threads() == 2


def test_a_clearly_slower_second_count_stops_the_trial_early_and_a_tie_keeps_fewer_threads(monkeypatch, torch_threads):
    from geohub.training import threads

    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    steps = _FakeSteps(torch_threads, {1: 1.0, 2: 3.0})  # two threads spin-wait for preempted siblings: 3x slower
    adapter = steps.adapter()
    adapter.start()
    assert steps.run(adapter, 1 + threads.TRIAL_STEPS + 1 + 3) == [1] * 4 + [2] + [1] * 3
    assert adapter.trials == [(3, 1)]  # one step at two threads was enough: 2 wasted steps saved
    adapter.restore()

    steps.seconds[2] = 0.97  # two threads 3 % faster: within the step-time noise, fewer threads are kept
    adapter = steps.adapter()
    adapter.start()
    steps.run(adapter, 1 + 2 * threads.TRIAL_STEPS)
    assert torch_threads.get_num_threads() == 1 and adapter.trials == [(3, 3)]
    steps.seconds[2] = 0.9  # 10 % faster: worth the second thread
    steps.now[0] += threads.HOLD_S
    steps.run(adapter, 1 + 2 * threads.TRIAL_STEPS)
    assert torch_threads.get_num_threads() == 2 and len(adapter.trials) == 2
    adapter.restore()


def test_a_confirmed_winner_is_held_longer_and_the_hold_resets_when_the_machine_is_quiet(monkeypatch, torch_threads):
    from geohub.training import threads

    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    steps = _FakeSteps(torch_threads, {1: 1.0, 2: 3.0})
    adapter = steps.adapter()
    adapter.start()
    steps.run(adapter, 5)  # first trial (early stop): one thread, held HOLD_S
    assert adapter._held[1] - steps.now[0] == pytest.approx(threads.HOLD_S)
    steps.now[0] += threads.HOLD_S
    steps.run(adapter, 5)  # re-trial, same winner: held twice as long
    assert len(adapter.trials) == 2 and adapter._held[1] - steps.now[0] == pytest.approx(2 * threads.HOLD_S)
    for _ in range(4):
        steps.now[0] += adapter._held[1] - steps.now[0]
        steps.run(adapter, 5)
    assert adapter._held[1] - steps.now[0] == pytest.approx(threads.MAX_HOLD_S)  # never longer
    steps.load[0] = 0
    steps.run(adapter, 3)  # quiet: all threads, and the next busy spell starts from HOLD_S again
    assert torch_threads.get_num_threads() == 2 and adapter._hold_s == threads.HOLD_S
    adapter.restore()


def test_a_trial_compares_steps_of_one_kind_only(monkeypatch, torch_threads):
    from geohub.training import threads

    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    # training steps: one thread faster; evaluation steps are 10x shorter (and two threads faster there)
    steps = _FakeSteps(torch_threads, {1: {"train": 1.0, "predict": 0.2}, 2: {"train": 1.4, "predict": 0.1}})
    adapter = steps.adapter()
    adapter.start()
    steps.run(adapter, 1 + threads.TRIAL_STEPS + 1)  # training steps: 3 timed at one thread, 1 at two
    assert adapter.trials == [] and torch_threads.get_num_threads() == 2
    # evaluation begins mid-trial: compared with the training steps, two threads would look 10x faster; instead
    # the trial starts again on evaluation steps (the first one after training is not timed)
    assert steps.run(adapter, 1 + 2 * threads.TRIAL_STEPS, "predict") == [2] + [1] * 3 + [2] * 3
    assert adapter.trials == [(3, 3)] and torch_threads.get_num_threads() == 2
    adapter.restore()


def test_loop_step_drives_the_adapter_in_charge_and_is_a_no_op_without_one(monkeypatch, torch_threads):
    from geohub import runtime
    from geohub.training import threads

    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    runtime.loop_step()  # nothing in charge: nothing happens
    steps = _FakeSteps(torch_threads, {1: 1.0, 2: 3.0})
    adapter = steps.adapter()
    adapter.start()  # busy: a trial at one thread
    for _ in range(1 + threads.TRIAL_STEPS):  # e.g. batches of a frozen encoder embedding a corpus
        steps.now[0] += 1.0
        runtime.loop_step()
    assert torch_threads.get_num_threads() == 2  # three inference batches timed at one thread: now two
    assert adapter._trial.kind == "inference"
    adapter.restore()
    assert runtime._LOOP_HOOKS == [] and torch_threads.get_num_threads() == 2
    runtime.loop_step()
    assert torch_threads.get_num_threads() == 2


def test_adapter_is_a_no_op_when_the_user_set_threads(monkeypatch, torch_threads):
    from geohub.training.threads import ThreadAdapter

    _geohub_chose(monkeypatch)
    monkeypatch.setenv("GEOHUB_RUNTIME_SET", "GOMP_SPINCOUNT,OMP_WAIT_POLICY")  # OMP_NUM_THREADS is the user's
    torch_threads.set_num_threads(2)
    adapter = ThreadAdapter(interval=0.0, read=lambda: 6)
    adapter.start()
    adapter.step()
    assert not adapter.active and torch_threads.get_num_threads() == 2 and adapter.changes == []


class _Tiny:
    """A one-weight regression model and dataset for a few real Trainer steps."""

    @staticmethod
    def model():
        import torch

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(1))

            def forward(self, x, labels=None):
                loss = ((self.weight * x - labels) ** 2).mean()
                return {"loss": loss, "logits": self.weight * x}

        return Model()

    @staticmethod
    def data(n: int = 16):
        import torch

        return [{"x": torch.tensor([float(i)]), "labels": torch.tensor([2.0 * i])} for i in range(n)]


def test_every_geohub_trainer_adapts_its_threads_while_training(monkeypatch, tmp_path, torch_threads):
    from transformers import TrainingArguments

    from geohub.training.supervised import GeoSeq2SeqTrainer, GeoTrainer
    from geohub.training.threads import AdaptiveThreads, AdaptiveThreadsMixin

    assert issubclass(GeoSeq2SeqTrainer, AdaptiveThreadsMixin)
    _geohub_chose(monkeypatch)
    torch_threads.set_num_threads(2)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, per_device_train_batch_size=4, use_cpu=True,
                             report_to="none", save_strategy="no", disable_tqdm=True, logging_strategy="no")  # fmt: skip
    trainer = GeoTrainer(model=_Tiny.model(), args=args, train_dataset=_Tiny.data(), eval_dataset=_Tiny.data(4))
    callbacks = [c for c in trainer.callback_handler.callbacks if isinstance(c, AdaptiveThreads)]
    assert callbacks == [trainer.thread_adaptation]
    seen = []
    adapter = trainer.thread_adaptation.adapter
    adapter.interval, adapter.read = 0.0, lambda: (seen.append(torch_threads.get_num_threads()), 5)[1]
    trainer.train()
    assert seen and [threads for _, threads in adapter.changes][:2] == [1, 2]  # tried at one thread, then two
    assert torch_threads.get_num_threads() == 2  # restored after training
    seen.clear()
    trainer.evaluate()  # a standalone evaluation adapts too, and restores
    assert seen and torch_threads.get_num_threads() == 2


def test_the_gan_loop_adapts_only_with_cpu_threads_zero(monkeypatch, torch_threads):
    from geohub.training import adversarial

    _geohub_chose(monkeypatch)
    monkeypatch.setattr("geohub.training.threads.other_runnable", lambda: 4)
    torch_threads.set_num_threads(2)
    seen = []

    def loop(model, processor, train, held_out, spacing, args, adapter):  # the loop's body, reduced to its hook
        seen.append(torch_threads.get_num_threads())  # the trial's first count, from the start's readings
        adapter.step()
        return {}

    monkeypatch.setattr(adversarial, "_train_gan", loop)
    adversarial.train_gan(None, None, None, None, 1.0, SimpleNamespace(cpu_threads=0))
    adversarial.train_gan(None, None, None, None, 1.0, SimpleNamespace(cpu_threads=2))  # the recipe's count: kept
    assert seen == [1, 2] and torch_threads.get_num_threads() == 2


def test_a_task_adapts_from_its_start_and_inner_loops_hand_their_steps_to_it(monkeypatch, torch_threads):
    from geohub.training.tasks import _adapting_threads, get_task
    from geohub.training.threads import TRIAL_STEPS, ThreadAdapter

    _geohub_chose(monkeypatch)
    load = [4]
    monkeypatch.setattr("geohub.training.threads.other_runnable", lambda: load[0])
    torch_threads.set_num_threads(2)
    seen = {}

    def run(*args):  # a task's run: data preparation, then a training loop with its own adapter
        seen["preparing"] = torch_threads.get_num_threads()
        inner = ThreadAdapter(interval=0.0)
        inner.start()
        assert inner.active and inner.delegate is not None and inner.policy is None
        load[0] = 0
        for _ in range(1 + 2 * TRIAL_STEPS + 3):
            inner.step()  # drives the task's adapter: its trial's steps, then three quiet readings
        seen["quiet"] = torch_threads.get_num_threads()
        inner.restore()  # the loop ends; the task's adapter stays in charge
        load[0] = 4
        return {"args": args}

    monkeypatch.setattr("geohub.training.threads.INTERVAL_S", 0.0)
    assert _adapting_threads(run)(1, 2) == {"args": (1, 2)}
    assert seen == {"preparing": 1, "quiet": 2} and torch_threads.get_num_threads() == 2
    from geohub.training.denoising import run_seismic_denoising

    assert get_task("seismic_denoising").run.__wrapped__ is run_seismic_denoising  # every task is handed out wrapped


def test_the_summarizer_task_adapts_in_its_encoder_loops_outside_the_trainer(monkeypatch, tmp_path, torch_threads):
    # the quickstart's summarization recipe, tiny: most of its time is the frozen MiniLM encoding words and
    # sentences before training (and compressing summaries in evaluation), outside any Trainer step
    from pathlib import Path

    from geohub.quickstart import build_task_arguments, quickstart_recipes
    from geohub.training import threads
    from geohub.training.tasks import get_task

    _geohub_chose(monkeypatch)
    monkeypatch.setattr("geohub.training.threads.other_runnable", lambda: 4)  # a busy machine throughout
    torch_threads.set_num_threads(2)
    kinds = []
    step = threads.ThreadAdapter.step

    def recording(self, kind="train"):
        if self.policy is not None:  # the adapter in charge (the task's)
            kinds.append((kind, torch_threads.get_num_threads()))
        step(self, kind)

    monkeypatch.setattr(threads.ThreadAdapter, "step", recording)
    fixture = Path(__file__).resolve().parent / "data" / "fixtures" / "geo_corpus_sample.jsonl"
    recipe = quickstart_recipes()["summarization"] | {
        "dataset": str(fixture), "max_steps": 2, "per_device_train_batch_size": 2, "extra_train_dataset": None,
        "embedding_cache_dir": None, "compression_epochs": 1, "report_to": "none", "logging_steps": 1,
    }  # fmt: skip
    task = get_task("summarization")
    metrics = task.run(*build_task_arguments(task, recipe, tmp_path / "summarizer"))
    assert metrics["eval_rouge1"] > 0
    seen = {kind for kind, _ in kinds}
    assert {"encode-words", "embed-sentences", "train", "predict", "compress"} <= seen
    assert kinds[0][1] == 1  # busy from the start: the first encoder batches ran at the trial's one thread
    assert torch_threads.get_num_threads() == 2  # restored when the task ended


def _busy_machine_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "busy_machine.py"
    spec = importlib.util.spec_from_file_location("busy_machine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_busy_machine_summary_is_the_median_run_and_a_failed_run_shows():
    summary = _busy_machine_module().summary
    runs = [{"seconds": s, "step_cpu_seconds": c, "cpu_seconds": 9.0, "load": 0.1 * s, "threads": [t]}
            for s, c, t in ((12.0, 5.0, 1), (10.0, 4.0, 2), (30.0, 6.0, 3))]  # fmt: skip
    middle = summary(runs)
    assert middle["seconds"] == 12.0 and middle["threads"] == [1]  # the median run's thread counts
    assert middle["step_cpu_seconds"] == 5.0 and middle["load"] == pytest.approx(1.2)
    assert summary(runs[:2])["seconds"] == 11.0  # an even count: the mean of the middle two
    failed = {"seconds": None, "timed_out": 300, "threads": [], "load": 0.0}
    assert summary(runs + [failed]) is failed  # a timed-out run is never hidden by a median


@pytest.mark.slow
def test_busy_machine_repeats_alternate_and_report_medians(tmp_path):
    # the benchmark as a user runs it (smoke recipes, no hogs: the plumbing, not the figures)
    command = [sys.executable, "benchmarks/busy_machine.py", "--smoke", "--tasks", "seismic_denoising", "--settings",
               "new", "--hogs", "0", "--repeats", "2", "--no-warmup", "--short", "--output", str(tmp_path)]  # fmt: skip
    from pathlib import Path

    done = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                          timeout=600, check=True)  # fmt: skip
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCHMARK_JSON "))
    report = json.loads(line[len("BENCHMARK_JSON ") :])
    (row,) = report["rows"]
    assert report["repeats"] == 2 and len(row["runs"]["alone"]) == 2 and len(row["runs"]["busy"]) == 2
    alone = sorted(run["seconds"] for run in row["runs"]["alone"])
    assert row["alone"]["seconds"] == pytest.approx(sum(alone) / 2)
    assert all(run["step_cpu_seconds"] > 0 for run in row["runs"]["alone"] + row["runs"]["busy"])
    assert not row["short"]  # --short bounds only the long steps (the denoiser is not one)
    assert "medians of 2 alone and 2 busy runs" in done.stdout and "step cpu s a/b" in done.stdout
