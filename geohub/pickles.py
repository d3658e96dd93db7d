"""Recognising pickles, by name and by content: what `geohub.hub` pull drops and push refuses to publish.

- By name: pickle formats by extension in any case, under any compression (`x.PT`, `m.pkl.gz`, `a.ckpt.tar.gz`).
- By content, whatever the file is called: pickle opcodes that import and call code, from offset 0 (what
  `pickle.loads` of the file does, a harmless prefix such as `I0\n0` parsed through) or from any offset where a
  pickle can start; the whole file is scanned in overlapping 1 MiB chunks (gzip/bz2/xz content up to 1 GiB), each
  candidate parsed from a second handle for at most 16 MiB; a `torch.save` zip holding `*.pkl`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["is_pickle_file", "pickle_by_name"]

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".jbl", ".sav", ".dill", ".mar",
                    ".nemo", ".pkl3")  # fmt: skip
_COMPRESSION_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".zst", ".zstd", ".lz4", ".z", ".zip", ".tar", ".tgz")


def pickle_by_name(name: str) -> bool:
    """Pickle formats by extension, in any case, under any compression (`x.PT`, `m.pkl.gz`, `a.ckpt.tar.gz`)."""
    name = name.rsplit("/", 1)[-1].lower()
    while True:
        if name.endswith(_PICKLE_SUFFIXES):
            return True
        stripped = next((name[: -len(s)] for s in _COMPRESSION_SUFFIXES if name.endswith(s)), None)
        if stripped is None or stripped == name:
            return False
        name = stripped


_IMPORTS = {"GLOBAL", "STACK_GLOBAL", "INST"}  # the opcodes through which unpickling imports (then calls) code
_CALLS = {"REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD", "INST"}
# where a pickle can plausibly start: a PROTO opcode, or a protocol 0/1 GLOBAL/INST `c<module>\n<name>\n`
# (names bounded so that every match is shorter than the overlap between scanned chunks)
_PICKLE_STARTS = re.compile(rb"\x80[\x02-\x05]|[ci][A-Za-z_][\w.]{0,1000}\n[A-Za-z_][\w.]{0,1000}\n")
_IMPORT_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)* [A-Za-z_]\w*(\.[A-Za-z_]\w*)*")  # "module name" of GLOBAL
_SCAN_CHUNK = 1 << 20  # the whole file is scanned in chunks of 1 MiB ...
_SCAN_OVERLAP = 4096  # ... each with the next 4 kB, so a start that crosses a chunk boundary is matched whole
_FOLLOW_BYTES = 16 << 20  # a candidate pickle is parsed (from the file, not memory) for at most 16 MiB
_DECOMPRESSED_SCAN = 1 << 30  # compressed files: the first GiB of their content is scanned


class _FollowLimit(Exception):
    """A candidate pickle still parsing after `_FOLLOW_BYTES`."""


class _Bounded:
    """A read-only view of `handle` from its current position that raises `_FollowLimit` past `limit` bytes, so
    that parsing one candidate never holds more than `limit` bytes (a long argument or line included)."""

    def __init__(self, handle, limit: int = _FOLLOW_BYTES):
        self.handle, self.left = handle, limit

    def _take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise _FollowLimit
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self.left:
            raise _FollowLimit
        return self._take(self.handle.read(n))

    def readline(self) -> bytes:
        return self._take(self.handle.readline(self.left + 1))

    def tell(self) -> int:
        return self.handle.tell()


def _runs_code(stream, offset: int, *, need_stop: bool) -> bool:
    """Whether `pickletools.genops` from `offset` of `stream` (a seekable binary file) meets an import opcode
    (GLOBAL, STACK_GLOBAL, INST) and then a call or, with `need_stop`, parses on to a STOP: what `pickle.loads` of
    the bytes from `offset` would run code through. A candidate still parsing after `_FOLLOW_BYTES` counts when it
    has met an import opcode (it might run code; it is not followed further)."""
    import pickletools

    stream.seek(offset)
    imported = False
    try:
        for opcode, arg, _pos in pickletools.genops(_Bounded(stream)):
            if opcode.name in ("GLOBAL", "INST") and not _IMPORT_NAME.fullmatch(str(arg)):
                return False  # `pickle.loads` fails to import "me,magnitude" (a CSV header read as INST): no code
            imported = imported or opcode.name in _IMPORTS
            if imported and not need_stop and opcode.name in _CALLS:
                return True
            if opcode.name == "STOP":
                return imported
    except _FollowLimit:
        return imported
    except Exception:  # noqa: BLE001 - any parse error ends this candidate (ValueError, UnicodeDecodeError, ...)
        return False
    return False


def _starts_in(window: bytes) -> Iterator[int]:
    """Every offset of `window` where `_PICKLE_STARTS` matches, in order, overlapping ones included (a word ending
    in `c` just before a GLOBAL, `opcodes\ncposix\nsystem\n`, holds two). The plain search runs at C speed; only the
    bytes inside a match (rare) are tried one by one."""
    for match in _PICKLE_STARTS.finditer(window):
        yield match.start()
        for position in range(match.start() + 1, match.end()):
            if _PICKLE_STARTS.match(window, position):
                yield position


def _pickle_starts(reader, limit: int | None = None) -> Iterator[int]:
    """Absolute offsets of every `_PICKLE_STARTS` match in the binary stream `reader`, read in chunks of
    `_SCAN_CHUNK` with `_SCAN_OVERLAP` bytes carried over (memory: one chunk), up to `limit` bytes if given."""
    base, carry, total = 0, b"", 0
    while True:
        size = _SCAN_CHUNK if limit is None else min(_SCAN_CHUNK, limit - total)
        data = reader.read(size) if size > 0 else b""
        total += len(data)
        window = carry + data
        final = not data
        # a match starting in the last `_SCAN_OVERLAP` bytes is left to the next window, which holds it whole
        cut = len(window) if final else max(len(window) - _SCAN_OVERLAP, 0)
        for start in _starts_in(window):
            if start < cut:
                yield base + start
        if final:
            return
        base, carry = base + cut, window[cut:]


def _pickle_magic(stream, limit: int | None = None, parse=None) -> bool:
    """Whether the seekable binary `stream` holds a pickle that can import code, whatever its protocol (0-5) and
    wherever it starts.

    The rule: (1) the bytes parsed as pickle opcodes from offset 0 (what `pickle.loads` does; a harmless prefix
    such as `I0\n0` is parsed through) reach an import opcode and then a call; or (2) from any offset where a pickle
    can plausibly start (a PROTO opcode `\x80` + 2-5, or a protocol 0/1 GLOBAL/INST `c<module>\n<name>\n`), the
    opcodes reach an import and parse on to a STOP. The whole stream is scanned (or its first `limit` bytes), in
    bounded memory: candidates are found chunk by chunk and each is parsed from `parse` (a second handle on the
    same bytes, read as they are found) or, without one, from `stream` once the scan is done.
    """
    stream.seek(0)
    head = stream.read(2)
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if _runs_code(stream, 0, need_stop=False):
        return True
    stream.seek(0)
    if parse is not None:
        return any(_runs_code(parse, offset, need_stop=True) for offset in _pickle_starts(stream, limit))
    offsets = list(_pickle_starts(stream, limit))  # offsets only, parsed after the scan
    return any(_runs_code(stream, offset, need_stop=True) for offset in offsets)


def _open_decompressed(path: Path, head: bytes):
    """A seekable reader of the content of a gzip/bz2/xz file, or None when `head` names none of them."""
    import bz2
    import gzip
    import lzma

    if head.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return None


def _decompressed_head(head: bytes, size: int) -> bytes | None:
    """The first bytes inside zlib compression (joblib's `ZF` container too), or None when not compressed."""
    import zlib

    try:
        if head[:1] == b"\x78" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
            return zlib.decompressobj().decompress(head, size)
        if head.startswith(b"ZF"):  # joblib's own zlib container: "ZF" + length header, then zlib
            return zlib.decompressobj().decompress(head[head.find(b"\x78") :], size) if b"\x78" in head else None
    except zlib.error:
        return None
    return None


def _compressed_pickle(path: Path, head: bytes) -> bool:
    """Whether the content of a gzip/bz2/xz file (first `_DECOMPRESSED_SCAN` bytes) or the start of a zlib one
    holds a pickle that can run code."""
    import io
    import lzma
    import zlib

    try:
        reader = _open_decompressed(path, head)
        if reader is not None:
            with reader:
                return _pickle_magic(reader, _DECOMPRESSED_SCAN)
        inner = _decompressed_head(head, _SCAN_CHUNK)
        return inner is not None and _pickle_magic(io.BytesIO(inner))
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        return False


def is_pickle_file(path: str | os.PathLike) -> bool:
    """Whether loading `path` could unpickle: by name (any case, compressed) or by content (pickle opcodes anywhere
    in the file, a `torch.save` zip holding `*.pkl`, compressed pickles), whatever the file is called."""
    path = Path(path)
    if pickle_by_name(path.name):
        return True
    try:
        with open(path, "rb") as handle, open(path, "rb") as parse:
            if _pickle_magic(handle, parse=parse):
                return True
            handle.seek(0)
            head = handle.read(_SCAN_OVERLAP)
    except OSError:
        return False
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                return any(pickle_by_name(n) or n.endswith("/data.pkl") for n in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return _compressed_pickle(path, head)
