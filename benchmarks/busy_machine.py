"""How much the quickstart's training steps slow down when the CPU is shared (issue #20, item 7).

    python benchmarks/busy_machine.py [--tasks seismic_denoising seismic_magnitude landform terrain_gan
                                       summarization knowledge_extraction] [--settings new fixed one old]
                                      [--hogs 4] [--hog-threads 1 2] [--repeats N] [--short] [--smoke]
                                      [--timeout 900] [--no-warmup] [--set TASK.FIELD=VALUE ...]
                                      [--output /tmp/geohub-busy-machine]

For each quickstart task and each thread setting, one child process runs `run_quickstart(tasks=[task],
retrain=True)` (the call `geohub quickstart --retrain --no-serve --tasks TASK` makes: the same recipe, task
runner and Trainer / Accelerate loop) and reports the step's wall time, first alone, then beside `--hogs`
CPU-bound processes on the same cores, once per hog kind: numpy matmul loops with `--hog-threads` OpenBLAS
threads each (1 = the issue's "4 CPU-bound processes"; 2 = 8 busy threads, last session's measurement). The
ratio busy / alone is what sharing costs. Four single-threaded processes beside a 1-thread step on 2 cores leave
it 2/5 of a core (2.5x); a step that runs at 2 threads alone and S times faster than at 1 can at best slow by
2.5 S beside them: goal <= 4x on 2 cores (issue #20: 25-40x with the old settings).

`--repeats N` runs each step N times alone and N times beside the hogs, alternating (alone, busy, alone, ...), and
shows the medians (ratio = median busy / median alone); the JSON keeps every run. A few percent are within one
run's noise on a 2-core machine: decide a margin like that on N >= 3.

`--short` bounds the three long steps (the terrain GAN, ~4 min alone; the summarizer; the tagger, ~4 min) to
about 1-2 minutes alone each with recipe overrides (`SHORT`: fewer optimisation steps or epochs, the same model,
batch and data); their rows are marked `*` and the table's title lists the overrides. A shortened step's fixed
costs (loading, data preparation, evaluation, saving) weigh more than in the full one. `--set` overrides (which
win over `--short`'s) apply to every run.

Settings (`geohub.runtime`): `new` = geohub's defaults (threads from the CPU affinity, OpenMP threads sleep
instead of spinning, and training drops to fewer threads while other tasks want the CPUs); `fixed` = the same
without the adaptation (`GEOHUB_ADAPT_THREADS=off`); `one` = one thread always (`GEOHUB_THREADS=1`); `old` =
`GEOHUB_RUNTIME=off` (torch's and libgomp's own defaults). The children get a clean environment
(OMP_NUM_THREADS, OMP_WAIT_POLICY, GOMP_SPINCOUNT and GEOHUB_* removed), as on a fresh user's machine. A step
that runs past `--timeout` is stopped and shown as "> timeout". `--smoke` uses the families' seconds-long
`quickstart_smoke` recipes (to check the benchmark itself). Each step first runs once untimed
(`--no-warmup` skips it): a first run builds caches that later runs reuse (landform: 78 s cold vs 6 s warm; the
summarizer's sentence embeddings). Checkpoints a run leaves in its folder are removed before the next (the
terrain GAN's recipe resumes from its last checkpoint, and would otherwise time nothing).

The machine may be shared with other work: the load average (`os.getloadavg`) before the run and before every
step is recorded. Prints one JSON line (prefix `BENCHMARK_JSON `), then a table: per step, setting and hog kind,
the alone and busy seconds, the ratio to the same setting alone, the ratio to `new` alone, the thread counts the
step ran with (e.g. 2>1>2 = it started at 2, dropped to 1, and was put back to 2 when the task ended), and the
step's CPU seconds alone / busy (all its threads together, measured inside the child around the step; a loaded
machine blurs wall times more than CPU times: busy CPU well above alone CPU is work lost to sharing, e.g. threads
waiting at barriers or caches refilled after every switch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = ["seismic_denoising", "seismic_magnitude", "landform", "terrain_gan", "summarization", "knowledge_extraction"]

_STEP = r"""
import json, sys, time
from geohub.quickstart import run_quickstart, smoke_overrides, parse_overrides
name, folder, smoke, sets = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
overrides = smoke_overrides([name]) if smoke else {}
for task, fields in parse_overrides(sets).items():
    overrides.setdefault(task, {}).update(fields)
import torch
counts, set_threads = [torch.get_num_threads()], torch.set_num_threads
def recording(n):  # the thread counts the step ran with (the adaptation and the GAN's cpu_threads call this)
    set_threads(n)
    counts.append(n) if counts[-1] != n else None
torch.set_num_threads = recording
start, cpu = time.perf_counter(), time.process_time()
result = run_quickstart(folder, tasks=[name], retrain=True, overrides=overrides, echo=lambda *a: None)[0]
print("STEP_JSON " + json.dumps({"seconds": time.perf_counter() - start, "step_cpu_seconds": time.process_time() - cpu,
                                 "threads": counts}))
