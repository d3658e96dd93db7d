"""Load test of the geohub demo: N concurrent `gradio_client` clients x M requests against the app on 127.0.0.1.

    python benchmarks/demo_load.py                          # models of `geohub quickstart` (./geohub-quickstart)
    python benchmarks/demo_load.py --smoke --clients 8 --requests 5
    python benchmarks/demo_load.py --models-dir runs/quickstart --concurrency 4

Each client cycles through every endpoint (`geohub.demo.API_NAMES`, with the bundled examples as inputs),
starting at its own offset, so all endpoints are hit concurrently. Reported per endpoint: requests, failures,
p50/p95 latency through the server (queue included), and the baseline of the same run: the p50 of calling the
same handler in-process with no server, one call at a time (the ratio is the cost of the queue, HTTP and
contention). `--smoke` trains seconds-long tiny models first (the quickstart code path with the families' smoke overrides),
for a check of the serving path without the real models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def _requests(example_seismic: str, example_dem: str, abstract: str) -> dict[str, tuple]:
    """api_name -> positional inputs (bundled examples, so no upload dominates the timing)."""
    return {
        "summarize": (abstract, None, 1),
        "extract_knowledge": (abstract, None),
        "annotate_seismic": (None, example_seismic),
        "generate_terrain": (7, 2, ".npy"),
        "classify_landform": (None, example_dem, None),
    }


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _prepare_models(args) -> Path:
    from geohub.quickstart import model_is_saved, run_quickstart, smoke_overrides

    if not args.smoke:
        folder = Path(args.models_dir) if args.models_dir else None
        if folder is None:
            from geohub.environment import default_output_dir

            folder = default_output_dir()
        missing = [t for t in _TASKS if not model_is_saved(folder / t)]
        if missing:
            sys.exit(f"demo_load: no saved {missing} under {folder}; run `geohub quickstart` first or pass --smoke")
        return folder
    folder = Path(tempfile.mkdtemp(prefix="geohub-demo-load-"))
    print(f"demo_load: training smoke models into {folder}", flush=True)
    run_quickstart(folder, overrides=smoke_overrides(), echo=lambda *_: None)
    missing = [t for t in _TASKS if not model_is_saved(folder / t)]
    if missing:
        sys.exit(f"demo_load: the quickstart recipes do not cover {missing} (a family without a quickstart recipe)")
    return folder


_TASKS = ("summarization", "knowledge_extraction", "seismic_picking", "seismic_magnitude", "terrain_gan", "landform")


def _baseline(models, limits, requests: dict[str, tuple], repeats: int) -> dict[str, float]:
    """p50 seconds of each handler called in-process, one at a time (no server)."""
    from geohub.demo import handlers

    functions = {"summarize": handlers.summarize_text, "extract_knowledge": handlers.extract_knowledge,
                 "annotate_seismic": handlers.annotate_seismic, "generate_terrain": handlers.generate_dem,
                 "classify_landform": handlers.classify_dem}  # fmt: skip
    result = {}
    for name, inputs in requests.items():
        functions[name](models, limits, *inputs)  # warm-up (lazy imports, first allocation)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            functions[name](models, limits, *inputs)
            times.append(time.perf_counter() - start)
        result[name] = statistics.median(times)
    return result


def _drive(url: str, requests: dict[str, tuple], clients: int, per_client: int, timeout_s: float = 300.0):
    """Run the clients; returns {api_name: [latency seconds]}, {api_name: failures}, [error texts], wall seconds.

    A request that has no answer after `timeout_s` counts as a failure (never a hang); one HTTP call may take 60 s
    (gradio_client's default of 5 s counts a busy 2-core server's slow queue join or file download as a failure;
    the server's event stream sends a heartbeat every 15 s)."""
    from gradio_client import Client

    names = list(requests)
    latencies = {n: [] for n in names}
    failures = dict.fromkeys(names, 0)
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client_loop(index: int) -> None:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 60.0})
        barrier.wait()
        for request in range(per_client):
            name = names[(index + request) % len(names)]
            start = time.perf_counter()
            try:
                client.submit(*requests[name], api_name=f"/{name}").result(timeout=timeout_s)
                ok = True
            except Exception as err:  # every failure is counted and reported
                ok = False
                with lock:
                    errors.append(f"{name}: {type(err).__name__}: {err}")
            elapsed = time.perf_counter() - start
            with lock:
                if ok:
                    latencies[name].append(elapsed)
                else:
                    failures[name] += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures, errors, time.perf_counter() - start


