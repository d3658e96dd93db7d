"""Archive-scale picking: `geohub annotate` on 1 and 2 processes next to a loop of SeisBench's `classify` over the
same day files, with the same architecture (PhaseNet-style U-Net, random weights, ~270k parameters each), in one run.

    python benchmarks/archive_annotate.py [--stations 4] [--days 2] [--hours-per-day 24] [--gaps-per-day 500]
                                          [--workdir DIR] [--skip-seisbench] [--threads 1]

The geohub picker's random noise logit gets `--noise-bias` (a random picker otherwise puts a pick every second,
and its P/S de-duplication is quadratic in the picks of a chunk); pick counts of both are reported.

1. Writes a synthetic SDS archive with the project's seismogram generator (`geohub.data.synthetic_seismic`):
   `--stations` x `--days` day files per component at 100 Hz (`--hours-per-day` of data each), events every ~10 min,
   `--gaps-per-day` gaps of 0.5-3 s in every channel.
2. Times `geohub annotate SDS --model PICKER --output DIR` with 1 process and with
   `--config_file recipes/accelerate_configs/multi_cpu.yaml` (2 processes), each process with `--threads` torch
   threads, one-day chunks. Figures come from the run's summary: `cpu_seconds` (CPU time of the chunk loops, all
   processes) and `loop_seconds` (wall time of the slowest process's chunk loop), so interpreter start-up and model
   loading are excluded for every contestant alike.
3. Times `seisbench.models.PhaseNet().classify(stream)` (same overlap of 1500 samples, `--threads` threads) on each
   station-day read with `obspy.read` (its CPU and wall time include the read, as geohub's include its read).
4. Times merging one channel-day with 500 gaps: geohub's `merge_to_grid` vs ObsPy's `Stream.merge(method=1,
   fill_value="interpolate")`.

Targets: scaling efficiency >= 0.85 at 2 processes (throughput per wall second at 2 processes / 2x that at 1;
on a shared machine also reported per CPU second); geohub throughput >= 2x the SeisBench loop; peak RSS per process
bounded by one chunk. Prints one JSON line, then a table.
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


def run_geohub(sds: Path, picker: Path, output: Path, threads: int, config: Path | None) -> dict:
    argv = [sys.executable, "-m", "geohub.cli", "annotate", str(sds), "--model", str(picker), "--output", str(output),
            "--threads", str(threads), "--no-progress"]  # fmt: skip
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
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--hours-per-day", type=float, default=24.0)
    parser.add_argument("--gaps-per-day", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-seisbench", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="reuse the archive already in --workdir")
    parser.add_argument("--noise-bias", type=float, default=4.0, help="added to the random picker's noise logit")
    args = parser.parse_args()
    import torch

    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    work = args.workdir or Path(tempfile.mkdtemp(prefix="geohub-archive-bench-"))
    sds, picker = work / "sds", work / "picker"
    if args.reuse and sds.is_dir():  # the archive of an earlier run with the same --workdir
        files = sorted(sds.rglob("GH.*.D.*"))
        keys = sorted({(f.name.split(".")[1], f.name.rsplit(".", 1)[-1]) for f in files})
        groups = [[f for f in files if (f.name.split(".")[1], f.name.rsplit(".", 1)[-1]) == key] for key in keys]
    else:
        groups = write_archive(sds, args.stations, args.days, args.hours_per_day, args.gaps_per_day)
    for old in ("out-1", "out-2"):
        shutil.rmtree(work / old, ignore_errors=True)
    torch.manual_seed(0)
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(window_length=3001))
    with torch.no_grad():  # random weights pick everywhere; favour noise so picks are sparse, as with a trained model
        model.phase_head.bias[0] += args.noise_bias
        model.detection_head.bias -= args.noise_bias
    model.save_pretrained(picker)
    SeismicFeatureExtractor(window_length=3001).save_pretrained(picker)
    config = REPO / "recipes" / "accelerate_configs" / "multi_cpu.yaml"
    one = run_geohub(sds, picker, work / "out-1", args.threads, None)
    two = run_geohub(sds, picker, work / "out-2", args.threads, config)
    same = (work / "out-1" / "picks.csv").read_bytes() == (work / "out-2" / "picks.csv").read_bytes()
    seis = None if args.skip_seisbench else run_seisbench(groups, args.threads)
    merges = time_merges()
    report(args, one, two, same, seis, merges, sum(p.numel() for p in model.parameters()))


def report(args, one, two, same, seis, merges, parameters) -> None:
    hours = one["hours_of_data"]
    per_cpu = {n: hours / s["cpu_seconds"] for n, s in (("1", one), ("2", two))}
    per_wall = {n: hours / s["loop_seconds"] for n, s in (("1", one), ("2", two))}
    result = {
        "archive": f"{args.stations} stations x {args.days} days x {args.hours_per_day:g} h, "
        f"{args.gaps_per_day} gaps/channel-day",
        "hours_of_data": hours,
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
    }
    if seis is not None:
        result["seisbench"] = seis
        result["seisbench_hours_per_cpu_s"] = round(seis["hours"] / seis["cpu_seconds"], 3)
        result["speedup_vs_seisbench_cpu"] = round(per_cpu["1"] / result["seisbench_hours_per_cpu_s"], 3)
        result["speedup_vs_seisbench_wall"] = round(per_wall["1"] / (seis["hours"] / seis["loop_seconds"]), 3)
    print(json.dumps(result, sort_keys=True))
    rows = [("geohub annotate, 1 process", per_cpu["1"], per_wall["1"], one["peak_rss_mb"]),
            ("geohub annotate, 2 processes", per_cpu["2"], per_wall["2"], two["peak_rss_mb"])]  # fmt: skip
    if seis is not None:
        rows.append(("SeisBench PhaseNet.classify loop", seis["hours"] / seis["cpu_seconds"],
                     seis["hours"] / seis["loop_seconds"], seis["peak_rss_mb"]))  # fmt: skip
    print(f"\n{'run':<34} {'hours/CPU-s':>12} {'hours/wall-s':>13} {'peak RSS MB':>12}")
    for name, cpu, wall, rss in rows:
        print(f"{name:<34} {cpu:>12.3f} {wall:>13.3f} {rss:>12.0f}")
    print(f"\nscaling efficiency at 2 processes: {result['scaling_efficiency_wall']:.2f} (wall), "
          f"{result['scaling_efficiency_cpu']:.2f} (CPU); same picks: {same}")  # fmt: skip
    if seis is not None:
        print(f"geohub / SeisBench throughput: {result['speedup_vs_seisbench_cpu']:.2f}x (CPU), "
              f"{result['speedup_vs_seisbench_wall']:.2f}x (wall)")  # fmt: skip
    print(f"merge of a day with {merges['gaps']} gaps: geohub {merges['geohub_merge_s']:.3f} s, "
          f"ObsPy Stream.merge {merges['obspy_merge_s']:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
