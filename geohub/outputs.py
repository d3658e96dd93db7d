"""Output targets of geohub's writers (`geohub convert`, `export`, `denoise`, `explain --output`): never an empty
path, never a non-empty folder or an existing file replaced unless the user said `--overwrite`.

    with output_folder(output_dir, overwrite=overwrite, option="OUTPUT_DIR") as folder:
        convert_weights(name, folder)          # writes a fresh folder; swapped onto OUTPUT_DIR at the end

    path = output_file(output, overwrite=overwrite, option="--output")   # checked before any work

Checks run before any expensive work. A replaced folder is written beside the target and swapped in only when
complete (the old folder is renamed away, the new one renamed onto its place, then the old one removed), so an
overwrite leaves no stale file of the old folder and a failure leaves the old folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError

__all__ = ["check_output_path", "output_file", "output_folder"]


def check_output_path(path: str | os.PathLike | None, option: str) -> Path:
    """`path` as a Path; ConfigError for an empty or blank one (`""` would otherwise mean the current folder)."""
    text = "" if path is None else os.fspath(path)
    if not text.strip() or "\0" in text:
        raise ConfigError(f"output path {text!r} is empty or invalid", field=option,
                          expected="a file or folder name")  # fmt: skip
    return Path(text)


def _refuse(path: Path, what: str, option: str) -> ConfigError:
    return ConfigError(f"{what}; pass --overwrite to replace it", path=path, field=option,
                       expected="a new or empty target, or --overwrite")  # fmt: skip


def output_file(path: str | os.PathLike | None, *, overwrite: bool, option: str = "--output") -> Path:
    """Check a file target: not empty, not a folder, not an existing file unless `overwrite`."""
    path = check_output_path(path, option)
    if path.is_dir():
        raise ConfigError("the output is a folder", path=path, field=option, expected="a file name")
    if path.exists() and not overwrite:
        raise _refuse(path, "the output file exists", option)
    return path


def _non_empty_folder(path: Path, option: str) -> bool:
    if not path.exists():
        return False
    if not path.is_dir():
        raise ConfigError("the output exists and is not a folder", path=path, field=option, expected="a folder name")
    return any(path.iterdir())


@contextlib.contextmanager
def output_folder(path: str | os.PathLike | None, *, overwrite: bool, option: str = "--output") -> Iterator[Path]:
    """Check a folder target and yield where to write it.

    A new or empty folder: yielded as is (the writer publishes it atomically). A non-empty folder: refused unless
    `overwrite`; then a fresh sibling path is yielded and, when the block succeeds, swapped onto the target (the old
    folder removed). On failure the target is left as it was."""
    path = check_output_path(path, option)
    if not _non_empty_folder(path, option):
        yield path
        return
    if not overwrite:
        raise _refuse(path, "the output folder is not empty", option)
    staging_root = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent))
    staging = staging_root / path.name
    try:
        yield staging
        if not staging.is_dir():
            raise ConfigError("the writer did not produce a folder", path=staging, field=option)
        old = staging_root / f"{path.name}.old"
        os.replace(path, old)
        try:
            os.replace(staging, path)
        except OSError:
            os.replace(old, path)  # put the old folder back
            raise
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
