"""Result files of `geohub annotate`: per-chunk part files, the merged catalogue, the summary and the plot.

Every file is written atomically (`geohub.utils.atomic_write_text` / `atomic_write_bytes`), so a killed run leaves
each file either complete or absent. Rows hold strings formatted once, in the chunk's process (times ISO 8601
UTC with microseconds, probabilities with 5 decimals), so the merged files are byte-identical whatever the number
of processes or restarts.

    DIR/chunks/<chunk>.json          one chunk's picks, detections, magnitudes, errors, hours of data
    DIR/picks.csv                    trace_id,phase,time,probability,model         (sorted by time, trace, phase, model)
    DIR/picks.xml                    QuakeML: one unassociated Event per model holding its picks
    DIR/detections.csv               trace_id,start,end,probability,model
    DIR/magnitudes.csv               trace_id,time,magnitude,uncertainty,model,magnitude_model (when a magnitude model ran)
    DIR/errors.csv                   path,chunk,reason (unreadable files, chunks that failed)
    DIR/summary.json, summary.txt    chunks, hours of data, picks per phase, time taken, throughput, peak memory
    DIR/picks_per_hour.png           picks per hour per station (heat map)
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from ..utils import atomic_write_bytes, atomic_write_text

__all__ = ["PICK_COLUMNS", "DETECTION_COLUMNS", "MAGNITUDE_COLUMNS", "ERROR_COLUMNS", "write_catalogue",
           "format_summary", "picks_quakeml", "plot_picks_per_hour", "read_picks_csv"]  # fmt: skip

PICK_COLUMNS = ("trace_id", "phase", "time", "probability", "model")
DETECTION_COLUMNS = ("trace_id", "start", "end", "probability", "model")
MAGNITUDE_COLUMNS = ("trace_id", "time", "magnitude", "uncertainty", "model", "magnitude_model")
ERROR_COLUMNS = ("path", "chunk", "reason")


def _csv_text(columns, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def read_picks_csv(path) -> list[dict]:
    """The rows of a `picks.csv` as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _pick_sort_key(row):
    return (row[2], row[0], row[1], row[4])


def picks_quakeml(picks: list[list[str]]) -> bytes:
    """A QuakeML document (bytes) of `picks` rows: one Event per model, every pick automatic, its probability in
    a comment; resource ids derived from the pick so the document is reproducible."""
    from obspy import UTCDateTime
    from obspy.core.event import Catalog, Comment, Event, Pick, ResourceIdentifier, WaveformStreamID

    events: dict[str, Event] = {}
    for trace_id, phase, time, probability, model in picks:
        stamp = time.replace("-", "").replace(":", "")  # QuakeML URIs allow no ":" after the authority
        event = events.get(model)
        if event is None:
            event = events[model] = Event(resource_id=ResourceIdentifier(f"smi:local/geohub/annotate/{model}"),
                                          event_type="not reported")  # fmt: skip
            event.comments.append(Comment(text=f"unassociated picks of geohub model {model}",
                                          resource_id=ResourceIdentifier(f"smi:local/geohub/annotate/{model}/comment")))  # fmt: skip
        net, sta, loc = (trace_id.split(".") + ["", "", ""])[:3]
        pick_id = f"smi:local/geohub/pick/{model}/{trace_id}/{phase}/{stamp}"
        event.picks.append(Pick(
            resource_id=ResourceIdentifier(pick_id),
            time=UTCDateTime(time), phase_hint=phase, evaluation_mode="automatic",
            waveform_id=WaveformStreamID(network_code=net, station_code=sta, location_code=loc),
            method_id=ResourceIdentifier(f"smi:local/geohub/model/{model}"),
            comments=[Comment(text=f"probability={probability}", resource_id=ResourceIdentifier(pick_id + "/probability"))],
        ))  # fmt: skip
    catalog = Catalog(
        events=[events[m] for m in sorted(events)], resource_id=ResourceIdentifier("smi:local/geohub/annotate")
    )
    catalog.description = "geohub annotate picks"
    buffer = io.BytesIO()
    catalog.write(buffer, format="QUAKEML")
    return buffer.getvalue()


