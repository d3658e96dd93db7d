"""`geohub annotate` across processes: 1 vs 2 accelerate processes give the same bytes; SIGKILL then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import REPO_ROOT, run_command
from .archive_fixtures import END, START, THRESHOLDS, save_tiny_picker, write_sds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    return {"sds": write_sds(root / "sds"), "picker": save_tiny_picker(root / "picker")}


def _args(archive, output, chunk_seconds="3600"):
    return [str(archive["sds"]), "--model", str(archive["picker"]), "--output", str(output), "--start", START,
            "--end", END, "--chunk-seconds", chunk_seconds, *THRESHOLDS, "--no-plot"]  # fmt: skip


@pytest.fixture(scope="module")
def one_process(archive, tmp_path_factory):
    output = tmp_path_factory.mktemp("one") / "out"
    result = run_command([sys.executable, "-m", "geohub.cli", "annotate", *_args(archive, output)])
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def test_two_processes_give_the_same_catalogue(archive, one_process, tmp_path):
    output = tmp_path / "two"
    config = REPO_ROOT / "recipes" / "accelerate_configs" / "multi_cpu.yaml"
    result = run_command([sys.executable, "-m", "geohub.cli", "annotate", *_args(archive, output),
                          "--config_file", str(config)])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "accelerate launch --config_file" in result.stdout
    assert json.loads((output / "summary.json").read_text())["processes"] == 2
    ranks = [json.loads((output / "manifest" / f"rank-{r}.json").read_text())["finished"] for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2 and not set(ranks[0]) & set(ranks[1])  # the chunks were shared
    for name in ("picks.csv", "picks.xml", "detections.csv", "errors.csv"):
        assert (output / name).read_bytes() == (one_process / name).read_bytes(), name


def test_sigkill_then_resume_gives_the_uninterrupted_result(archive, one_process, tmp_path):
    output = tmp_path / "killed"
    argv = [sys.executable, "-m", "geohub.inference.archive", *_args(archive, output, chunk_seconds="600")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((output / "chunks").glob("*.json"))) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (output / "picks.csv").exists()
    done_before = len(list((output / "chunks").glob("*.json")))
    result = run_command(argv)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["chunks"] == 24 and 0 < summary["chunks_resumed"] <= done_before and summary["chunks_run"] < 24
    # 10-minute chunks, killed and resumed, give the bytes of the uninterrupted 1-hour-chunk run
    for name in ("picks.csv", "picks.xml", "detections.csv"):
        assert (output / name).read_bytes() == (one_process / name).read_bytes(), name
