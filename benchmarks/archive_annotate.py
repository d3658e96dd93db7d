"""Archive-scale picking: `geohub annotate` on 1 and 2 processes next to a loop of SeisBench's `classify` over the
same day files, with the same architecture (PhaseNet-style U-Net, random weights, ~270k parameters each), in one run.

    python benchmarks/archive_annotate.py [--stations 2] [--days 1] [--hours-per-day 24] [--gaps-per-day 500]
                                          [--workdir DIR [--reuse]] [--repeats 2] [--precision bf16]
                                          [--batch-size 32] [--skip-seisbench] [--threads 1]

The geohub picker's random noise logit gets `--noise-bias` (a random picker otherwise puts a pick every second);
pick counts of both are reported.

1. Writes a synthetic SDS archive with the project's seismogram generator (`geohub.data.synthetic_seismic`):
   `--stations` x `--days` day files per component at 100 Hz (`--hours-per-day` of data each), events every ~10 min,
   `--gaps-per-day` gaps of 0.5-3 s in every channel (`--reuse`: the archive already in `--workdir`).
2. `--repeats` rounds, interleaved so that load changes hit every contestant alike (medians reported): `geohub
   annotate SDS --model PICKER --output DIR --precision P` with 1 process, the same with `--config_file
   recipes/accelerate_configs/multi_cpu.yaml` (2 processes), each process with `--threads` torch threads and
   one-day chunks, and `seisbench.models.PhaseNet().classify(stream)` (same overlap of 1500 samples, `--threads`
   threads) on each station-day read with `obspy.read` (its CPU and wall time include the read, as geohub's include
   its read and merge). geohub's figures come from the run's summary: `cpu_seconds` (CPU time of the chunk loops,
   all processes) and `loop_seconds` (wall time of the slowest process's chunk loop), so interpreter start-up and
   model loading are excluded for every contestant alike. Once: the same 1-process run in float32
   (`--precision fp32`), and the agreement of its picks with the `--precision` run (same trace, phase, within 0.1 s).
3. Times merging one channel-day with 500 gaps: geohub's `merge_to_grid` vs ObsPy's `Stream.merge(method=1,
   fill_value="interpolate")`.

Every throughput divides the same hours of data (geohub's summary: samples that some channel covers).

Targets: scaling efficiency >= 0.85 at 2 processes (throughput per wall second at 2 processes / 2x that at 1;
on a shared machine also reported per CPU second); geohub throughput >= 2x the SeisBench loop; peak RSS per process
bounded by one chunk. The load average (`os.getloadavg`) before and after is printed: on a loaded machine wall
figures are noise. Prints one JSON line, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def write_archive(root: Path, stations: int, days: int, hours: float, gaps: int, seed: int = 0) -> list[list[Path]]:
    """SDS day files; returns, per station-day, the 3 component paths."""
    from obspy import Stream, UTCDateTime

    from geohub.data.synthetic_seismic import synthetic_stream

    rng = np.random.default_rng(seed)
    groups = []
    for s in range(stations):
        for d in range(days):
            start = UTCDateTime("2024-03-01") + 86400 * d
            duration = hours * 3600.0
            stream = Stream()
            for h in range(int(np.ceil(hours))):  # hour by hour: the generator renders each event over the record
                length = min(3600.0, duration - 3600.0 * h)
                events = [{"time_s": float(t), "magnitude": float(rng.uniform(1.5, 3.5)),
                           "distance_km": float(rng.uniform(10, 120))} for t in np.arange(120.0, length - 120, 600.0)]  # fmt: skip
                part, _ = synthetic_stream(length, events=events, seed=seed + 10000 * s + 100 * d + h,
                                           station=f"S{s:02d}", starttime=str(start + 3600.0 * h))  # fmt: skip
                stream += part
            stream.merge()
            paths = []
            for trace in stream:
                cuts = np.sort(rng.uniform(0, duration - 5, gaps))
                lengths = rng.uniform(0.5, 3.0, gaps)
                pieces, previous = Stream(), 0.0
                for cut, length in zip(cuts, lengths):
                    if cut > previous:
                        pieces += trace.slice(start + previous, start + cut - 0.01)
                    previous = max(previous, cut + length)
                pieces += trace.slice(start + previous, trace.stats.endtime)
                folder = root / str(start.year) / "GH" / f"S{s:02d}" / f"{trace.stats.channel}.D"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{trace.id}.D.{start.year}.{start.julday:03d}"
                pieces.write(str(path), format="MSEED", encoding="FLOAT32")
                paths.append(path)
            groups.append(paths)
    return groups


def run_geohub(sds: Path, picker: Path, output: Path, threads: int, config: Path | None, precision: str,
               batch_size: int) -> dict:  # fmt: skip
    shutil.rmtree(output, ignore_errors=True)
    argv = [sys.executable, "-m", "geohub.cli", "annotate", str(sds), "--model", str(picker), "--output", str(output),
            "--threads", str(threads), "--no-progress", "--no-plot", "--precision", precision,
            "--batch-size", str(batch_size)]  # fmt: skip
    if config is not None:
        argv += ["--config_file", str(config)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    began = time.perf_counter()
    completed = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    summary = json.loads((output / "summary.json").read_text())
    summary["end_to_end_seconds"] = round(time.perf_counter() - began, 2)
    return summary


def read_picks(path: Path) -> dict:
    """{(trace_id, phase): sorted array of pick times (s since the epoch)} of a picks.csv."""
    import csv

    from obspy import UTCDateTime

    picks: dict = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            picks.setdefault((row["trace_id"], row["phase"]), []).append(UTCDateTime(row["time"]).timestamp)
    return {key: np.sort(np.asarray(times)) for key, times in picks.items()}


def matched(picks: dict, others: dict, tolerance: float = 0.1) -> float:
    """Fraction of `picks` with a pick of the same trace and phase in `others` within `tolerance` seconds."""
    hits = total = 0
    for key, times in picks.items():
        total += len(times)
        other = others.get(key, np.empty(0))
        if len(other) == 0:
            continue
        index = np.clip(np.searchsorted(other, times), 1, len(other)) - 1
        nearest = np.minimum(
            np.abs(other[index] - times), np.abs(other[np.minimum(index + 1, len(other) - 1)] - times)
        )
        hits += int((nearest <= tolerance).sum())
    return round(hits / total, 4) if total else float("nan")


def peak_rss_mb() -> float:
    """Peak RSS of this process (MB) from `/proc/self/status` VmHWM (ru_maxrss keeps a parent's peak across exec).
    The same reading as `geohub.inference.archive`'s, written here because the SeisBench child must not import
    geohub (importing it registers the families and loads transformers, which would count in SeisBench's memory)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def seisbench_in_child(workdir: Path, threads: int) -> dict:
    """`run_seisbench` in a fresh interpreter (`--seisbench-child`): its memory and start-up are its own."""
    argv = [
        sys.executable,
        __file__,
        "--seisbench-child",
        "--workdir",
        str(workdir),
        "--reuse",
        "--threads",
        str(threads),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    completed = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_seisbench(groups: list[list[Path]], threads: int) -> dict:
    import obspy
    import seisbench.models as sbm
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = sbm.PhaseNet().eval()
    hours, picks, wall, cpu = 0.0, 0, 0.0, 0.0
    for paths in groups:
        w0, c0 = time.perf_counter(), time.process_time()
        stream = obspy.Stream()
        for path in paths:
            stream += obspy.read(str(path))
        output = model.classify(stream, overlap=1500, batch_size=32)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        picks += len(output.picks)
        hours += sum(tr.stats.npts for tr in stream.select(component="Z")) / 100.0 / 3600.0
    return {"hours": round(hours, 3), "picks": picks, "loop_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def time_merges(gaps: int = 500) -> dict:
    from obspy import Stream, Trace, UTCDateTime

    from geohub.inference.archive_sources import merge_to_grid

    rate, day = 100.0, 86400 * 100
    values = np.random.default_rng(0).standard_normal(day).astype(np.float32)
    edges = np.linspace(0, day, gaps + 2).astype(int)
    traces = [Trace(values[a : b - 100].copy(), header={"sampling_rate": rate, "starttime": UTCDateTime(0) + a / rate})
              for a, b in zip(edges[:-1], edges[1:])]  # fmt: skip
    began = time.perf_counter()
    merge_to_grid(traces, 0, day, rate)
    ours = time.perf_counter() - began
    stream = Stream([tr.copy() for tr in traces])
    began = time.perf_counter()
    stream.merge(method=1, fill_value="interpolate")
    theirs = time.perf_counter() - began
    return {"gaps": gaps, "geohub_merge_s": round(ours, 3), "obspy_merge_s": round(theirs, 3)}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=2)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--hours-per-day", type=float, default=24.0)
    parser.add_argument("--gaps-per-day", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds (medians reported)")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"], help="geohub's precision")
    parser.add_argument("--batch-size", type=int, default=32, help="geohub's windows per model call")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-seisbench", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="reuse the archive already in --workdir")
    parser.add_argument("--noise-bias", type=float, default=4.0, help="added to the random picker's noise logit")
    parser.add_argument("--seisbench-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def _groups(sds: Path, args) -> list[list[Path]]:
    if args.reuse and sds.is_dir():  # the archive of an earlier run with the same --workdir
        files = sorted(sds.rglob("GH.*.D.*"))
        keys = sorted({(f.name.split(".")[1], f.name.rsplit(".", 1)[-1]) for f in files})
        return [[f for f in files if (f.name.split(".")[1], f.name.rsplit(".", 1)[-1]) == key] for key in keys]
    return write_archive(sds, args.stations, args.days, args.hours_per_day, args.gaps_per_day)


def _median_run(runs: list[dict]) -> dict:
    """The run with the median CPU time (its other fields kept), plus the medians of the timing fields."""
    ordered = sorted(runs, key=lambda r: r["cpu_seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    for key in ("cpu_seconds", "loop_seconds"):
        median[key] = float(np.median([r[key] for r in runs]))
    median["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return median


def main() -> None:
    args = _arguments()
    if args.seisbench_child:  # the SeisBench loop of `seisbench_in_child`
        print(json.dumps(run_seisbench(_groups(args.workdir / "sds", args), args.threads)))
        return
    import torch

    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    load_before = os.getloadavg()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="geohub-archive-bench-"))
    sds, picker = work / "sds", work / "picker"
    _groups(sds, args)  # writes the archive (unless --reuse)
    torch.manual_seed(0)
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(window_length=3001))
    with torch.no_grad():  # random weights pick everywhere; favour noise so picks are sparse, as with a trained model
        model.phase_head.bias[0] += args.noise_bias
        model.detection_head.bias -= args.noise_bias
    model.save_pretrained(picker)
    SeismicFeatureExtractor(window_length=3001).save_pretrained(picker)
    config = REPO / "recipes" / "accelerate_configs" / "multi_cpu.yaml"
    began = time.perf_counter()
    ones, twos, seis, same = [], [], [], True
    for _ in range(max(1, args.repeats)):  # interleaved: a load change hits every contestant
        ones.append(run_geohub(sds, picker, work / "out-1", args.threads, None, args.precision, args.batch_size))
        twos.append(run_geohub(sds, picker, work / "out-2", args.threads, config, args.precision, args.batch_size))
        same &= (work / "out-1" / "picks.csv").read_bytes() == (work / "out-2" / "picks.csv").read_bytes()
        if not args.skip_seisbench:
            seis.append(seisbench_in_child(work, args.threads))
    fp32 = None
    if args.precision != "fp32":
        fp32 = run_geohub(sds, picker, work / "out-fp32", args.threads, None, "fp32", args.batch_size)
        reference, fast = read_picks(work / "out-fp32" / "picks.csv"), read_picks(work / "out-1" / "picks.csv")
        fp32["agreement"] = {
            "fp32_picks_matched": matched(reference, fast),
            "picks_matched_in_fp32": matched(fast, reference),
        }
    merges = time_merges()
    timing = {"load_before": [round(v, 2) for v in load_before], "load_after": [round(v, 2) for v in os.getloadavg()],
              "benchmark_seconds": round(time.perf_counter() - began, 1)}  # fmt: skip
    seis_median = None
    if seis:
        seis_median = min(seis, key=lambda r: abs(r["cpu_seconds"] - np.median([x["cpu_seconds"] for x in seis])))
        seis_median = {**seis_median, "cpu_seconds": float(np.median([r["cpu_seconds"] for r in seis])),
                       "loop_seconds": float(np.median([r["loop_seconds"] for r in seis]))}  # fmt: skip
    report(
        args,
        _median_run(ones),
        _median_run(twos),
        same,
        seis_median,
        fp32,
        merges,
        timing,
        sum(p.numel() for p in model.parameters()),
    )


def report(args, one, two, same, seis, fp32, merges, timing, parameters) -> None:
    hours = one["hours_of_data"]
    per_cpu = {n: hours / s["cpu_seconds"] for n, s in (("1", one), ("2", two))}
    per_wall = {n: hours / s["loop_seconds"] for n, s in (("1", one), ("2", two))}
    result = {
        "archive": f"{args.stations} stations x {args.days} days x {args.hours_per_day:g} h, "
        f"{args.gaps_per_day} gaps/channel-day",
        "hours_of_data": hours,
        "precision": args.precision,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "geohub_hours_per_cpu_s": {n: round(v, 3) for n, v in per_cpu.items()},
        "geohub_hours_per_wall_s": {n: round(v, 3) for n, v in per_wall.items()},
        "scaling_efficiency_wall": round(per_wall["2"] / (2 * per_wall["1"]), 3),
        "scaling_efficiency_cpu": round(per_cpu["2"] / per_cpu["1"], 3),
        "same_picks_1_vs_2": same,
        "geohub_peak_rss_mb": {"1": one["peak_rss_mb"], "2": two["peak_rss_mb"]},
        "geohub_end_to_end_s": {"1": one["end_to_end_seconds"], "2": two["end_to_end_seconds"]},
        "geohub_picks": one["picks"],
        "geohub_parameters": parameters,
        **merges,
        **timing,
    }
    if fp32 is not None:
        result["geohub_fp32_hours_per_cpu_s"] = round(hours / fp32["cpu_seconds"], 3)
        result["geohub_fp32_picks"] = fp32["picks"]
        result["pick_agreement_vs_fp32_within_0.1s"] = fp32["agreement"]
    if seis is not None:
        result["seisbench"] = seis
        result["seisbench_hours_per_cpu_s"] = round(hours / seis["cpu_seconds"], 3)
        result["speedup_vs_seisbench_cpu"] = round(per_cpu["1"] / result["seisbench_hours_per_cpu_s"], 3)
        result["speedup_vs_seisbench_wall"] = round(per_wall["1"] / (hours / seis["loop_seconds"]), 3)
        if fp32 is not None:
            result["speedup_fp32_vs_seisbench_cpu"] = round(result["geohub_fp32_hours_per_cpu_s"]
                                                            / result["seisbench_hours_per_cpu_s"], 3)  # fmt: skip
    print(json.dumps(result, sort_keys=True))
    _table(result, one, two, seis, fp32, per_cpu, per_wall)


def _table(result, one, two, seis, fp32, per_cpu, per_wall) -> None:
    precision = result["precision"]
    rows = [(f"geohub annotate {precision}, 1 process", per_cpu["1"], per_wall["1"], one["peak_rss_mb"]),
            (f"geohub annotate {precision}, 2 processes", per_cpu["2"], per_wall["2"], two["peak_rss_mb"])]  # fmt: skip
    if fp32 is not None:
        rows.append(("geohub annotate fp32, 1 process", result["hours_of_data"] / fp32["cpu_seconds"],
                     result["hours_of_data"] / fp32["loop_seconds"], fp32["peak_rss_mb"]))  # fmt: skip
    if seis is not None:
        rows.append(("SeisBench PhaseNet.classify loop", result["hours_of_data"] / seis["cpu_seconds"],
                     result["hours_of_data"] / seis["loop_seconds"], seis["peak_rss_mb"]))  # fmt: skip
    print(f"\n{'run':<38} {'hours/CPU-s':>12} {'hours/wall-s':>13} {'peak RSS MB':>12}")
    for name, cpu, wall, rss in rows:
        print(f"{name:<38} {cpu:>12.3f} {wall:>13.3f} {rss:>12.0f}")
    print(f"\nscaling efficiency at 2 processes: {result['scaling_efficiency_wall']:.2f} (wall; target 0.85), "
          f"{result['scaling_efficiency_cpu']:.2f} (CPU); same picks 1 vs 2 processes: {result['same_picks_1_vs_2']}")  # fmt: skip
    if seis is not None:
        print(f"geohub ({precision}) / SeisBench throughput: {result['speedup_vs_seisbench_cpu']:.2f}x (CPU; target 2), "
              f"{result['speedup_vs_seisbench_wall']:.2f}x (wall)"
              + (f"; fp32: {result['speedup_fp32_vs_seisbench_cpu']:.2f}x (CPU)" if fp32 is not None else ""))  # fmt: skip
    if fp32 is not None:
        agreement = result["pick_agreement_vs_fp32_within_0.1s"]
        print(f"picks {precision} vs fp32 (same trace and phase within 0.1 s): {agreement['fp32_picks_matched']:.1%} "
              f"of the {result['geohub_fp32_picks']} fp32 picks matched, {agreement['picks_matched_in_fp32']:.1%} "
              f"of the {result['geohub_picks']} {precision} picks")  # fmt: skip
    print(f"merge of a day with {result['gaps']} gaps: geohub {result['geohub_merge_s']:.3f} s, "
          f"ObsPy Stream.merge {result['obspy_merge_s']:.3f} s")  # fmt: skip
    print(f"load average before {result['load_before']}, after {result['load_after']} (2 cores); "
          f"benchmark {result['benchmark_seconds']:.0f} s after the archive was written")  # fmt: skip


if __name__ == "__main__":
    main()
