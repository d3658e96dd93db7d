"""`output_dir` of a training run: never another run's folder (or the user's own files) trained over by accident.

A run writes a marker, `.geohub_run.json` (`{"task": ...}`), into its `output_dir` before any other file. A later
run of the same task finds it there and goes on (that is how `resume_from_checkpoint: last` resumes a killed run,
and how a finished run is trained again). Any other non-empty folder is refused with one line naming the folder
and the flag, before processes start and before any model or data is loaded:

    geohub train RECIPE --output_dir DIR --overwrite      # or --overwrite_output_dir (the old transformers name)

With the flag the run trains into the folder: its files of the same names are replaced, its old `checkpoint-*`
folders are removed first (so that `resume_from_checkpoint: last` never resumes another run, and checkpoint rotation
never deletes them half-way), other files are left. A folder written by a geohub run from before the marker existed
(it holds `checkpoint-N` folders and no marker) is taken as this run's, so that such runs still resume.

A run that fails before writing anything else takes its marker back (and the folder, when the run created it), so
a refused or failed run leaves no stray folder.

transformers 5 dropped `TrainingArguments.overwrite_output_dir`; this check is geohub's, in `geohub train` and in
`geohub.training.launch` (the entry point `accelerate launch` runs), for every task, the GAN loop included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import ConfigError

__all__ = ["RUN_MARKER", "OVERWRITE_FLAGS", "run_output_dir", "check_output_dir", "prepare_output_dir",
           "missing_root", "release_output_dir"]  # fmt: skip

RUN_MARKER = ".geohub_run.json"
OVERWRITE_FLAGS = ("--overwrite", "--overwrite_output_dir", "--overwrite-output-dir")
_CHECKPOINT = re.compile(r"checkpoint-\d+")
_STAGING = ".checkpoint-staging"


def run_output_dir(arguments: tuple[Any, ...] | list[Any]) -> Path | None:
    """The `output_dir` of a task's parsed argument dataclasses (the first that has one), or None."""
    for instance in arguments:
        value = getattr(instance, "output_dir", None)
        if isinstance(value, (str, os.PathLike)) and os.fspath(value).strip():
            return Path(value)
    return None


def _marker_task(folder: Path) -> str | None:
    """The task named by the folder's marker; "" for a marker that cannot be read; None without one."""
    path = folder / RUN_MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    return str(data.get("task", "")) if isinstance(data, dict) else ""


def check_output_dir(output_dir: str | os.PathLike, task: str, *, overwrite: bool) -> str:
    """Check `output_dir` for a run of `task`; returns "new" (missing or empty), "own" (this task's run) or
    "foreign" (non-empty, another run's or the user's, allowed by `overwrite`). Raises `ConfigError` otherwise."""
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError("output_dir exists and is not a folder", path=folder, field="output_dir",
                          expected="a folder name")  # fmt: skip
    if not folder.exists() or not any(folder.iterdir()):
        return "new"
    owner = _marker_task(folder)
    if owner == task:
        return "own"
    legacy = owner is None and any(_CHECKPOINT.fullmatch(p.name) and p.is_dir() for p in folder.iterdir())
    if legacy:
        return "own"
    if overwrite:
        return "foreign"
    whose = f"a run of task '{owner}'" if owner else "files that no run of this task wrote"
    raise ConfigError(
        f"output_dir is not empty (it holds {whose}); pass --overwrite (or --overwrite_output_dir) to train into it",
        path=folder,
        field="output_dir",
        expected="a new or empty folder, this task's own run folder, or --overwrite",
    )


def prepare_output_dir(output_dir: str | os.PathLike, task: str, *, overwrite: bool) -> str:
    """`check_output_dir`, then make the folder this run's: a foreign folder's `checkpoint-*` folders are removed
    (only when `overwrite`), and the marker is written. Returns what `check_output_dir` returned."""
    folder = Path(output_dir)
    state = check_output_dir(folder, task, overwrite=overwrite)
    if state == "foreign":
        for path in folder.iterdir():
            if path.is_dir() and (_CHECKPOINT.fullmatch(path.name) or path.name == _STAGING):
                shutil.rmtree(path)
    if _marker_task(folder) != task:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / RUN_MARKER, json.dumps({"task": task}) + "\n")
    return state


def missing_root(output_dir: str | os.PathLike) -> Path | None:
    """The top-most folder of `output_dir`'s path that does not exist yet (what a run creates), or None."""
    path, root = Path(output_dir).absolute(), None
    while not path.exists():
        root, path = path, path.parent
    return root


def release_output_dir(output_dir: str | os.PathLike, *, created: Path | None) -> None:
    """After a failed run: a folder holding only the marker loses it, and the folders the run created (`created`,
    from `missing_root` before the run) are removed while empty."""
    folder = Path(output_dir).absolute()
    try:
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else None
        if names not in ([], [RUN_MARKER]):  # (empty: the launched process released it first)
            return
        (folder / RUN_MARKER).unlink(missing_ok=True)
        while created is not None and (folder == created or created in folder.parents):
            folder.rmdir()  # OSError when not empty: stop
            folder = folder.parent
    except OSError:
        pass  # best effort: a marker left behind only marks the folder as this task's
