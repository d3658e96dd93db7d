"""Every path, script and `geohub` command named in README.md and recipes/**/README.md exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "recipes").rglob("README.md")), REPO / "benchmarks" / "README.md"]
_TOP = ("geohub/", "recipes/", "spaces/", "benchmarks/", "tests/", ".ci/")
_PATH = re.compile(r"(?<![\w./-])((?:geohub|recipes|spaces|benchmarks|tests|\.ci)/[\w./-]*[\w/])")
_COMMAND = re.compile(r"(?:^|[\s`&|;(])geohub ([a-z][a-z-]+)\b")
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)


def _named_paths(text: str) -> set[str]:
    paths = set()
    for match in _PATH.findall(text):
        if "<" in match or "*" in match or "..." in match:
            continue
        paths.add(match.rstrip("/."))
    return paths


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_paths_named_in_docs_exist(doc):
    text = doc.read_text(encoding="utf-8")
    missing = [p for p in sorted(_named_paths(text)) if not (REPO / p).exists()]
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"


def test_geohub_commands_named_in_docs_exist():
    result = subprocess.run([sys.executable, "-m", "geohub.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    listed = set(re.findall(r"│ ([a-z][a-z-]+)\s", result.stdout))
    named = set()
    for doc in DOCS:
        for code in _CODE.findall(doc.read_text(encoding="utf-8")):
            named.update(_COMMAND.findall(code.strip("`")))
    assert named, "README names no geohub command"
    assert named <= listed, f"docs name commands that `geohub --help` does not list: {sorted(named - listed)}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->", 1)[1].split("<!-- /test-command -->", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("python")]
    assert len(commands) == 1, "README must mark exactly one test command"
    assert "README.md" in (REPO / ".ci" / "run").read_text()
