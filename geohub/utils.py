"""Small shared helpers: logging, seeding, atomic writes, threads."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from transformers import set_seed
from transformers.utils import logging

__all__ = ["get_logger", "set_seed", "atomic_directory", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]


def get_logger(name: str):
    """geohub logs through transformers' logging so that `TRANSFORMERS_VERBOSITY` and
    `transformers.logging.set_verbosity_*` govern geohub as well."""
    return logging.get_logger(name)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory entry to disk so that a rename into it survives a crash (POSIX only)."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, last: tuple[str, ...] = ("config.json",)) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; on success, publish it at `target`.

    - If `target` does not exist, the temporary folder is renamed onto it in one `os.replace`, so a crash leaves
      either nothing or the complete folder.
    - If `target` exists (it may hold a tokenizer saved earlier, or be a checkpoint folder that other processes
      are writing their own files into), each new file is moved in with
      `os.replace`, files named in `last` at the very end, so the folder never holds a new `config.json`
      beside missing or half-written weights.
    On any exception the temporary folder is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    os.fsync(handle.fileno())
        if not target.exists():
            os.replace(tmp, target)
        else:
            entries = sorted(tmp.rglob("*"), key=lambda p: (p.name in last, len(p.parts)))
            for src in entries:
                if src.is_dir():
                    continue
                dst = target / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            shutil.rmtree(tmp, ignore_errors=True)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
