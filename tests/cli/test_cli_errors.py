"""Errors a person can act on: one line `geohub: error: ...` (what, where, what to do), a non-zero exit, and the
traceback only with `--debug` / GEOHUB_DEBUG=1. Recipe mistakes are found at `--dry-run`, before any model loads."""

from __future__ import annotations

import os
import socket
import time

import pytest

from geohub.cli import main
from geohub.errors import ConfigError
from geohub.training.arguments import read_recipe


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("geohub: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def recipe(tmp_path):
    def write(body: str | bytes):
        path = tmp_path / "recipe.yaml"
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        return path

    return write


PICKER = 'task: seismic_picking\nhidden_sizes: "4,8"\ndataset: synthetic\noutput_dir: out\n'


@pytest.mark.parametrize(
    "line,expected",
    [
        ("kernel_size: seven", "wrong type for 'kernel_size': got str 'seven' (expected an integer)"),
        ("kernel_size: 3.5", "wrong type for 'kernel_size': got float 3.5 (expected an integer)"),
        ("split_by: [4, 8]", "wrong type for 'split_by': got list [4, 8] (expected a string)"),
        ("learning_rate: [0.1]", "wrong type for 'learning_rate': got list [0.1]"),
        ("augment: maybe", "wrong type for 'augment': got str 'maybe' (expected true/false)"),
        ("num_train_epochs: {a: 1}", "wrong type for 'num_train_epochs'"),
    ],
)
def test_wrong_value_types_fail_at_dry_run(capsys, recipe, line, expected):
    path = recipe(PICKER + line + "\n")
    started = time.monotonic()
    code, out, err = _run(capsys, "train", str(path), "--dry-run")
    assert code == 2 and out == ""
    message = _one_error_line(err)
    assert f"{path}:5" in message and expected in message, message
    assert time.monotonic() - started < 20, "the type check must come before anything expensive"


def test_values_that_convert_cleanly_are_accepted(capsys, recipe):
    path = recipe(PICKER + 'learning_rate: 3e-4\nnum_train_epochs: 2\nkernel_size: "5"\naugment: "true"\n')
    code, out, _ = _run(capsys, "train", str(path), "--dry-run")
    assert code in (0, None) and "accelerate launch" in out and "--quiet" in out


def test_duplicate_yaml_keys_name_both_lines(capsys, recipe):
    path = recipe(PICKER + "kernel_size: 3\nstride: 2\nkernel_size: 5\n")
    code, _, err = _run(capsys, "train", str(path), "--dry-run")
    message = _one_error_line(err)
    assert code == 2 and f"{path}:7" in message and "duplicate key 'kernel_size' (first given on line 5" in message
    nested = recipe("task: x\nmodel:\n  a: 1\n  a: 2\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml:4.*duplicate key 'a'"):
        read_recipe(nested)


def test_non_utf8_recipe_names_file_and_line(capsys, recipe):
    path = recipe(PICKER.encode() + b"output_dir: r\xe9sultats\n")
    code, _, err = _run(capsys, "train", str(path), "--dry-run")
    message = _one_error_line(err)
    assert code == 2 and f"{path}:5" in message and "not UTF-8 text (byte 0xe9" in message
    assert "re-save it as UTF-8" in message
    bom = recipe(b"\xef\xbb\xbf" + PICKER.encode())  # a UTF-8 byte-order mark is fine
    assert read_recipe(bom)[0]["task"] == "seismic_picking"


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed when returned: nothing listens there


@pytest.mark.parametrize("args", [("models",), ("pull", "alice/model", "--local-dir", "x"), ("models", "--datasets")])
def test_a_dead_endpoint_is_one_line_and_fast(capsys, monkeypatch, tmp_path, args):
    endpoint = _dead_endpoint()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    code, _, err = _run(capsys, *args)
    message = _one_error_line(err)
    assert code == 2 and f"cannot reach the Hub at {endpoint}" in message and "check HF_ENDPOINT" in message
    assert time.monotonic() - started < 10, "no five retries against an endpoint where nothing listens"
    assert not (tmp_path / "x").exists()


def test_invalid_repo_id(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", _dead_endpoint())  # checked before any request: the endpoint is not reached
    code, _, err = _run(capsys, "pull", "not a/valid id!!")
    message = _one_error_line(err)
    assert code == 2 and "invalid repo id 'not a/valid id!!'" in message and "expected namespace/name" in message
    for repo_id, reason in (
        ("no-namespace", "name the namespace"),
        ("a/b/c", "in the form"),
        ("a/-b", "cannot start"),
    ):
        code, _, err = _run(capsys, "push", str(tmp_path), repo_id)
        message = _one_error_line(err)
        assert code == 2 and f"invalid repo id '{repo_id}'" in message and reason in message, message


def test_debug_shows_the_traceback(capsys, monkeypatch, recipe):
    path = recipe(PICKER + "kernel_size: seven\n")
    monkeypatch.setenv("GEOHUB_DEBUG", "0")  # recorded, so the "1" that `--debug` sets is undone afterwards
    with pytest.raises(ConfigError, match="wrong type for 'kernel_size'"):
        main(["--debug", "train", str(path), "--dry-run"])
    assert os.environ["GEOHUB_DEBUG"] == "1"  # inherited by accelerate launch's training processes
    monkeypatch.setenv("GEOHUB_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["train", str(path), "--dry-run"])
    monkeypatch.setenv("GEOHUB_DEBUG", "0")
    code, _, err = _run(capsys, "train", str(path), "--dry-run")
    assert code == 2 and "wrong type" in _one_error_line(err)


def test_unexpected_errors_are_one_line_too(capsys, monkeypatch):
    import geohub.hub

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(geohub.hub, "list_models", broken)
    code, _, err = _run(capsys, "models")
    message = _one_error_line(err)
    assert code == 1 and "unexpected RuntimeError: disk on fire" in message and "--debug" in message


@pytest.mark.slow
def test_a_failure_inside_accelerate_launch_is_one_line(geohub_cli, recipe, tmp_path):
    path = recipe(PICKER.replace("dataset: synthetic", f"dataset: phasenet\ndataset_dir: {tmp_path / 'nope'}"))
    result = geohub_cli("train", str(path), "--config_file", "recipes/accelerate_configs/cpu.yaml")
    assert result.returncode != 0
    message = _one_error_line(result.stderr)
    assert str(tmp_path / "nope") in message and "not found" in message
