"""Writing files and folders so that a crash never leaves one half-written: a temporary sibling, then `os.replace`.

Standard library only, so that the test Hub server (`geohub/testing/hub_store.py`), which runs without geohub's
dependencies, writes through the same code. `geohub.utils` re-exports these.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "current_umask",
    "honour_umask",
    "fsync_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_directory",
]


def current_umask() -> int:
    """The process's umask (Linux: read from /proc, which changes nothing; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Give `path` the mode a plain `open`/`mkdir` would have (0644 / 0755 with umask 022): `tempfile.mkstemp`
    makes files 0600 and `mkdtemp` folders 0700, which a rename would otherwise publish as private."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary file name beside `path` for a writer that wants a file name (NumPy, rasterio, matplotlib);
    when the block succeeds the file is flushed and renamed onto `path`, otherwise removed. `suffix` defaults to
    `path`'s own (some writers choose the format by it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)  # fmt: skip
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        honour_umask(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    with atomic_path(path, suffix=".tmp") as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, last: tuple[str, ...] = ("config.json",)) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; on success, publish it at `target`.

    - Files and the folder get the modes the umask gives (0644 / 0755 with umask 022), not the 0600 / 0700 of
      temporary files (`honour_umask`).
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
        honour_umask(tmp, folder=True)
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                file = os.path.join(root, name)
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
                if os.stat(file).st_mode & 0o777 == 0o600:  # a writer's temporary file (transformers' weights)
                    honour_umask(file)
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


# --- weights integrity ---------------------------------------------------------------------------------------------
# Standard library only: this module is bundled with exported remote code (as geohub_utils.py).