def load_test(url: str, clients: int = 16, requests_per_client: int = 3, requests: dict | None = None) -> dict:
    """Drive the demo at `url` with `clients` concurrent clients x `requests_per_client` requests over every
    endpoint; returns {"total_requests", "failures", "errors", "p50_s", "p95_s", "wall_s", "endpoints": {name:
    {"requests", "failures", "p50_s", "p95_s"}}} (latencies through the server, queue included)."""
    if requests is None:
        from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES

        requests = _requests(next(iter(SEISMIC_EXAMPLES)), next(iter(DEM_EXAMPLES)), EXAMPLE_ABSTRACT)
    latencies, failures, errors, wall = _drive(url, requests, clients, requests_per_client)
    every = [x for values in latencies.values() for x in values]
    endpoints = {
        name: {"requests": len(latencies[name]) + failures[name], "failures": failures[name],
               "p50_s": _percentile(latencies[name], 50), "p95_s": _percentile(latencies[name], 95)}
        for name in requests
    }  # fmt: skip
    return {"total_requests": len(every) + sum(failures.values()), "failures": sum(failures.values()),
            "errors": errors, "p50_s": _percentile(every, 50), "p95_s": _percentile(every, 95), "wall_s": wall,
            "requests_per_s": len(every) / wall if wall else float("nan"), "endpoints": endpoints}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default=None, help="quickstart folder (default $GEOHUB_HOME)")
    parser.add_argument("--smoke", action="store_true", help="train tiny models first instead of using saved ones")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (N)")
    parser.add_argument("--requests", type=int, default=5, help="requests per client (M)")
    parser.add_argument("--concurrency", type=int, default=2, help="Gradio concurrency limit per endpoint")
    parser.add_argument("--baseline-repeats", type=int, default=3, help="in-process calls per endpoint")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from geohub.demo import DemoLimits, DemoModels, launch_demo
    from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES

    folder = _prepare_models(args)
    models, limits = DemoModels(models_dir=folder), DemoLimits()
    requests = _requests(next(iter(SEISMIC_EXAMPLES)), next(iter(DEM_EXAMPLES)), EXAMPLE_ABSTRACT)
    demo, url = launch_demo(
        models, port=0, limits=limits, prevent_thread_lock=True, concurrency_limit=args.concurrency
    )
    try:
        baseline = _baseline(models, limits, requests, args.baseline_repeats)
        result = load_test(url, args.clients, args.requests, requests)
    finally:
        demo.close()
    errors, wall = result["errors"], result["wall_s"]
    rows = {name: {**result["endpoints"][name], "in_process_p50_s": baseline[name]} for name in requests}
    summary = {
        "benchmark": "demo_load", "clients": args.clients, "requests_per_client": args.requests,
        "concurrency_limit": args.concurrency, "torch_threads": args.threads, "models_dir": str(folder),
        "smoke_models": args.smoke, "total_requests": result["total_requests"], "failures": result["failures"],
        "p50_s": result["p50_s"], "p95_s": result["p95_s"], "requests_per_s": result["requests_per_s"],
        "wall_s": wall, "endpoints": rows,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(summary, sort_keys=True))
    print(f"\n{args.clients} clients x {args.requests} requests, concurrency {args.concurrency}/endpoint, "
          f"{'smoke' if args.smoke else 'saved'} models from {folder}")  # fmt: skip
    print(f"{'endpoint':<20}{'requests':>9}{'failed':>8}{'p50 s':>9}{'p95 s':>9}{'in-process p50 s':>18}{'ratio':>8}")
    for name, row in rows.items():
        ratio = row["p50_s"] / row["in_process_p50_s"] if row["in_process_p50_s"] else float("nan")
        print(f"{name:<20}{row['requests']:>9}{row['failures']:>8}{row['p50_s']:>9.3f}{row['p95_s']:>9.3f}"
              f"{row['in_process_p50_s']:>18.3f}{ratio:>8.1f}")  # fmt: skip
    print(f"{'all':<20}{summary['total_requests']:>9}{summary['failures']:>8}{summary['p50_s']:>9.3f}"
          f"{summary['p95_s']:>9.3f}{'':>18}{'':>8}")  # fmt: skip
    print(f"throughput {summary['requests_per_s']:.2f} requests/s over {wall:.1f} s")
    for error in errors[:5]:
        print("error:", error)
    if summary["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
