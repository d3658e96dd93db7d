"""Fixtures for the Hub tests: geohub's Hub-compatible server on a free 127.0.0.1 port, and client subprocesses.

The test session itself runs offline with huggingface_hub and transformers already imported, and both read
`HF_ENDPOINT` / `HF_HUB_DISABLE_XET` / `HF_HUB_OFFLINE` at import time, so every client side (the stock
`huggingface_hub` client, transformers' `from_pretrained` / `pipeline`, the `geohub` CLI) runs in a fresh
subprocess whose environment points at the server before anything is imported. Work is batched per subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from geohub.testing import HubServer

USERS = {"alice": "hf_alice_secret_token", "bob": "hf_bob_secret_token"}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory):
    """The server (subprocess, stopped by pid at the end of the session); users alice and bob."""
    server = HubServer(tmp_path_factory.mktemp("hub-root"), USERS, enable_faults=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hub_client(hub_server, tmp_path):
    """Run Python code in a fresh process talking to the server: `hub_client(code, token=..., isolated=False)`.

    The code prints one JSON line prefixed `RESULT ` which is returned parsed. `isolated=True` runs
    `python -I -S` with only the interpreter's site-packages on sys.path and `geohub` blocked, i.e. a
    process where plain transformers works but geohub cannot be imported.
    """
    homes = iter(range(1000))

    def run(code: str, *, token: str | None = USERS["alice"], isolated: bool = False, timeout: float = 300, **kw):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTHONPATH"))}
        hf_home = kw.get("hf_home") or tmp_path / f"hf-home-{next(homes)}"
        env.update(hub_server.client_env(token=token, hf_home=hf_home))
        env.update({"TRANSFORMERS_VERBOSITY": "error", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
        if isolated:
            prologue = (
                "import sys\n"
                f"sys.path.append({sysconfig.get_paths()['purelib']!r})\n"
                "class _NoGeohub:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name == 'geohub' or name.startswith('geohub.'):\n"
                "            raise ModuleNotFoundError(\"No module named 'geohub' (hidden for this test)\", name='geohub')\n"
                "sys.meta_path.insert(0, _NoGeohub())\n"
            )
            argv = [sys.executable, "-I", "-S", "-c", prologue + code]
        else:
            argv = [sys.executable, "-c", code]
        proc = subprocess.run(argv, env=env, cwd=kw.get("cwd", tmp_path), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)  # fmt: skip
        assert proc.returncode == 0, (
            f"client failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
        lines = [line.split("RESULT ", 1)[1] for line in proc.stdout.splitlines() if "RESULT {" in line]
        result = json.loads(lines[-1]) if lines else None
        return result, proc

    return run


@pytest.fixture
def geohub_cli_at(hub_server, tmp_path):
    """Run the `geohub` CLI against the server with a token: `geohub_cli_at("push", ..., token=...)`."""

    def run(*args: str, token: str | None = USERS["alice"], hf_home: Path | None = None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(hub_server.client_env(token=token, hf_home=hf_home or tmp_path / "cli-hf-home"))
        return subprocess.run([sys.executable, "-m", "geohub.cli", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    return run