"""

_HOG = r"""
import numpy as np
a = np.random.default_rng(0).standard_normal((400, 400))
while True:
    a = np.tanh(a @ a.T / 400.0)
"""

# --short: the long steps' work bounded to about 1-2 minutes alone on a quiet 2-core machine. Each step still runs
# its recipe's model, batch and data; only the number of optimisation steps (or training examples) is smaller, so the
# fixed costs (loading, data preparation, evaluation, saving) weigh more than in the full step.
SHORT = {
    "terrain_gan": ["terrain_gan.max_steps=200"],  # of the recipe's 600 (one thread: the recipe's cpu_threads)
    "summarization": ["summarization.num_train_epochs=2"],  # of 20; embeddings are cached by the warm-up run
    "knowledge_extraction": ["knowledge_extraction.num_train_epochs=1"],  # of 5 (163 of 815 steps)
}

_CLEAN = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")
SETTINGS = {"new": {}, "fixed": {"GEOHUB_ADAPT_THREADS": "off"}, "one": {"GEOHUB_THREADS": "1"},
            "old": {"GEOHUB_RUNTIME": "off"}}  # fmt: skip


def child_env(setting: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN and not k.startswith("GEOHUB_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(SETTINGS[setting])
    return env


def start_hogs(count: int, threads: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    env.update(
        {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    )
    return [subprocess.Popen([sys.executable, "-c", _HOG], env=env) for _ in range(count)]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        hog.terminate()
    for hog in hogs:
        try:
            hog.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hog.kill()


def run_step(task: str, setting: str, folder: Path, args) -> dict:
    """One quickstart step in a fresh child: its own timing of the step (wall and CPU seconds), the thread counts,
    the load. Checkpoints an earlier run left in `folder` are removed first: a recipe that resumes from the last
    checkpoint (the terrain GAN's) would otherwise find its training done and time nothing."""
    for checkpoint in folder.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
    load_before, used = os.getloadavg()[0], _children_cpu()
    sets = (SHORT.get(task, []) if args.short else []) + args.set  # an explicit --set wins
    command = [sys.executable, "-c", _STEP, task, str(folder), "1" if args.smoke else "0", json.dumps(sets)]
    try:
        done = subprocess.run(command, env=child_env(setting), capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timed_out": args.timeout, "threads": [], "load": load_before}
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("STEP_JSON ")), None)
    if done.returncode != 0 or line is None:
        return {"seconds": None, "failed": done.stderr[-2000:], "threads": [], "load": load_before}
    cpu = _children_cpu() - used  # the child's user + system time (its threads together), imports included
    return {**json.loads(line[len("STEP_JSON ") :]), "cpu_seconds": cpu, "load": load_before}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_run(task: str, setting: str, folder: Path, args, hog_threads: int) -> dict:
    hogs = start_hogs(args.hogs, hog_threads)
    try:
        time.sleep(2.0)  # let the hogs start their loops
        return run_step(task, setting, folder, args)
    finally:
        stop_hogs(hogs)


