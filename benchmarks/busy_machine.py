"""How much the quickstart's training steps slow down when the CPU is shared (issue #20, item 7).

    python benchmarks/busy_machine.py [--tasks seismic_denoising seismic_magnitude landform summarization]
                                      [--hogs 4] [--hog-threads 2] [--settings new old] [--smoke]
                                      [--set TASK.FIELD=VALUE ...] [--output /tmp/busy-machine]

For each quickstart task and each thread setting, one child process runs `run_quickstart(tasks=[task],
retrain=True)` (what `geohub quickstart --retrain --no-serve --tasks TASK` runs) and reports the step's wall
time, first alone, then beside `--hogs` CPU-bound processes (numpy matmul loops, each with `--hog-threads`
OpenBLAS threads) on the same cores. The ratio busy / alone is what sharing costs; sharing the cores fairly with
4 busy processes on 2 cores should cost about (4 + 1) / 1 = 5x at worst, and less for a multi-threaded step
that the scheduler gives several slots: goal <= 4x on 2 cores (issue #20: 25-40x with the old settings).

Settings: `new` = geohub's defaults (`geohub.runtime.configure_environment`: threads from the CPU affinity, OpenMP
threads sleep instead of spinning); `old` = `GEOHUB_RUNTIME=off` (torch's and libgomp's own defaults). The
children get a clean environment: OMP_NUM_THREADS, OMP_WAIT_POLICY, GOMP_SPINCOUNT and GEOHUB_* removed, so the
figures describe a fresh user's machine. `--smoke` uses the families' seconds-long `quickstart_smoke` recipes.
The machine may be shared with other work: the load average (`os.getloadavg`) is recorded beside every timing.
Prints one JSON line (prefix `BENCHMARK_JSON `), then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_STEP = r"""
import json, sys, time
from geohub.quickstart import run_quickstart, smoke_overrides, parse_overrides
name, folder, smoke, sets = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
overrides = smoke_overrides([name]) if smoke else {}
for task, fields in parse_overrides(sets).items():
    overrides.setdefault(task, {}).update(fields)
import torch
start = time.perf_counter()
result = run_quickstart(folder, tasks=[name], retrain=True, overrides=overrides, echo=lambda *a: None)[0]
print("STEP_JSON " + json.dumps({"seconds": time.perf_counter() - start, "threads": torch.get_num_threads()}))
"""

_HOG = r"""
import numpy as np
a = np.random.default_rng(0).standard_normal((400, 400))
while True:
    a = np.tanh(a @ a.T / 400.0)
"""

_CLEAN = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")


def child_env(setting: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN and not k.startswith("GEOHUB_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if setting == "old":
        env["GEOHUB_RUNTIME"] = "off"
    return env


def start_hogs(count: int, threads: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    env.update({"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)})
    return [subprocess.Popen([sys.executable, "-c", _HOG], env=env) for _ in range(count)]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        hog.terminate()
    for hog in hogs:
        hog.wait(timeout=30)


def run_step(task: str, setting: str, folder: Path, smoke: bool, sets: list[str], timeout: float) -> dict:
    """One quickstart step in a fresh child; its own timing of the step, the child's wall time and the load."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", _STEP, task, str(folder), "1" if smoke else "0", json.dumps(sets)],
                              env=child_env(setting), capture_output=True, text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timed_out": timeout, "load": [load_before, os.getloadavg()[0]]}
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("STEP_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{task} ({setting}) failed:\n{done.stderr[-3000:]}")
    result = json.loads(line[len("STEP_JSON ") :])
    result.update({"wall_seconds": time.perf_counter() - started, "load": [load_before, os.getloadavg()[0]]})
    return result


def measure(args) -> list[dict]:
    rows = []
    for task in args.tasks:
        for setting in args.settings:
            folder = args.output / setting / task
            alone = run_step(task, setting, folder, args.smoke, args.set, args.timeout)
            hogs = start_hogs(args.hogs, args.hog_threads)
            try:
                time.sleep(2.0)  # let the hogs start their loops
                busy = run_step(task, setting, folder, args.smoke, args.set, args.timeout)
            finally:
                stop_hogs(hogs)
            ratio = busy["seconds"] / alone["seconds"] if busy["seconds"] and alone["seconds"] else None
            rows.append({"task": task, "settings": setting, "alone": alone, "busy": busy, "ratio": ratio})
            print(f"{task} {setting}: alone {alone['seconds']} s, busy {busy['seconds']} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+",
                        default=["seismic_denoising", "seismic_magnitude", "landform", "summarization"])  # fmt: skip
    parser.add_argument("--settings", nargs="+", choices=["new", "old"], default=["new", "old"])
    parser.add_argument("--hogs", type=int, default=4)
    parser.add_argument("--hog-threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="the families' seconds-long quickstart_smoke recipes")
    parser.add_argument("--set", action="append", default=[], help="TASK.FIELD=VALUE recipe override (repeat)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a step is given up")
    parser.add_argument("--output", type=Path, default=Path("/tmp/geohub-busy-machine"))
    args = parser.parse_args()
    rows = measure(args)
    report = {"tasks": args.tasks, "hogs": args.hogs, "hog_threads": args.hog_threads, "smoke": args.smoke,
              "sets": args.set, "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
              "machine": platform.machine(), "rows": rows}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(report))
    recipes = "smoke recipes" if args.smoke else "full recipes"
    print(
        f"\nquickstart steps ({recipes}) alone and beside {args.hogs} CPU-bound processes, {report['affinity']} CPUs"
    )
    header = f"{'task':26s} {'settings':8s} {'alone s':>8s} {'busy s':>8s} {'ratio':>7s} {'threads':>7s} {'load':>11s}"
    print(header)
    print("-" * len(header))
    for row in rows:
        alone, busy = row["alone"], row["busy"]
        ratio = f"{row['ratio']:6.2f}x" if row["ratio"] else "   n/a"
        print(f"{row['task']:26s} {row['settings']:8s} {alone['seconds'] or float('nan'):8.1f} "
              f"{busy['seconds'] or float('nan'):8.1f} {ratio:>7s} {alone.get('threads', 0):7d} "
              f"{alone['load'][0]:5.1f}/{busy['load'][0]:4.1f}")  # fmt: skip
    print("goal: ratio <= 4x on 2 cores")


if __name__ == "__main__":
    main()
