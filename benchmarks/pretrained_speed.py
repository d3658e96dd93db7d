"""Inference speed of geohub's EQTransformer and GPD next to SeisBench's implementations of the same architectures.

    python benchmarks/pretrained_speed.py [--threads 1] [--repeats 7] [--batch-sizes 1 32] [--skip-annotate]
                                          [--annotate-repeats 3] [--annotate-batch-size 256]

Same input, same thread count, same process, `torch.inference_mode()`, random weights (speed does not depend on
them): windows per CPU-second (median over `--repeats` timed calls after warm-up, geohub and SeisBench calls
alternating; CPU time because the benchmark machine is shared) at each batch size, for

- EqT original (hard-sigmoid LSTM gates, 3 BiLSTM blocks): geohub `lstm_gate="hard_sigmoid"` vs SeisBench
  `EQTransformer(original_compatible="conservative")`, the closest SeisBench model (hard-sigmoid cells);
- EqT v2 (sigmoid gates, 2 BiLSTM blocks): geohub `lstm_gate="sigmoid"` vs SeisBench
  `EQTransformer(lstm_blocks=2, original_compatible="non-conservative")`;
- GPD: geohub vs SeisBench `GPD(original_compatible=True)` (400-sample windows); geohub in its default float32
  eval path (BatchNorm folded, TorchScript-frozen) and with `config.inference_dtype="bfloat16"` (a separate row).

Both sides get already-normalised windows (SeisBench's GPD divides by the max-abs inside `forward`; geohub's
feature extractor does it before). `annotate` on one hour of 3-component 100 Hz data (random noise, one
`obspy.Stream`), whole calls, hours of data per CPU-second (median of `--annotate-repeats`, alternating):
geohub `WaveformModel.from_pretrained(folder).annotate(stream)` of the shipped pickers (eqtransformer-original,
gpd-original: converted from the `pretrained` extra, or `--eqt-model` / `--gpd-model`) with their saved default
settings (record filter, windows, normalisation, model, merging into probability traces; precision "auto", which
`geohub.runtime` resolves per model and machine: the row names it, e.g. `[auto: bf16]`; `--precisions auto fp32
bf16` adds rows) vs SeisBench `model.annotate(stream)`, the same windows on both sides (EqT: 6000 samples every
4200, SeisBench `overlap=1800`; GPD: 400 samples every 10), the same batch size.
Targets: windows >= 1.5x SeisBench on the same model; annotate with the default settings >= 2x (issue #20).
Prints one JSON line (prefix `BENCHMARK_JSON `), then a table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402


def windows_per_cpu_second(models, inputs: torch.Tensor, repeats: int) -> list[float]:
    """Windows per CPU-second of each model on `inputs`: median over `repeats` calls, the models alternating
    call by call so that both see the same machine state. CPU time (`time.process_time`, one process) rather than
    wall time, because the benchmark machine is shared: wall time there measures the other tenants' load."""
    timings = [[] for _ in models]
    with torch.inference_mode():
        for model in models:
            for _ in range(2):
                model(inputs)
        for _ in range(repeats):
            for i, model in enumerate(models):
                start = time.process_time()
                model(inputs)
                timings[i].append(time.process_time() - start)
    return [inputs.shape[0] / statistics.median(t) for t in timings]


def contestants():
    import seisbench.models as sbm

    from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
    from geohub.models.gpd import GPDConfig, GPDForWindowClassification

    torch.manual_seed(0)
    return [
        ("EqT original (hard sigmoid)", 6000,
         EqTransformerForPhasePicking(EqTransformerConfig(lstm_gate="hard_sigmoid", num_lstm_blocks=3)).eval(),
         sbm.EQTransformer(lstm_blocks=3, original_compatible="conservative").eval()),
        ("EqT v2 (sigmoid)", 6000,
         EqTransformerForPhasePicking(EqTransformerConfig(lstm_gate="sigmoid", num_lstm_blocks=2, dropout=0.2)).eval(),
         sbm.EQTransformer(lstm_blocks=2, drop_rate=0.2, original_compatible="non-conservative").eval()),
        ("GPD", 400, GPDForWindowClassification(GPDConfig()).eval(), sbm.GPD(original_compatible=True).eval()),
        ("GPD (geohub bfloat16)", 400, GPDForWindowClassification(GPDConfig(inference_dtype="bfloat16")).eval(),
         sbm.GPD(original_compatible=True).eval()),
    ]  # fmt: skip


def hour_stream(seed: int = 0):
    """One hour of 3-component 100 Hz noise as an `obspy.Stream` (Z, N, E traces of 360,000 samples)."""
    import numpy as np
    from obspy import Stream, Trace, UTCDateTime

    rng = np.random.default_rng(seed)
    header = {"network": "XX", "station": "BENCH", "sampling_rate": 100.0, "starttime": UTCDateTime(2026, 1, 1)}
    return Stream([Trace(rng.standard_normal(360_000).astype(np.float32), header={**header, "channel": f"HH{c}"})
                   for c in "ZNE"])  # fmt: skip


def shipped_pickers(eqt_folder: str | None, gpd_folder: str | None) -> dict[str, str]:
    """The shipped pickers' folders: the given ones, else `geohub convert` of the published weights (the
    `pretrained` extra) into a temporary folder, as `geohub quickstart` makes them."""
    import tempfile

    from geohub.convert import convert

    folders = {"eqtransformer-original": eqt_folder, "gpd-original": gpd_folder}
    root = Path(tempfile.mkdtemp(prefix="geohub-speed-"))
    return {name: folder or str(convert(name, root / name)) for name, folder in folders.items()}


