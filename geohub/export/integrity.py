"""Integrity of `geohub export` folders: the sha256 of every file, recorded in `export.json` by the exporter and
checked at load, and a strict reading of `export.json` itself.

    info = add_file_hashes(folder, info)     # after the writer: export.json gains {"sha256": {file: hex}}
    info = read_export_info(folder)          # before loading: every field checked, every recorded file hashed

`export.json` is untrusted input (a downloaded folder may be tampered with): a truncated file, a list, wrong types,
an architecture that is not a model class (`pipeline`, `AutoModel`, `Trainer`), `quantized_modules` that are not
module names, a file missing or whose sha256 differs: each is an `ExportError` naming the file and the field.
Folders exported before the hashes were recorded still load (their files are checked for presence only).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from ..atomic import atomic_write_text
from .specs import FORMATS, ExportError

__all__ = ["EXPORT_INFO", "add_file_hashes", "read_export_info", "check_architecture"]

EXPORT_INFO = "export.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MODULE_NAME = re.compile(r"[A-Za-z_][\w]*(\.[\w]+)*")
_MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model.onnx", "int8": "model.int8.safetensors"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def add_file_hashes(folder: str | os.PathLike, info: dict) -> dict:
    """`info` plus `"sha256"`: the digest of every file of `folder` but `export.json`, which is rewritten atomically
    with it; returns the new info."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != EXPORT_INFO)
    info = {**info, "sha256": {p.relative_to(folder).as_posix(): _sha256(p) for p in files}}
    atomic_write_text(folder / EXPORT_INFO, json.dumps(info, indent=2))
    return info


def _bad(message: str, path: Path, field: str | None = None, expected: str | None = None) -> ExportError:
    return ExportError(message, path=path, field=field, expected=expected)


def check_architecture(name, path: Path | None = None) -> str:
    """`name` if it can name a model class (an identifier ending in a model-class word); the class itself is
    checked to be a `PreTrainedModel` where it is resolved (`exported.model_class`)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise _bad(
            f"architecture {name!r}", path, "architecture", "a model class name, e.g. GPDForWindowClassification"
        )
    return name


def _check_fields(info: dict, path: Path) -> None:
    fmt = info.get("format")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise _bad(f"unknown export format {fmt!r}", path, "format", " or ".join(FORMATS))
    if info.get("architecture") is not None:
        check_architecture(info["architecture"], path)
    modules = info.get("quantized_modules")
    if fmt == "int8" or modules is not None:
        if (
            not isinstance(modules, list)
            or not modules
            or not all(isinstance(m, str) and _MODULE_NAME.fullmatch(m) for m in modules)
        ):
            raise _bad(f"quantized_modules {str(modules)[:80]}", path, "quantized_modules",
                       "a non-empty list of module names (e.g. 'encoder.lstm')")  # fmt: skip
    hashes = info.get("sha256")
    if hashes is not None and not (
        isinstance(hashes, dict)
        and all(isinstance(k, str) and isinstance(v, str) and _HEX64.fullmatch(v) for k, v in hashes.items())
    ):
        raise _bad("sha256 is not a table of file names and hex digests", path, "sha256", '{"file": "<64 hex>"}')


def _check_files(folder: Path, info: dict) -> None:
    hashes = info.get("sha256") or {}
    model_file = _MODEL_FILES[info["format"]]
    for name in sorted(set(hashes) | {model_file, "config.json"}):
        file = (folder / name).resolve()
        if folder.resolve() not in file.parents:
            raise _bad(f"file name {name!r} points outside the export folder", folder / EXPORT_INFO, "sha256")
        if not file.is_file():
            raise _bad(f"{name} is missing", folder / name, expected=f"the files {EXPORT_INFO} lists")
        if name in hashes and _sha256(file) != hashes[name]:
            raise _bad(f"sha256 of {name} differs from the one {EXPORT_INFO} recorded at export (the file is corrupt "
                       "or was changed)", folder / name, expected="re-export or re-download the folder")  # fmt: skip


def read_export_info(folder: str | os.PathLike) -> dict:
    """The checked `export.json` of `folder` (see the module docstring); hashes verified. Raises ExportError."""
    folder = Path(folder)
    path = folder / EXPORT_INFO
    if not path.is_file():
        raise _bad("not an export folder (no export.json)", folder, expected="a folder written by `geohub export`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _bad(f"export.json is not valid JSON ({type(err).__name__}: {str(err)[:80]})", path,
                   expected="the JSON object `geohub export` writes (a truncated file? re-export)") from None  # fmt: skip
    if not isinstance(info, dict):
        raise _bad(f"export.json holds a {type(info).__name__}", path, expected="a JSON object")
    _check_fields(info, path)
    _check_files(folder, info)
    return info