def plot_picks_per_hour(picks: list[list[str]], path: Path) -> None:
    """Heat map (PNG) of picks per hour (columns) per station (rows); matplotlib without pyplot."""
    import numpy as np
    from matplotlib.figure import Figure
    from obspy import UTCDateTime

    stations = sorted({row[0] for row in picks})
    figure = Figure(figsize=(10, 1.5 + 0.35 * max(1, len(stations))))
    axis = figure.subplots()
    if picks:
        hours = [int(UTCDateTime(row[2]).timestamp // 3600) for row in picks]
        first, last = min(hours), max(hours)
        counts = np.zeros((len(stations), last - first + 1))
        index = {s: i for i, s in enumerate(stations)}
        for row, hour in zip(picks, hours):
            counts[index[row[0]], hour - first] += 1
        image = axis.imshow(counts, aspect="auto", interpolation="nearest", cmap="viridis",
                            extent=(0, counts.shape[1], len(stations) - 0.5, -0.5))  # fmt: skip
        figure.colorbar(image, ax=axis, label="picks per hour")
        axis.set_yticks(range(len(stations)), stations)
        axis.set_xlabel(f"hours after {UTCDateTime(first * 3600)}")
    else:
        axis.text(0.5, 0.5, "no picks", ha="center", va="center", transform=axis.transAxes)
    axis.set_title(f"picks per hour per station ({len(picks)} picks)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())


def write_catalogue(output: Path, parts: list[dict], source_errors: list[tuple[str, str]], *, plot: bool = True):
    """Merge the chunk parts into the result files of `output`; returns the counts the summary reports."""
    picks, detections, magnitudes, errors = [], [], [], set()
    hours, failed = 0.0, 0
    for part in parts:
        picks += part["picks"]
        detections += part["detections"]
        magnitudes += part["magnitudes"]
        errors |= {(path, part["chunk"], reason) for path, reason in part["errors"]}
        hours += part["hours"]
        failed += part["status"] != "ok"
    errors |= {(path, "", reason) for path, reason in source_errors}
    picks.sort(key=_pick_sort_key)
    detections.sort(key=lambda r: (r[1], r[0], r[4]))
    magnitudes.sort(key=lambda r: (r[1], r[0], r[4], r[5]))
    atomic_write_text(output / "picks.csv", _csv_text(PICK_COLUMNS, picks))
    atomic_write_bytes(output / "picks.xml", picks_quakeml(picks))
    atomic_write_text(output / "detections.csv", _csv_text(DETECTION_COLUMNS, detections))
    if magnitudes:
        atomic_write_text(output / "magnitudes.csv", _csv_text(MAGNITUDE_COLUMNS, magnitudes))
    atomic_write_text(output / "errors.csv", _csv_text(ERROR_COLUMNS, sorted(errors)))
    if plot:
        plot_picks_per_hour(picks, output / "picks_per_hour.png")
    per_phase = Counter((row[4], row[1]) for row in picks)
    return {
        "hours_of_data": round(hours, 4),
        "chunks_failed": failed,
        "picks": len(picks),
        "picks_per_phase": {f"{model}/{phase}": n for (model, phase), n in sorted(per_phase.items())},
        "detections": len(detections),
        "magnitudes": len(magnitudes),
        "errors": len(errors),
    }


def format_summary(summary: dict) -> str:
    """The summary as a two-column text table."""
    rows = [
        ("chunks", f"{summary['chunks']} ({summary['chunks_run']} run now, {summary['chunks_resumed']} already done, "
                   f"{summary['chunks_failed']} failed)"),
        ("hours of data", f"{summary['hours_of_data']:.2f}"),
        *((f"picks {key}", str(n)) for key, n in summary["picks_per_phase"].items()),
        ("detections", str(summary["detections"])),
        ("magnitudes", str(summary["magnitudes"])),
        ("errors (errors.csv)", str(summary["errors"])),
        ("processes", str(summary["processes"])),
        ("time taken", f"{summary['seconds']:.1f} s"),
        ("hours of data per second", f"{summary['hours_per_second']:.2f}" if summary["chunks_run"] else "-"),
        ("CPU time in chunks", f"{summary['cpu_seconds']:.1f} s (all processes)"),
        ("peak RSS per process", f"{summary['peak_rss_mb']:.0f} MB"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def write_summary(output: Path, summary: dict) -> str:
    text = format_summary(summary)
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    atomic_write_text(output / "summary.txt", text + "\n")
    return text