def annotate_hour(repeats: int, batch_size: int, only: list[str] | None = None, folders: dict | None = None,
                  precisions: tuple[str, ...] = ("auto",)) -> list[dict]:  # fmt: skip
    """`annotate` of one hour of 3-C 100 Hz data: hours of data per CPU-second, geohub and SeisBench alternating
    call by call (median of `repeats` after a warm-up call on 10 minutes), same windows and batch size on both sides.
    geohub runs the shipped pickers (`folders`) with their saved settings, at each of `precisions` ("auto": the
    default, which `geohub.runtime` resolves per model and machine)."""
    import seisbench.models as sbm

    from geohub.inference.waveform import WaveformModel

    folders = folders or shipped_pickers(None, None)
    cases = []
    for precision in precisions:
        eqt = WaveformModel.from_pretrained(folders["eqtransformer-original"], precision=precision)
        gpd = WaveformModel.from_pretrained(folders["gpd-original"], precision=precision)
        cases += [
            (f"EqT original [{precision}: {eqt.precision}]", eqt,
             sbm.EQTransformer(lstm_blocks=3, original_compatible="conservative").eval(), {"overlap": 1800}),
            (f"GPD [{precision}: {gpd.precision}]", gpd, sbm.GPD(original_compatible=True).eval(), {"stride": 10}),
        ]  # fmt: skip
    stream, rows = hour_stream(), []
    for name, ours, theirs, seisbench_args in cases:
        if only and not any(word in name for word in only):
            continue
        calls = [functools.partial(ours.annotate, stream, batch_size=batch_size),
                 functools.partial(theirs.annotate, stream, batch_size=batch_size, **seisbench_args)]  # fmt: skip
        timings = [[], []]
        warm = stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 600)  # 10 minutes
        ours.annotate(warm, batch_size=batch_size)
        theirs.annotate(warm, batch_size=batch_size, **seisbench_args)
        for _ in range(repeats):
            for i, call in enumerate(calls):
                start = time.process_time()
                call()
                timings[i].append(time.process_time() - start)
        ours_rate, theirs_rate = (1.0 / statistics.median(t) for t in timings)
        rows.append({"model": name, "precision": ours.precision, "batch_size": batch_size,
                     "geohub_hours_per_cpu_s": ours_rate,
                     "seisbench_hours_per_cpu_s": theirs_rate, "speedup": ours_rate / theirs_rate,
                     "geohub_cpu_s": statistics.median(timings[0]), "seisbench_cpu_s": statistics.median(timings[1])})  # fmt: skip
    return rows


def _print_table(rows: list[dict], rate: str, fmt: str) -> None:
    """One table row per model and batch size: geohub's and SeisBench's `<side>_<rate>` and the speed-up."""
    header = f"{'model':28s} {'batch':>5s} {'geohub':>10s} {'SeisBench':>10s} {'speed-up':>9s}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['model']:28s} {row['batch_size']:5d} {row['geohub_' + rate]:10{fmt}} "
              f"{row['seisbench_' + rate]:10{fmt}} {row['speedup']:8.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--skip-annotate", action="store_true")
    parser.add_argument("--annotate-repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=None, help="rows whose model name contains one of these")
    parser.add_argument("--annotate-batch-size", type=int, default=256)
    parser.add_argument("--eqt-model", help="the shipped EQTransformer's folder (default: convert it)")
    parser.add_argument("--gpd-model", help="the shipped GPD's folder (default: convert it)")
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["auto"],
        choices=["auto", "fp32", "bf16"],
        help="geohub precisions of the annotate rows (auto: the default settings)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before, rows = os.getloadavg(), []
    for name, length, ours, theirs in contestants():
        if args.only and not any(word in name for word in args.only):
            continue
        for batch in args.batch_sizes:
            inputs = torch.randn(batch, 3, length)
            inputs = inputs / inputs.abs().amax(dim=(1, 2), keepdim=True)
            geohub_rate, seisbench_rate = windows_per_cpu_second([ours, theirs], inputs, args.repeats)
            rows.append({"model": name, "batch_size": batch, "geohub_windows_per_cpu_s": geohub_rate,
                         "seisbench_windows_per_cpu_s": seisbench_rate, "speedup": geohub_rate / seisbench_rate})  # fmt: skip
    annotate = None
    if not args.skip_annotate:
        folders = shipped_pickers(args.eqt_model, args.gpd_model)
        annotate = annotate_hour(args.annotate_repeats, args.annotate_batch_size, args.only, folders,
                                 tuple(args.precisions))  # fmt: skip
    import seisbench

    report = {"threads": args.threads, "repeats": args.repeats, "torch": torch.__version__,
              "seisbench": seisbench.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
              "rows": rows, "annotate": annotate,
              "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()}}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(report))
    print(f"\nwindows per CPU-second, {args.threads} thread(s), median of {args.repeats}, random weights, same input")
    _print_table(rows, "windows_per_cpu_s", ".1f")
    if annotate:
        print(
            f"\nannotate, one hour of 3-C 100 Hz data, hours of data per CPU-second, median of {args.annotate_repeats}"
        )
        _print_table(annotate, "hours_per_cpu_s", ".3f")
    print("targets: windows >= 1.50x SeisBench on the same model; annotate [auto] >= 2.00x")
    print(f"load average (1/5/15 min): start {report['load_average_1_5_15_min']['start']}, "
          f"end {report['load_average_1_5_15_min']['end']} on {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
