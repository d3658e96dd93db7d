"""The lock file of geohub's tested environment: write it from this environment, or check an environment against it.

    python .ci/lock.py check requirements/lock.txt      # exit 1, listing name / locked / installed, on a mismatch
    python .ci/lock.py freeze requirements/lock.txt     # rewrite the lock from the installed packages

`freeze` walks geohub's requirements (with the extras named by `--extras`, default offline,test,pretrained) through
the installed distributions' metadata and pins every package reached, at its installed version; geohub itself, and
whatever else is installed but not required, is left out. Pins are written without local labels (`torch==2.13.0`,
not `2.13.0+cpu`) so that the same file serves the CPU index and PyPI.

`check` compares each locked pin with the installed distribution. A package that is installed at another version,
or not installed at all, is an error; a package installed but not in the lock (e.g. by hand) is not. It needs only
the standard library, so it runs before anything else is importable.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import re
import sys
import tempfile
from pathlib import Path

DEFAULT_EXTRAS = ("offline", "test", "pretrained")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:#.*)?$")


def canonical_name(name: str) -> str:
    """PEP 503 normalised name (`PyYAML` -> `pyyaml`, `gradio_client` -> `gradio-client`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, tuple[str, str]]:
    """canonical name -> (name as written, version) of every `name==version` line; raises ValueError naming the
    file and line of anything else (blank lines and `#` comments aside)."""
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError(f"{path}:{number}: expected `name==version`, got {line!r}")
        pins[canonical_name(match.group(1))] = (match.group(1), match.group(2))
    return pins


def installed_versions() -> dict[str, str]:
    """canonical name -> version of every distribution importable here (the first on sys.path wins, as for
    imports)."""
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical_name(name), dist.version)
    return versions


def same_version(locked: str, installed: str) -> bool:
    """True when `installed` is the locked release, with or without a local label (`2.13.0+cpu` is `2.13.0`)."""
    return installed == locked or ("+" not in locked and installed.split("+", 1)[0] == locked)


def mismatches(pins: dict[str, tuple[str, str]], installed: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, locked, installed or "not installed") of every pin the environment does not satisfy."""
    rows = []
    for key, (name, locked) in sorted(pins.items()):
        have = installed.get(key)
        if have is None:
            rows.append((name, locked, "not installed"))
        elif not same_version(locked, have):
            rows.append((name, locked, have))
    return rows


def check(lock: Path) -> int:
    """Print the mismatches between `lock` and this environment; 0 when there are none, else 1."""
    pins = read_lock(lock)
    rows = mismatches(pins, installed_versions())
    if not rows:
        print(f"lock check: the {len(pins)} packages of {lock} are installed at their locked versions")
        return 0
    width = max(len(row[0]) for row in rows + [("name", "", "")])
    lines = [f"lock check FAILED: {len(rows)} of the {len(pins)} packages of {lock} differ from this environment",
             f"  {'name':<{width}}  {'locked':<14}  installed"]  # fmt: skip
    lines += [f"  {name:<{width}}  {locked:<14}  {have}" for name, locked, have in rows]
    lines.append(f'install the locked versions: pip install -c {lock} -e ".[{",".join(DEFAULT_EXTRAS)}]"')
    print("\n".join(lines), file=sys.stderr)
    return 1


def closure(root: str, extras: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """The installed distributions that `root[extras]` requires, directly or not (markers evaluated here)."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    todo = [(root, tuple(extras))]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (canonical_name(name), wanted) in seen:
            continue
        seen.add((canonical_name(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"lock freeze: {name} is required but not installed; install the project first") from None
        found[canonical_name(name)] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *wanted)):
                todo.append((req.name, tuple(sorted(req.extras))))
    return found


def freeze(lock: Path, extras: tuple[str, ...], root: str = "geohub") -> int:
    """Write the pins of `root[extras]`'s requirement closure to `lock` (temp file, then rename)."""
    dists = closure(root, extras)
    dists.pop(canonical_name(root))
    header = [
        f"# geohub's tested environment: the requirement closure of geohub[{','.join(extras)}] as installed where",
        "# the test suite runs (Python 3.11, Linux x86_64). Use it as a constraints file:",
        f'#     pip install -c requirements/lock.txt -e ".[{",".join(extras)}]"',
        "# Refresh (after changing pyproject.toml, in an environment where the suite passes):",
        f"#     python .ci/lock.py freeze requirements/lock.txt --extras {','.join(extras)}",
        "# .ci/run fails when an installed version differs from these (python .ci/lock.py check requirements/lock.txt).",
    ]
    pins = sorted((dist.metadata["Name"], dist.version.split("+", 1)[0]) for dist in dists.values())
    text = "\n".join(header + [f"{name}=={version}" for name, version in sorted(pins, key=lambda p: p[0].lower())])
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=f".{lock.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    os.replace(tmp, lock)
    print(f"lock freeze: wrote {len(pins)} pins to {lock}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("check", "freeze"))
    parser.add_argument("lock", type=Path, help="the lock file (requirements/lock.txt)")
    parser.add_argument("--extras", default=",".join(DEFAULT_EXTRAS), help="geohub's extras to lock (freeze)")
    args = parser.parse_args(argv)
    if args.action == "freeze":
        return freeze(args.lock, tuple(e for e in args.extras.split(",") if e))
    if not args.lock.is_file():
        print(f"lock check: {args.lock} does not exist", file=sys.stderr)
        return 2
    try:
        return check(args.lock)
    except ValueError as err:
        print(f"lock check: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
