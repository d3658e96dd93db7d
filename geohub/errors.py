"""User-facing errors of geohub, in one place.

Every error says *what* went wrong, *where* (file, line, field or key) and *what was expected*, so that a
user can fix the input without reading geohub's source. Raise these (or `ValueError` subclasses of them)
for bad input; let genuine bugs surface as ordinary exceptions.
"""

from __future__ import annotations

import os

__all__ = [
    "GeohubError",
    "ConfigError",
    "DataError",
    "WaveformError",
    "RasterError",
    "CorpusError",
    "HubError",
    "format_location",
]


def format_location(path: str | os.PathLike | None = None, line: int | None = None, field: str | None = None) -> str:
    """Render `path:line (field 'x')` for error messages; parts that are None are left out."""
    parts = []
    if path is not None:
        parts.append(f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path))
    elif line is not None:
        parts.append(f"line {line}")
    if field is not None:
        parts.append(f"field '{field}'")
    return " ".join(parts)


class GeohubError(ValueError):
    """Base class of geohub's user-facing errors.

    Args:
        message: what went wrong.
        path: the file (or folder) at fault, if any.
        line: 1-based line number in `path`, if known.
        field: the key, column or argument at fault, if any.
        expected: what would have been accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.field = field
        self.expected = expected
        where = format_location(path, line, field)
        text = f"{where}: {message}" if where else message
        if expected:
            text = f"{text} (expected {expected})"
        super().__init__(text)


class ConfigError(GeohubError):
    """A recipe, config or CLI argument is wrong: unknown key, bad value, missing field."""


class DataError(GeohubError):
    """A data file or record is malformed, empty, or inconsistent."""


class WaveformError(DataError):
    """A seismic record cannot be used: unreadable, NaN/Inf samples, wrong channels, too short, ..."""


class RasterError(DataError):
    """A DEM raster cannot be used: unreadable, all nodata, wrong dtype, too small, ..."""


class CorpusError(DataError):
    """A text corpus record is malformed (names the file and line)."""


class HubError(GeohubError):
    """A push, pull or Hub look-up failed in a way the user can act on."""


class ExplainError(GeohubError):
    """A model, method or target that cannot be explained (the message says what is supported). Defined here, below
    the model families, so that each family's explain hook (`geohub/models/<family>/explain_<family>.py`) can raise
    it; `geohub.explain` re-exports it."""
