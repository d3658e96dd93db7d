"""Re-create each shipped default model from its recipe and compare its metrics with the shipped model card's.

    python benchmarks/defaults.py                                   # every shipped default (tagger: ~3 min quiet)
    python benchmarks/defaults.py --tasks landform,seismic_picking  # a subset (quickstart names)
    python benchmarks/defaults.py --tasks landform --write          # maintainers: also replace the shipped folder

Each default is trained by its family's quickstart recipe (`Family.quickstart`, the path of
`geohub quickstart --retrain`) into a temporary folder; the headline metrics of the new run are printed beside
those of the shipped folder (`geohub/models/<family>/default/all_results.json`, the figures of its README.md
card), as one JSON line and a table. Training is seeded, so on the same machine and versions the difference is
0 or within run-to-run noise of the CPU kernels; a large difference means the recipe, the data or a library
changed. With `--write` the new model replaces the shipped one (`geohub.defaults.pack_default`: small models
whole, text models as their adapter or trained heads only, with a fresh card naming the current git commit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ":/geohub"], capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parent).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+local-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _headline(metrics: dict) -> dict[str, float]:
    from geohub.quickstart import headline_metrics

    return dict(headline_metrics(metrics))


def compare(slot: str, scratch: Path, write: bool) -> dict:
    """Train `slot` by its quickstart recipe into `scratch` and compare with the shipped card's metrics."""
    from geohub.defaults import default_metrics, default_slots, pack_default
    from geohub.quickstart import quickstart_recipes, run_quickstart

    shipped = _headline(default_metrics(slot))
    start = time.perf_counter()
    result = run_quickstart(scratch, tasks=[slot], retrain=True, echo=lambda *_: None)[0]
    seconds = time.perf_counter() - start
    new = _headline(result.metrics)
    row = {"task": slot, "family": default_slots()[slot].name, "seconds": round(seconds, 1), "metrics": {}}
    for key in sorted(set(shipped) | set(new)):
        a, b = shipped.get(key), new.get(key)
        row["metrics"][key] = {"shipped": a, "recreated": b,
                               "difference": None if a is None or b is None else b - a}  # fmt: skip
    if write:
        recipe = quickstart_recipes()[slot]
        row["written"] = str(pack_default(result.output_dir, slot, recipe=recipe, commit=_commit(), seconds=seconds))
    return row


def print_table(rows: list[dict]) -> None:
    print(f"{'task':<25}{'metric':<32}{'shipped':>11}{'recreated':>11}{'difference':>12}{'train s':>9}")
    print("-" * 100)
    for row in rows:
        for i, (key, values) in enumerate(row["metrics"].items()):
            cells = [
                f"{values[k]:>11.4g}" if values[k] is not None else f"{'-':>11}" for k in ("shipped", "recreated")
            ]
            difference = f"{values['difference']:>+12.4g}" if values["difference"] is not None else f"{'-':>12}"
            task, seconds = (row["task"], f"{row['seconds']:>9.0f}") if i == 0 else ("", "")
            print(f"{task:<25}{key:<32}{cells[0]}{cells[1]}{difference}{seconds}")


def main(argv: list[str] | None = None) -> int:
    from geohub.defaults import default_slots

    # defaults trained by a recipe on data geohub does not ship (the forecasters: `recipes/earthquake_forecasting/`,
    # scored by benchmarks/forecasting.py) have no quickstart recipe to re-create them with
    shipped = [slot for slot, family in default_slots().items() if family.shipped_default and family.quickstart]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(shipped), help=f"comma-separated subset of {shipped}")
    parser.add_argument("--write", action="store_true", help="replace the shipped folders with the new models")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(tasks) - set(shipped))
    if unknown:
        parser.error(f"unknown or not shipped: {unknown}; known: {shipped}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="geohub-defaults-") as scratch:
        for slot in tasks:
            print(f"re-creating {slot} from its recipe ...", file=sys.stderr, flush=True)
            rows.append(compare(slot, Path(scratch), args.write))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({"benchmark": "defaults", "machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "load_average": load, "commit": _commit(), "rows": rows}))  # fmt: skip
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
