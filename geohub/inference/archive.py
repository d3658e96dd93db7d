"""Archive-scale picking: seismic models over a continuous archive, in chunks, on N processes, resumable.

    geohub annotate SOURCE --model PICKER [--model MAGNITUDE] --output DIR [--config_file ACCELERATE.yaml]

    from geohub.inference.archive import ArchiveOptions, run_archive
    summary = run_archive(ArchiveOptions(source="/data/SDS", models=["picker/"], output="out/",
                                         start="2024-01-01", end="2024-02-01", stations=["GH.*"]))

SOURCE is an SDS archive, a folder of ObsPy-readable files or one file (`archive_sources`). The work is cut into
station x time chunks (`chunk_seconds`, default one day, on a grid since the epoch). Each chunk is read with
`padding_seconds` on both sides (default: one model window + 1 s, rounded up to the window step), merged onto
one sample grid with gaps filled linearly, annotated by every model, and only what lies in the chunk's own span
`[start, end)` and on recorded samples is kept: picks near chunk boundaries are neither lost nor doubled. The
padded span starts on a grid of the models' window step, so the windows slide over the same absolute times in
neighbouring chunks and the chunked result equals that of one long record.

Processes: run under `accelerate launch` (`geohub annotate --config_file`), the sorted list of unfinished chunks
is split with `accelerate.PartialState().split_between_processes`; each process writes one part file per chunk
(`DIR/chunks/<chunk>.json`) and its manifest of finished chunks (`DIR/manifest/rank-<r>.json`), both atomically;
after a barrier rank 0 merges the parts into the result files (`archive_outputs`). A run restarted with the same
command skips the chunks whose part is in a manifest; results do not depend on the number of processes. A
different command on the same DIR is refused (`DIR/run.json` holds the settings).

The models run through ONE adapter, `annotate_chunk`, on the waveform API of `geohub.inference.seismic`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, GeohubError, WaveformError
from ..utils import atomic_write_bytes, atomic_write_text, get_logger
from .archive_outputs import write_catalogue, write_summary
from .archive_sources import NS, Chunk, ChunkWindow, make_chunks, open_source, read_chunk

logger = get_logger(__name__)

__all__ = ["ArchiveOptions", "ArchiveModel", "ChunkRows", "annotate_chunk", "load_archive_models", "run_archive",
           "main"]  # fmt: skip

_RUN_KEYS = ("source", "models", "source_format", "start", "end", "stations", "chunk_seconds", "padding_seconds",
             "overlap", "p_threshold", "s_threshold", "detection_threshold", "save_probabilities",
             "precision")  # fmt: skip
PRECISIONS = ("auto", "fp32", "bf16")  # as geohub.runtime.PRECISIONS (not imported: keep this module's imports)


@dataclass
class ArchiveOptions:
    """Settings of one `geohub annotate` run (the CLI flags; `to_argv` gives the launched module's arguments)."""

    source: str
    models: list[str]
    output: str
    source_format: str = "auto"
    start: str | None = None
    end: str | None = None
    stations: list[str] | None = None
    chunk_seconds: float = 86400.0
    padding_seconds: float | None = None
    overlap: float | None = None
    batch_size: int = 32
    p_threshold: float | None = None
    s_threshold: float | None = None
    detection_threshold: float | None = None
    save_probabilities: bool = False
    retry_failed: bool = False
    plot: bool = True
    progress: bool = True
    threads: int | None = None
    precision: str = "auto"
    overwrite: bool = False  # write into a non-empty --output that holds no annotate run

    def to_argv(self) -> list[str]:
        argv = [self.source, "--output", self.output, "--format", self.source_format]
        for model in self.models:
            argv += ["--model", model]
        for name in ("start", "end", "chunk_seconds", "padding_seconds", "overlap", "batch_size", "p_threshold",
                     "s_threshold", "detection_threshold", "threads", "precision"):  # fmt: skip
            value = getattr(self, name)
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        if self.stations:
            argv += ["--stations", ",".join(self.stations)]
        flags = {"save_probabilities": self.save_probabilities, "retry_failed": self.retry_failed,
                 "no_plot": not self.plot, "no_progress": not self.progress, "overwrite": self.overwrite}  # fmt: skip
        return argv + [f"--{name.replace('_', '-')}" for name, on in flags.items() if on]

    def run_settings(self) -> dict:
        """What must match for a restart to resume a run (absolute paths)."""
        settings = {key: getattr(self, key) for key in _RUN_KEYS}
        settings["source"] = os.path.abspath(self.source)
        settings["models"] = [os.path.abspath(m) if os.path.exists(m) else m for m in self.models]
        return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geohub.inference.archive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("source")
    parser.add_argument("--model", action="append", required=True, dest="models")
    parser.add_argument("--output", required=True)
    parser.add_argument("--format", default="auto", dest="source_format", choices=["auto", "sds", "folder", "file"])
    parser.add_argument("--start")
    parser.add_argument("--end")
    parser.add_argument("--stations", type=lambda s: [p for p in s.split(",") if p])
    parser.add_argument("--precision", choices=PRECISIONS)
    for name, kind in (("chunk-seconds", float), ("padding-seconds", float), ("overlap", float), ("batch-size", int),
                       ("p-threshold", float), ("s-threshold", float), ("detection-threshold", float),
                       ("threads", int)):  # fmt: skip
        parser.add_argument(f"--{name}", type=kind)
    for flag in ("save-probabilities", "retry-failed", "no-plot", "no-progress", "overwrite"):
        parser.add_argument(f"--{flag}", action="store_true")
    return parser


def parse_argv(argv: list[str]) -> ArchiveOptions:
    args = vars(_parser().parse_args(argv))
    plot, progress = not args.pop("no_plot"), not args.pop("no_progress")
    options = ArchiveOptions(**{k: v for k, v in args.items() if v is not None}, plot=plot, progress=progress)
    return options


# --------------------------------------------------------------------------------------------- models and adapter


@dataclass
class ArchiveModel:
    """A picker (any geohub seismic family, as a `geohub.inference.waveform.WaveformModel`) loaded for the archive
    run, with the magnitude model applied to its detections (if any)."""

    name: str
    model: object
    magnitude: object = None
    magnitude_name: str = ""

    @property
    def window_seconds(self) -> float:
        return self.model.spec.window_length / self.model.spec.sampling_rate

    def stride(self, overlap: float | None) -> int:
        """Samples between window starts: the model's own, or set by `overlap` for per-sample models."""
        spec = self.model.spec
        if overlap is None or spec.kind != "samples":
            return int(spec.stride)
        return max(1, int(round(spec.window_length * (1.0 - overlap))))

    def step_seconds(self, overlap: float | None) -> float:
        return self.stride(overlap) / self.model.spec.sampling_rate


@dataclass
class ChunkRows:
    """What one model gives on one chunk: times in ns; `probabilities` an `obspy.Stream` (P, S, detection) or None."""

    picks: list[tuple] = field(default_factory=list)  # (trace_id, phase, time_ns, probability)
    detections: list[tuple] = field(default_factory=list)  # (trace_id, start_ns, end_ns, probability)
    magnitudes: list[tuple] = field(default_factory=list)  # (trace_id, time_ns, magnitude, uncertainty)
    probabilities: object = None


def _model_name(path: str, taken: set[str]) -> str:
    name = Path(path.rstrip("/")).name or "model"
    base, k = name, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def load_archive_models(paths: list[str], device=None) -> list[ArchiveModel]:
    """Load each `--model` (folder or Hub id) with the waveform API: pickers (U-Net, EQTransformer, GPD, ...)
    annotate; a magnitude model (at most one) estimates the magnitude of every picker's detections. Raises
    ConfigError naming the bad model."""
    import geohub  # noqa: F401  (registers the Auto classes)

    from .waveform import WaveformModel

    pickers, magnitude, taken = [], None, set()
    for path in paths:
        try:
            wrapper = WaveformModel.from_pretrained(path)
        except (OSError, ValueError) as err:  # GeohubError is a ValueError
            raise ConfigError(f"cannot load the model: {err}", field="--model") from None
        if device is not None:
            wrapper.model.to(device)
        if wrapper.spec.kind == "regression":
            if magnitude is not None:
                raise ConfigError("two magnitude models", path=path, field="--model", expected="at most one")
            magnitude = (wrapper, _model_name(path, taken))
        elif wrapper.spec.picking is not None:
            pickers.append(ArchiveModel(_model_name(path, taken), wrapper))
        else:
            raise ConfigError(f"the {wrapper.spec.code} model neither picks phases nor estimates magnitudes",
                              path=path, field="--model", expected="a seismic picker (and optionally a magnitude model)")  # fmt: skip
    if not pickers:
        raise ConfigError("no picker among the models", field="--model", expected="at least one seismic picker")
    for model in pickers:
        if magnitude is not None:
            model.magnitude, model.magnitude_name = magnitude
    return pickers


def annotate_chunk(stream, model: ArchiveModel, options: ArchiveOptions, *, with_probabilities: bool) -> ChunkRows:
    """THE adapter between the archive runner and the waveform API: annotate one gap-free chunk stream.

    `stream`: one station's traces, all starting at the same time with the same length. Everything model-specific
    is here (through `geohub.inference.seismic.annotate`, which runs `geohub.inference.waveform`: windows, the
    model's picking rule, magnitudes per detection), so another waveform API changes this function only.
    `options.precision` ("auto", "fp32", "bf16") is the waveform API's (`WaveformModel`): "auto" runs a model in
    bfloat16 where the CPU/GPU computes it natively and the model folder records that its bf16 picks agree with
    its fp32 picks (`geohub.runtime.resolve_precision`), else float32.
    """
    from .seismic import annotate
    from .waveform import annotation_stream

    result = annotate(stream, model.model, model.magnitude, overlap=options.overlap, batch_size=options.batch_size,
                      p_threshold=options.p_threshold, s_threshold=options.s_threshold,
                      detection_threshold=options.detection_threshold, precision=options.precision)  # fmt: skip
    rows = ChunkRows(
        picks=[(p.station, p.phase, p.time.ns, p.probability) for p in result.picks],
        detections=[(d.station, d.start.ns, d.end.ns, d.probability) for d in result.detections],
        magnitudes=[(m.station, m.time.ns, m.magnitude, m.uncertainty) for m in result.magnitudes],
    )
    if with_probabilities:  # every output but noise, channel "PR<label>" (miniSEED allows 3 letters)
        probabilities = annotation_stream(result.traces)
        for trace in probabilities:
            trace.stats.channel = "PR" + trace.stats.channel.rsplit("_", 1)[-1][:1]
        rows.probabilities = probabilities.select(channel="PR[!N]")
    return rows


# --------------------------------------------------------------------------------------------- one chunk


def padding_and_grid(models: list[ArchiveModel], options: ArchiveOptions) -> tuple[float, float]:
    """(padding, grid) in seconds: padding >= the longest model window + 1 s, and a grid that is a multiple of
    every model's window step."""
    steps_ns = [int(round(m.step_seconds(options.overlap) * NS)) for m in models]
    grid_ns = math.lcm(*steps_ns)
    need = max(m.window_seconds for m in models) + 1.0
    pad = max(need, options.padding_seconds or 0.0)
    return math.ceil(pad * NS / grid_ns) * grid_ns / NS, grid_ns / NS


def _keep(time_ns: int, chunk: Chunk, window: ChunkWindow, covered: np.ndarray, rate: float) -> bool:
    if not chunk.start_ns <= time_ns < chunk.end_ns:
        return False
    index = int((time_ns - window.start_ns) * rate // NS)
    return 0 <= index < len(covered) and bool(covered[index])


def _fmt_time(ns: int) -> str:
    from .archive_sources import utc_datetime

    return str(utc_datetime(ns))


def _fmt_float(value) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _overlapping_files(source, chunk: Chunk, window: ChunkWindow) -> str:
    spans = source.spans.get(chunk.station, [])
    return " ".join(sorted({s.path for s in spans if s.start_ns < window.end_ns and s.end_ns > window.start_ns}))


BLOCK_SECONDS = 10800.0  # a chunk is annotated in blocks of 3 h on the same window grid: memory ~ one block


def _block_stream(stream, window: ChunkWindow, sub: ChunkWindow, rate: float):
    """The samples of `stream` (starting at `window.start_ns`) inside `sub`, as a new Stream, and their slice."""
    from obspy import Stream, Trace

    from .archive_sources import utc_datetime

    i0 = int(round((sub.start_ns - window.start_ns) * rate / NS))
    i1 = int(round((sub.end_ns - window.start_ns) * rate / NS))
    traces = [Trace(tr.data[i0:i1], header={"network": tr.stats.network, "station": tr.stats.station,
                                           "location": tr.stats.location, "channel": tr.stats.channel,
                                           "sampling_rate": rate, "starttime": utc_datetime(sub.start_ns)})
              for tr in stream]  # fmt: skip
    return Stream(traces), slice(i0, i1)


def _annotate_blocks(stream, covered, chunk: Chunk, window: ChunkWindow, models, options, part) -> dict:
    """Annotate `chunk` block by block (each block padded like a chunk, cut to the read `window`); append the kept
    rows to `part`; returns the probability streams per model name (when saved)."""
    rate = stream[0].stats.sampling_rate
    block_ns = int(BLOCK_SECONDS * NS)
    probabilities = {}
    for begin in range(chunk.start_ns, chunk.end_ns, block_ns):
        own = Chunk(chunk.station, begin, min(begin + block_ns, chunk.end_ns))
        padded = ChunkWindow.around(own, window.pad_ns / NS, window.grid_ns / NS)
        sub = ChunkWindow(max(padded.start_ns, window.start_ns), min(padded.end_ns, window.end_ns), window.pad_ns,
                          window.grid_ns)  # fmt: skip
        if sub.end_ns <= max(own.start_ns, sub.start_ns) or sub.start_ns >= own.end_ns:
            continue
        block, index = _block_stream(stream, window, sub, rate)
        if not covered[index].any():
            continue
        for model in models:
            rows = annotate_chunk(block, model, options, with_probabilities=options.save_probabilities)
            keep = lambda t, own=own, sub=sub, mask=covered[index]: _keep(t, own, sub, mask, rate)  # noqa: E731
            part["picks"] += [[tid, phase, _fmt_time(t), f"{p:.5f}", model.name]
                              for tid, phase, t, p in rows.picks if keep(t)]  # fmt: skip
            part["detections"] += [[tid, _fmt_time(a), _fmt_time(b), f"{p:.5f}", model.name]
                                   for tid, a, b, p in rows.detections if keep(a)]  # fmt: skip
            part["magnitudes"] += [[tid, _fmt_time(t), _fmt_float(m), _fmt_float(u), model.name, model.magnitude_name]
                                   for tid, t, m, u in rows.magnitudes if keep(t)]  # fmt: skip
            if rows.probabilities is not None:
                trimmed = rows.probabilities.trim(own.start, own.end - 1e-6, nearest_sample=False)
                probabilities.setdefault(model.name, []).append(trimmed)
    return probabilities


def process_chunk(source, chunk: Chunk, models: list[ArchiveModel], options: ArchiveOptions, pad_s, grid_s):
    """Read, merge and annotate one chunk; returns its part dict (rows as formatted strings)."""
    window = ChunkWindow.around(chunk, pad_s, grid_s)
    part = {"chunk": chunk.chunk_id, "status": "ok", "hours": 0.0, "picks": [], "detections": [], "magnitudes": [],
            "errors": []}  # fmt: skip
    try:
        stream, covered, read_errors, window = read_chunk(source, chunk, window)
        part["errors"] += [list(e) for e in read_errors]
        rate = stream[0].stats.sampling_rate
        own = slice(max(0, int((chunk.start_ns - window.start_ns) * rate // NS)),
                    max(0, int((chunk.end_ns - window.start_ns) * rate // NS)))  # fmt: skip
        part["hours"] = round(float(covered[own].sum()) / rate / 3600.0, 6)
        probabilities = _annotate_blocks(stream, covered, chunk, window, models, options, part)
        for model in models:
            if model.name in probabilities:
                _save_probabilities(probabilities[model.name], chunk, model, options)
    except (WaveformError, ValueError) as err:  # bad data: reported, the run goes on
        part["errors"] += [list(e) for e in getattr(err, "read_errors", [])]
        empty = "no data in the chunk's span" in str(err)
        if not empty:
            part["errors"].append([_overlapping_files(source, chunk, window), f"{type(err).__name__}: {err}"])
        part["status"] = "ok" if empty and not part["errors"] else "failed"
    return part


def _save_probabilities(streams: list, chunk: Chunk, model: ArchiveModel, options: ArchiveOptions) -> None:
    import io

    from obspy import Stream

    stream = Stream([tr for block in streams for tr in block])
    stream.merge(method=0)
    buffer = io.BytesIO()
    stream.write(buffer, format="MSEED", encoding="FLOAT32")
    path = output_path(options.output, "probabilities", model.name, chunk.station, f"{chunk.chunk_id}.mseed")
    atomic_write_bytes(path, buffer.getvalue())


def output_path(output, *pieces: str) -> Path:
    """`output / pieces...`, each piece one plain file name (no separator, no "..", no NUL): station codes come from
    file headers, and no header content may write outside the output folder (`archive_sources.unsafe_code`
    refuses such codes at discovery; this is the last check before a write)."""
    for piece in pieces:
        if not piece or piece in (".", "..") or "/" in piece or "\\" in piece or "\0" in piece:
            raise WaveformError(f"unsafe output file name {piece[:60]!r}", field="--output",
                                expected="file names without path separators")  # fmt: skip
    return Path(output).joinpath(*pieces)


# --------------------------------------------------------------------------------------------- the run


def _manifest_dir(output: Path) -> Path:
    return output / "manifest"


def finished_chunks(output: Path, *, retry_failed: bool = False) -> set[str]:
    """Chunk ids listed in any rank's manifest whose part file exists (and is not failed with `retry_failed`)."""
    done = set()
    for path in sorted(_manifest_dir(output).glob("rank-*.json")):
        try:
            done |= set(json.loads(path.read_text())["finished"])
        except (OSError, ValueError, KeyError):
            continue  # an unreadable manifest only costs re-running its chunks
    done = {c for c in done if (output / "chunks" / f"{c}.json").is_file()}
    if retry_failed:
        done = {c for c in done if json.loads((output / "chunks" / f"{c}.json").read_text())["status"] == "ok"}
    return done


MIN_CHUNK_SECONDS = 60.0  # a stated floor: below it the per-chunk overhead (reads, padding, files) dominates


def parse_time(value: str | None, field: str):
    """`value` as an `obspy.UTCDateTime` (None stays None); a ConfigError naming `field` otherwise."""
    from obspy import UTCDateTime

    if value is None:
        return None
    try:
        return UTCDateTime(value)
    except Exception:  # noqa: BLE001 - UTCDateTime raises TypeError, ValueError, ... for text it cannot parse
        raise ConfigError(f"{value!r} is not a date", field=field,
                          expected="an ISO 8601 time, e.g. 2024-01-01 or 2024-01-01T06:00:00") from None  # fmt: skip


def check_chunk_and_times(options: ArchiveOptions, models: list[ArchiveModel] | None = None) -> None:
    """--start/--end parse as times; --chunk-seconds is at least MIN_CHUNK_SECONDS and (with `models`) the
    longest model window; --batch-size fits the memory budget (`geohub.data.limits.check_memory`)."""
    from ..data.limits import check_memory, window_bytes

    parse_time(options.start, "--start"), parse_time(options.end, "--end")
    chunk = options.chunk_seconds
    floor = max([MIN_CHUNK_SECONDS] + [m.window_seconds for m in models or []])
    if not isinstance(chunk, (int, float)) or not math.isfinite(chunk) or chunk < floor:
        raise ConfigError(f"chunk length {chunk} s", field="--chunk-seconds",
                          expected=f"at least {floor:g} s (the floor, or the longest model window)")  # fmt: skip
    for model in models or []:
        check_memory(options.batch_size, "--batch-size", window_bytes(model.model.spec.window_length),
                     what="windows")  # fmt: skip


def check_run_settings(options: ArchiveOptions, *, write: bool) -> None:
    """Refuse to mix two different commands in one output folder (or an unknown `--precision`); record the
    settings on first use."""
    if options.precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {options.precision!r}", field="--precision",
                          expected=" or ".join(PRECISIONS))  # fmt: skip
    check_chunk_and_times(options)
    from ..outputs import check_output_path

    output = check_output_path(options.output, "--output")
    path = output / "run.json"
    settings = options.run_settings()
    foreign = output.is_dir() and any(not p.name.startswith(".") for p in output.iterdir())
    if not path.is_file() and foreign and not options.overwrite:  # hidden: another rank's run.json being written
        raise ConfigError("the output folder is not empty and holds no annotate run (run.json)", path=output,
                          field="--output", expected="a new or empty folder, the same run's folder to resume, "
                          "or --overwrite to write into it")  # fmt: skip
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise ConfigError(f"the output folder holds a run with other settings ({', '.join(changed)})",
                              path=path, field="--output", expected="the same command to resume, or a new --output")  # fmt: skip
    elif write:
        atomic_write_text(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _peak_rss_mb() -> float:
    """This process's peak resident memory (MB): Linux's `VmHWM` (ru_maxrss keeps the parent's peak across
    fork + exec, so a process started by a big one would report its parent's), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_mine(mine, source, models, options, pad_s, grid_s, state, previously: list[str]):
    """Annotate this process's chunks; after each, its part file, and (at most once a second, and at the end) the
    rank's manifest: finished chunk ids plus this run's loop wall time, CPU time and peak RSS."""
    from tqdm.auto import tqdm

    output = Path(options.output)
    manifest = output / "manifest" / f"rank-{state.process_index}.json"
    finished = list(previously)
    bar = tqdm(mine, unit="chunk", desc="annotate", disable=not (options.progress and state.is_main_process),
               file=sys.stderr, dynamic_ncols=True)  # fmt: skip
    wall, cpu, last_write = time.perf_counter(), time.process_time(), 0.0

    def write_manifest():
        stats = {"loop_seconds": round(time.perf_counter() - wall, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
                 "peak_rss_mb": round(_peak_rss_mb(), 1)}  # fmt: skip
        atomic_write_text(manifest, json.dumps({"finished": finished, **stats}) + "\n")

    for chunk in bar:
        part = process_chunk(source, chunk, models, options, pad_s, grid_s)
        atomic_write_text(output_path(output, "chunks", f"{chunk.chunk_id}.json"), json.dumps(part) + "\n")
        finished.append(chunk.chunk_id)
        if time.monotonic() - last_write > 1.0:
            write_manifest()
            last_write = time.monotonic()
    write_manifest()


def _set_threads(options: ArchiveOptions, processes: int) -> None:
    import torch

    from ..runtime import chosen_by_geohub, usable_cpus

    if options.threads:
        torch.set_num_threads(options.threads)
    elif "OMP_NUM_THREADS" not in os.environ or chosen_by_geohub("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, usable_cpus() // processes))


def run_archive(options: ArchiveOptions, *, echo=print) -> dict | None:
    """Annotate the archive on this process's share of the chunks; rank 0 merges and returns the summary."""
    import torch
    from accelerate import PartialState

    began = time.perf_counter()
    state = PartialState(cpu=not torch.cuda.is_available())
    _set_threads(options, state.num_processes)
    output = Path(options.output)
    check_run_settings(options, write=state.is_main_process)
    models = load_archive_models(options.models, device=state.device)
    check_chunk_and_times(options, models)
    start, end = parse_time(options.start, "--start"), parse_time(options.end, "--end")
    source = open_source(options.source, kind=options.source_format, start=start, end=end, stations=options.stations)
    chunks = make_chunks(source, options.chunk_seconds)
    pad_s, grid_s = padding_and_grid(models, options)
    done = finished_chunks(output, retry_failed=options.retry_failed)
    todo = [c for c in chunks if c.chunk_id not in done]
    own_manifest = output / "manifest" / f"rank-{state.process_index}.json"
    previously = json.loads(own_manifest.read_text())["finished"] if own_manifest.is_file() else []
    state.wait_for_everyone()  # every rank has read the manifests before any rewrites its own
    if state.is_main_process:
        echo(f"geohub annotate: {len(chunks)} chunk(s) of {options.chunk_seconds:g} s from {source.kind} "
             f"{options.source}, {len(done)} already done, {len(todo)} to run on {state.num_processes} process(es)")  # fmt: skip
    with state.split_between_processes(todo) as mine:
        _run_mine(list(mine), source, models, options, pad_s, grid_s, state, previously)
    state.wait_for_everyone()
    if not state.is_main_process:
        return None
    return _merge(output, chunks, source, options, state, began, {c.chunk_id for c in todo}, echo)


def _merge(output, chunks, source, options, state, began, ran: set[str], echo) -> dict:
    parts = []
    for chunk in chunks:
        path = output / "chunks" / f"{chunk.chunk_id}.json"
        if path.is_file():
            parts.append(json.loads(path.read_text()))
    counts = write_catalogue(output, parts, source.errors, plot=options.plot)
    ranks = [json.loads((_manifest_dir(output) / f"rank-{r}.json").read_text()) for r in range(state.num_processes)]
    seconds = time.perf_counter() - began
    ran_hours = sum(p["hours"] for p in parts if p["chunk"] in ran)
    summary = {"chunks": len(chunks), "chunks_run": len(ran), "chunks_resumed": len(chunks) - len(ran), **counts,
               "processes": state.num_processes, "seconds": round(seconds, 2),
               "peak_rss_mb": max(r.get("peak_rss_mb", 0.0) for r in ranks),
               "loop_seconds": max(r.get("loop_seconds", 0.0) for r in ranks),
               "cpu_seconds": round(sum(r.get("cpu_seconds", 0.0) for r in ranks), 3)}  # fmt: skip
    summary["hours_run"] = round(ran_hours, 4)
    summary["hours_per_second"] = round(ran_hours / seconds, 3)
    manifest = {"chunks": [p["chunk"] for p in parts], "failed": [p["chunk"] for p in parts if p["status"] != "ok"]}
    atomic_write_text(output / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    echo(write_summary(output, summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Entry point of every process started by `accelerate launch -m geohub.inference.archive`."""
    options = parse_argv(sys.argv[1:] if argv is None else argv)
    try:
        run_archive(options)
    except GeohubError as err:
        print(f"geohub: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
