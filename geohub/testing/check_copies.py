"""Check that code copied into a family folder still matches its original (transformers' `utils/check_copies.py`).

A family folder must run as remote code (its configuration, modeling and processing files are pushed to the Hub),
and each family owns its hooks, so some code is carried in more than one place. Every such copy is a function or
class preceded by the marker

    # Copied from geohub.models.eqtransformer.processing_eqtransformer.obspy_bandpass

(optionally followed by `with OldName->NewName[, Old2->New2]`, the renames applied to the original before the
comparison). The copy must equal the original's source, after those renames, up to indentation.

    python -m geohub.testing.check_copies            # lists drifted copies; exit status 1 when there is one

`tests/test_copies.py` runs it over the package and checks the checker on a drifted copy.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Copy", "find_copies", "check_file", "check_tree", "main"]

MARKER = re.compile(r"^(?P<indent>\s*)# Copied from (?P<target>geohub(?:\.\w+)+)(?:\s+with\s+(?P<renames>.+?))?\s*$")


@dataclass(frozen=True)
class Copy:
    """One marked copy: the file and line of its marker, the original's dotted path, the renames, the copy's code."""

    path: Path
    line: int
    target: str
    renames: tuple[tuple[str, str], ...]
    code: str


def _renames(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = []
    for part in text.split(","):
        old, arrow, new = part.strip().partition("->")
        if not arrow or not old.strip() or not new.strip():
            raise ValueError(f"bad rename {part.strip()!r} in a '# Copied from' marker (expected Old->New)")
        pairs.append((old.strip(), new.strip()))
    return tuple(pairs)


def find_copies(path: Path) -> list[Copy]:
    """The marked copies of one Python file (a marker directly above a `def`/`class`, decorators allowed)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    nodes = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            nodes[first] = node
    comments = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}  # fmt: skip
    copies = []
    for number, line in enumerate(lines, start=1):
        match = MARKER.match(line) if number in comments else None
        if not match:
            continue
        node = nodes.get(number + 1)
        if node is None:
            raise ValueError(f"{path}:{number}: a '# Copied from' marker must be directly above a def or class")
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        code = "\n".join(lines[first - 1 : node.end_lineno])
        copies.append(Copy(path, number, match["target"], _renames(match["renames"]), code))
    return copies


def _original(target: str) -> str:
    """Source of the object at dotted path `target` (module path, then attributes)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return inspect.getsource(obj)
    raise ImportError(f"cannot import {target}")


def _normalise(code: str) -> str:
    return textwrap.dedent(code).strip() + "\n"


def check_file(path: Path) -> list[str]:
    """One message per drifted copy (or unresolvable original) in `path`."""
    problems = []
    for copy in find_copies(Path(path)):
        try:
            original = _original(copy.target)
        except (ImportError, AttributeError, TypeError, OSError) as err:
            problems.append(f"{copy.path}:{copy.line}: original {copy.target} not found ({err})")
            continue
        for old, new in copy.renames:
            original = re.sub(rf"\b{re.escape(old)}\b", new, original)
        if _normalise(original) != _normalise(copy.code):
            problems.append(f"{copy.path}:{copy.line}: the copy of {copy.target} differs from the original (update "
                            "it, or drop the marker if the difference is meant)")  # fmt: skip
    return problems


def check_tree(root: Path) -> list[str]:
    """Messages for every drifted copy in the `.py` files under `root`."""
    problems = []
    for path in sorted(Path(root).rglob("*.py")):
        if "__pycache__" not in path.parts:
            problems += check_file(path)
    return problems


def main(argv: list[str] | None = None) -> int:
    roots = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or [Path(__file__).resolve().parents[1]]
    problems = [message for root in roots for message in check_tree(root)]
    for message in problems:
        print(message)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