def summary(runs: list[dict]) -> dict:
    """The median run of `runs` (its seconds, CPU seconds and load are the medians over the runs; its thread
    counts those of the run whose seconds are the median); a timed-out or failed run, if any."""
    bad = [run for run in runs if run["seconds"] is None]
    if bad:
        return bad[0]
    ordered = sorted(runs, key=lambda run: run["seconds"])
    middle = {**ordered[(len(ordered) - 1) // 2]}
    for key in ("seconds", "step_cpu_seconds", "cpu_seconds", "load"):
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            middle[key] = statistics.median(values)
    return middle


def _ratio(busy: dict, alone: dict) -> float | None:
    if busy["seconds"] is None or not alone.get("seconds"):
        return None
    return busy["seconds"] / alone["seconds"]


def measure(args, rows: list[dict]) -> list[dict]:
    """Append one row per task, setting and hog kind to `rows` (kept when the run is stopped part-way). With
    `--repeats N`, each row's alone and busy runs alternate (alone, busy, alone, busy, ...) so that a change in
    the machine's background load falls on both; the row shows the medians and keeps every run."""
    for task in args.tasks:
        alone = {}
        for setting in args.settings:
            folder = args.output / setting / task
            if args.warmup:  # untimed: a first run builds caches (DEM derivatives, tokenised data) the next reuse
                run_step(task, setting, folder, args)
            runs = {"alone": [], **{hog_threads: [] for hog_threads in args.hog_threads}}
            for _repeat in range(args.repeats):
                runs["alone"].append(run_step(task, setting, folder, args))
                print(f"{task} {setting} alone: {runs['alone'][-1]['seconds']} s", file=sys.stderr, flush=True)
                for hog_threads in args.hog_threads:
                    runs[hog_threads].append(busy_run(task, setting, folder, args, hog_threads))
                    print(f"{task} {setting} beside {args.hogs}x{hog_threads}: {runs[hog_threads][-1]['seconds']} s",
                          file=sys.stderr, flush=True)  # fmt: skip
            alone[setting] = summary(runs["alone"])
            for hog_threads in args.hog_threads:
                busy = summary(runs[hog_threads])
                reference = alone.get("new", alone[setting])
                rows.append({"task": task, "settings": setting, "hogs": args.hogs, "hog_threads": hog_threads,
                             "alone": alone[setting], "busy": busy, "ratio": _ratio(busy, alone[setting]),
                             "ratio_to_new_alone": _ratio(busy, reference), "short": bool(args.short and task in SHORT),
                             "runs": {"alone": runs["alone"], "busy": runs[hog_threads]}})  # fmt: skip
    return rows


def _seconds(run: dict) -> str:
    if run["seconds"] is not None:
        return f"{run['seconds']:8.1f}"
    return f"{'>' + format(run['timed_out'], '.0f'):>8s}" if "timed_out" in run else f"{'failed':>8s}"


def _times(value: float | None, run: dict, alone: dict) -> str:
    if value is not None:
        return f"{value:6.2f}x"
    if "timed_out" in run and alone.get("seconds"):
        return f">{run['timed_out'] / alone['seconds']:5.0f}x"
    return "    n/a"


def print_table(report: dict) -> None:
    recipes = "smoke recipes" if report["smoke"] else "full recipes"
    if report.get("short"):
        recipes = "full recipes; * = shortened by --short: " + "; ".join(" ".join(sets) for sets in SHORT.values())
    if report.get("repeats", 1) > 1:
        recipes += f"; medians of {report['repeats']} alone and {report['repeats']} busy runs"
    print(f"\nquickstart steps ({recipes}), alone and beside {report['hogs']} CPU-bound processes "
          f"(hog threads each: {report['hog_threads']}), {report['affinity']} CPUs, "
          f"load before the run {report['load_before']:.2f}")  # fmt: skip
    header = (f"{'task':22s} {'settings':8s} {'hogs':>5s} {'alone s':>8s} {'busy s':>8s} {'ratio':>7s} "
              f"{'vs new':>7s} {'threads alone/busy':>18s} {'step cpu s a/b':>14s} {'load a/b':>9s}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for row in report["rows"]:
        alone, busy = row["alone"], row["busy"]
        threads = ">".join(map(str, alone["threads"])) + " / " + ">".join(map(str, busy["threads"]))
        task = row["task"] + ("*" if row.get("short") else "")
        cpu = f"{alone.get('step_cpu_seconds', 0):6.1f}/{busy.get('step_cpu_seconds', 0):<6.1f}"
        print(f"{task:22s} {row['settings']:8s} {row['hogs']:>3d}x{row['hog_threads']} {_seconds(alone)} "
              f"{_seconds(busy)} {_times(row['ratio'], busy, alone)} "
              f"{_times(row['ratio_to_new_alone'], busy, alone)} {threads:>18s} {cpu:>14s} "
              f"{alone['load']:4.1f}/{busy['load']:4.1f}")  # fmt: skip
    for row in report["rows"]:
        for run in (row["alone"], row["busy"]):
            if "failed" in run:
                print(f"\n{row['task']} ({row['settings']}) failed:\n{run['failed']}")
    print("goal: ratio <= 4x on 2 cores beside 4 single-threaded CPU-bound processes")
    if report["stopped_part_way"]:
        print("stopped part-way: the rows above are the steps that finished")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["new", "old"])
    parser.add_argument("--hogs", type=int, default=4)
    parser.add_argument("--hog-threads", type=int, nargs="+", default=[1], help="threads per hog (one run each)")
    parser.add_argument("--smoke", action="store_true", help="the families' seconds-long quickstart_smoke recipes")
    parser.add_argument("--short", action="store_true",
                        help="bound the long steps (terrain GAN, summarizer, tagger) to ~1-2 min alone (SHORT)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1,
                        help="alone and busy runs per step, alternated; the table shows medians (JSON: every run)")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], help="TASK.FIELD=VALUE recipe override (repeat)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed first run of each step (it fills the caches the timed runs reuse)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a step is given up")
    parser.add_argument("--output", type=Path, default=Path("/tmp/geohub-busy-machine"))
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark stops its hogs (finally)
    load_before, rows, stopped = os.getloadavg()[0], [], False
    try:
        measure(args, rows)
    except (KeyboardInterrupt, SystemExit):
        stopped = True  # stopped part-way (Ctrl-C, SIGTERM): the rows so far are still reported
    report = {"stopped_part_way": stopped,
              "tasks": args.tasks, "settings": args.settings, "hogs": args.hogs, "hog_threads": args.hog_threads,
              "smoke": args.smoke, "short": args.short, "repeats": args.repeats, "sets": args.set, "timeout": args.timeout, "load_before": load_before,
              "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "machine": platform.machine(),
              "rows": rows}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(report))
    print_table(report)


if __name__ == "__main__":
    main()
