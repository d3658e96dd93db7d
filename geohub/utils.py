"""Small shared helpers: logging, seeding, atomic writes, threads."""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import socket
import struct
from pathlib import Path

from transformers import set_seed
from transformers.utils import logging

from .atomic import atomic_directory, atomic_path, atomic_write_bytes, atomic_write_text, fsync_dir

__all__ = [
    "get_logger",
    "set_seed",
    "atomic_directory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "progress_output",
    "free_port",
]

# (stream, description) of the one progress bar a training run draws when the caller wants it apart from everything
# else the run prints (`geohub quickstart` sends the rest to a log file); None: tqdm's default and Trainer's own bar.
progress_output: contextvars.ContextVar = contextvars.ContextVar("geohub_progress_output", default=None)


def get_logger(name: str):
    """geohub logs through transformers' logging so that `TRANSFORMERS_VERBOSITY` and
    `transformers.logging.set_verbosity_*` govern geohub as well."""
    return logging.get_logger(name)


WEIGHT_CHECKSUMS_FILE = "geohub_checksums.json"
_SAFETENSORS_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "U16": 2, "I16": 2,
                            "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
                            "C64": 8, "C128": 16}  # fmt: skip


class CorruptWeightsError(OSError):
    """A weights file that cannot be what it claims: truncated, a malformed header, or not the bytes saved.

    `str(err)` is `<file>: <what is wrong>; <what to do>`; `err.filename` is the file."""

    def __init__(self, path: str | os.PathLike, problem: str, fix: str = "re-download or re-save the model"):
        super().__init__(f"{problem}; {fix}")
        self.filename, self.strerror = os.fspath(path), f"{problem}; {fix}"

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def check_safetensors(path: str | os.PathLike) -> None:
    """Validate a `.safetensors` file's structure without loading it: the 8-byte header length, the JSON header,
    every tensor's dtype/shape/offsets, and that the data region is exactly as long as the header says.

    Catches truncated and cut-short files (and headers that were overwritten); a byte flipped inside the tensor
    data keeps the structure intact, which is what `verify_weight_checksums` is for. Raises `CorruptWeightsError`.
    """

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size < 8:
            raise CorruptWeightsError(path, f"truncated safetensors file ({size} bytes, not even a header)")
        (header_len,) = struct.unpack("<Q", handle.read(8))
        if header_len < 2 or 8 + header_len > size:
            raise CorruptWeightsError(path, f"truncated or corrupt safetensors header (declares {header_len} header "
                                            f"bytes, the file has {size - 8})")  # fmt: skip
        try:
            header = json.loads(handle.read(header_len).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CorruptWeightsError(path, f"corrupt safetensors header ({err.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise CorruptWeightsError(path, "corrupt safetensors header (not a JSON object)")
    data_len, end_max = size - 8 - header_len, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            begin, end = (int(x) for x in info["data_offsets"])
            nbytes = count * _SAFETENSORS_DTYPE_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise CorruptWeightsError(path, f"corrupt safetensors header entry for tensor '{name}'") from None
        if not 0 <= begin <= end or end - begin != nbytes:
            raise CorruptWeightsError(path, f"corrupt safetensors header: tensor '{name}' has offsets [{begin}, {end}] "
                                            f"for {nbytes} bytes")  # fmt: skip
        end_max = max(end_max, end)
    if end_max != data_len:
        what = "truncated" if end_max > data_len else "has trailing bytes"
        raise CorruptWeightsError(path, f"{what}: the header describes {end_max} bytes of tensor data, the file holds "
                                        f"{data_len}")  # fmt: skip


def _sha256(path: Path) -> str:

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_weight_checksums(folder: str | os.PathLike) -> Path:
    """Write `geohub_checksums.json` ({"sha256": {file: hex}}) for every `*.safetensors` file in `folder`.

    safetensors stores no checksum, so a flipped byte in tensor data would load silently; `save_pretrained`
    writes this manifest and loading checks it."""

    folder = Path(folder)
    digests = {p.relative_to(folder).as_posix(): _sha256(p) for p in sorted(folder.rglob("*.safetensors"))}
    path = folder / WEIGHT_CHECKSUMS_FILE
    atomic_write_text(path, json.dumps({"sha256": digests}, indent=1, sort_keys=True) + "\n")
    return path


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files `from_pretrained` reads: the shards of `model.safetensors.index.json`, else
    `model.safetensors` (other `*.safetensors` files in the folder are not the model's business)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            names = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CorruptWeightsError(index, "unreadable safetensors index") from None
        return [folder / name for name in sorted(names) if (folder / name).is_file()]
    return [folder / "model.safetensors"] if (folder / "model.safetensors").is_file() else []


def check_weights(folder: str | os.PathLike) -> None:
    """Before loading a model folder: `check_safetensors` every `*.safetensors` file, then compare each with the
    sha256 that `geohub_checksums.json` recorded at save time (folders without the manifest: structure only)."""

    folder = Path(folder)
    files = _weight_files(folder)
    for path in files:
        check_safetensors(path)
    manifest = folder / WEIGHT_CHECKSUMS_FILE
    if not manifest.is_file():
        return
    try:
        digests = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    except (ValueError, KeyError, TypeError):
        digests = None
    if not isinstance(digests, dict):
        raise CorruptWeightsError(manifest, "unreadable checksum manifest", "delete it to load without it")
    loaded = {p.name for p in files}
    for name, expected in digests.items():
        path = folder / name
        if name in loaded and path.is_file() and _sha256(path) != expected:
            raise CorruptWeightsError(path, f"sha256 differs from the one {WEIGHT_CHECKSUMS_FILE} recorded at save time"
                                            " (the file is corrupt)", "re-download or re-save the model (delete "
                                            f"{WEIGHT_CHECKSUMS_FILE} if you changed the weights on purpose)")  # fmt: skip


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on at `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
