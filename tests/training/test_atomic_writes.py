"""Issue 2, test c): an interrupted `save_pretrained` or checkpoint never leaves something that loads as valid.

A child process is SIGKILLed in the middle of a real save (its writer is slowed down after writing part of its
output); the parent then checks what is on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers.trainer_utils import get_last_checkpoint

from geohub.utils import atomic_directory, atomic_write_text

CHILD = Path(__file__).with_name("_atomic_child.py")


def _kill_while_writing(mode: str, path: Path, marker: Path, timeout: float = 120.0) -> None:
    env = dict(os.environ, PYTHONPATH=str(CHILD.parent))
    process = subprocess.Popen([sys.executable, str(CHILD), mode, str(path), str(marker)], env=env)
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            if process.poll() is not None:
                pytest.fail(f"child exited with {process.returncode} before reaching the save")
            if time.monotonic() > deadline:
                pytest.fail("child never reached the save")
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL


def test_save_pretrained_killed_mid_write_leaves_nothing_loadable(tmp_path):
    target = tmp_path / "model"
    _kill_while_writing("save_pretrained", target, tmp_path / "marker")
    assert not target.exists(), "a killed save published a folder"
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]
    assert leftovers, "the half-written data should sit in a hidden temporary folder"
    from transformers import AutoModel

    with pytest.raises((OSError, ValueError)):
        AutoModel.from_pretrained(target)


def test_save_pretrained_killed_mid_write_keeps_previous_model(tmp_path):
    sys.path.insert(0, str(CHILD.parent))
    try:
        from _atomic_child import TinyConfig, TinyRegressor
    finally:
        sys.path.pop(0)
    target = tmp_path / "model"
    torch.manual_seed(1)
    previous = TinyRegressor(TinyConfig())
    previous.save_pretrained(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _kill_while_writing("save_pretrained", target, tmp_path / "marker")
    after = {p.name: p.read_bytes() for p in target.iterdir()}
    assert after == before, "the earlier model was changed by a killed save"
    reloaded = TinyRegressor.from_pretrained(target)
    assert torch.equal(reloaded.head.weight, previous.head.weight)


def test_checkpoint_killed_mid_save_is_not_picked_for_resume(tmp_path):
    output_dir = tmp_path / "run"
    _kill_while_writing("checkpoint", output_dir, tmp_path / "marker")
    assert (output_dir / "checkpoint-2").is_dir(), "the first, complete checkpoint must be there"
    assert not (output_dir / "checkpoint-4").exists(), "a half-written checkpoint was published"
    assert get_last_checkpoint(str(output_dir)) == str(output_dir / "checkpoint-2")
    assert (output_dir / "checkpoint-2" / "trainer_state.json").is_file()
    assert (output_dir / "checkpoint-2" / "model.safetensors").is_file()


def test_atomic_directory_on_error_leaves_target_untouched(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "keep.txt").write_text("new")
            raise RuntimeError("interrupted")
    assert (target / "keep.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_write_text_replaces_whole_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "{}")
    atomic_write_text(path, '{"x": 1}')
    assert path.read_text() == '{"x": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
