"""Every path, script and `geohub` command named in README.md and recipes/**/README.md exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "recipes").rglob("README.md")), REPO / "benchmarks" / "README.md"]
_TOP = ("geohub/", "recipes/", "spaces/", "benchmarks/", "tests/", ".ci/", "requirements/")
_PATH = re.compile(r"(?<![\w./-])((?:geohub|recipes|spaces|benchmarks|tests|\.ci|requirements)/[\w./-]*[\w/])")
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


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    assert start in text and end in text, f"README.md lacks the {start} ... {end} markers"
    return text.split(start, 1)[1].split(end, 1)[0]


def test_quick_start_is_one_command_installing_with_the_lock_and_serving_the_defaults():
    quick_start = _readme().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first_block = re.search(r"```bash\n(.*?)```", quick_start, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line.strip()]
    assert len(commands) == 1 and commands[0].startswith("pip install "), commands
    assert commands[0].endswith(" && geohub quickstart"), commands
    for command in re.findall(r"^pip install .*$", quick_start, re.M):
        assert "-c requirements/lock.txt" in command, f"an install line without the lock: {command}"
    assert (REPO / "requirements" / "lock.txt").is_file()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in quick_start


def test_quickstart_task_names_in_readme_are_the_quickstart_recipes():
    from geohub.quickstart import quickstart_recipes

    table = _between(_readme(), "<!-- quickstart-tasks -->", "<!-- /quickstart-tasks -->")
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    assert listed == list(quickstart_recipes()), "README's --tasks table differs from quickstart_recipes()"


def test_readme_python_example_picks_a_users_miniseed_file(tmp_path):
    import obspy

    code = _between(_readme(), "<!-- example: pick-miniseed -->", "<!-- /example -->")
    code = code.strip().removeprefix("```python").removesuffix("```")
    assert len([line for line in code.splitlines() if line.strip()]) <= 6
    obspy.read().write(str(tmp_path / "my_record.mseed"), format="MSEED")  # ObsPy's example: BW.RJOB, 30 s
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    picks = [line.split() for line in result.stdout.splitlines() if line.startswith("BW.RJOB")]
    times = {phase: obspy.UTCDateTime(time) for _, phase, time, _ in picks}
    # the times the README states for this record
    assert abs(times["P"] - obspy.UTCDateTime("2009-08-24T00:20:07.7")) < 0.1, picks
    assert abs(times["S"] - obspy.UTCDateTime("2009-08-24T00:20:08.7")) < 0.1, picks


def test_help_prints_the_pretrained_extra_unswallowed_by_rich_markup():
    env = {**os.environ, "COLUMNS": "250"}
    result = subprocess.run([sys.executable, "-m", "geohub.cli", "--help"], capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert 'pip install "geohub[pretrained]"' in result.stdout, result.stdout
