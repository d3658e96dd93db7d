"""CPU throughput (windows per second) of the geohub picker and magnitude model next to SeisBench's PhaseNet and
EQTransformer, all with random weights, the same input length and the same thread count, in one run.

    python benchmarks/seismic_throughput.py [--length 3001] [--threads 1] [--repeats 7]

Each model runs in eval mode under `torch.inference_mode()` on random `(B, 3, length)` inputs, B = 1 and 32;
the figure is the median over `--repeats` timed calls after two warm-up calls, the calls of all
models interleaved in a shuffled order; the "best" columns use the fastest call, which is what the model can do when other
processes on a shared machine leave it a core. EQTransformer's SeisBench
implementation only accepts 6000-sample inputs, so it is timed at 6000 samples and its row says so, next to a
geohub row at the same 6000 samples. SeisBench is a test/benchmark-only dependency (`pip install seisbench`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression  # noqa: E402
from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking  # noqa: E402


def interleaved_throughput(models: dict, batch: int, repeats: int) -> dict[str, float]:
    """Median windows/s per model; the timed calls alternate between models so that load from other processes
    on the machine affects every row alike."""
    inputs = {name: torch.randn(batch, 3, length) for name, (_, length) in models.items()}
    times = {name: [] for name in models}
    with torch.inference_mode():
        for name, (forward, _) in models.items():
            for _ in range(2):
                forward(inputs[name])
        order = list(models)
        shuffler = random.Random(0)
        for _ in range(repeats):
            shuffler.shuffle(order)  # a fixed model order can line up with periodic slow calls on a loaded machine
            for name in order:
                forward = models[name][0]
                start = time.perf_counter()
                forward(inputs[name])
                times[name].append(time.perf_counter() - start)
    return {name: (batch / statistics.median(values), batch / min(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=3001)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    picker = SeismicPickerForPhasePicking(SeismicPickerConfig()).eval()
    magnitude = SeismicMagnitudeForRegression(SeismicMagnitudeConfig()).eval()
    log_amplitude = {}

    def magnitude_forward(x):
        if x.shape[0] not in log_amplitude:
            log_amplitude[x.shape[0]] = torch.zeros(x.shape[0], 3)
        return magnitude(inputs=x, log_amplitude=log_amplitude[x.shape[0]])

    models = {
        "geohub picker": (lambda x: picker(inputs=x), args.length),
        "geohub magnitude": (magnitude_forward, args.length),
    }
    try:
        import seisbench.models as sbm

        phasenet = sbm.PhaseNet().eval()
        eqt = sbm.EQTransformer().eval()
        models["seisbench PhaseNet"] = (phasenet, args.length)
        models["geohub picker @6000"] = (lambda x: picker(inputs=x), 6000)
        models["seisbench EQTransformer @6000"] = (eqt, 6000)
    except ImportError:
        print("seisbench is not installed: `pip install seisbench` for the baseline rows", file=sys.stderr)
    batch_1 = interleaved_throughput(models, 1, args.repeats)
    batch_32 = interleaved_throughput(models, 32, args.repeats)
    results = {
        name: {"length": length, "batch_1": batch_1[name][0], "batch_32": batch_32[name][0],
               "batch_1_best": batch_1[name][1], "batch_32_best": batch_32[name][1],
               "parameters": sum(p.numel() for p in forward.parameters()) if isinstance(forward, torch.nn.Module) else None}
        for name, (forward, length) in models.items()
    }  # fmt: skip
    results["geohub picker"]["parameters"] = sum(p.numel() for p in picker.parameters())
    results["geohub magnitude"]["parameters"] = sum(p.numel() for p in magnitude.parameters())
    if "geohub picker @6000" in results:
        results["geohub picker @6000"]["parameters"] = results["geohub picker"]["parameters"]
    ratios = {}
    if "seisbench PhaseNet" in results:
        for batch in ("batch_1", "batch_32", "batch_1_best", "batch_32_best"):
            ratios[f"picker_vs_phasenet_{batch}"] = (
                results["geohub picker"][batch] / results["seisbench PhaseNet"][batch]
            )
            ratios[f"picker_vs_eqtransformer_{batch}"] = (
                results["geohub picker @6000"][batch] / results["seisbench EQTransformer @6000"][batch]
            )
    record = {
        "benchmark": "seismic_throughput",
        "threads": args.threads,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "results": results,
        "ratios": ratios,
    }
    print("BENCHMARK_JSON " + json.dumps(record))
    print(
        f"{'model':<32}{'length':>8}{'params':>10}{'win/s b=1':>12}{'win/s b=32':>12}{'best b=1':>10}{'best b=32':>11}"
    )
    for name, r in results.items():
        print(f"{name:<32}{r['length']:>8}{r['parameters'] or 0:>10}{r['batch_1']:>12.1f}{r['batch_32']:>12.1f}"
              f"{r['batch_1_best']:>10.1f}{r['batch_32_best']:>11.1f}")  # fmt: skip
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")


if __name__ == "__main__":
    main()
