"""Testing helpers: a Hugging Face Hub-compatible server (`geohub.testing.hub_server`) and a way to start it.

`HubServer` runs the server as a subprocess on a free 127.0.0.1 port and stops it by its pid:

    with HubServer(root, users={"alice": "hf_alice"}) as hub:
        env = hub.client_env(token="hf_alice")   # HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET=1 ...
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..utils import free_port

__all__ = ["HubServer", "free_port"]

_SERVER_SCRIPT = Path(__file__).with_name("hub_server.py")


class HubServer:
    """The test Hub server in a subprocess (`python geohub/testing/hub_server.py`, stdlib + FastAPI only).

    Args:
        root: folder holding the server's repositories and blobs.
        users: user name -> token.
        enable_faults: serve `POST /_testing/faults` (corrupted downloads for integrity tests), only for the
            random `admin_token` this object makes (send it as `Authorization: Bearer <admin_token>`).
        limits: optional `{"max_file_size": ..., "max_commit_size": ..., "max_repo_size": ...}` (bytes or "10M").
        upload_delay: seconds the server sleeps per received LFS chunk (a slow link, to interrupt uploads).
        log_path: where the server's stdout/stderr go (default `root/server.log`).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        users: dict[str, str],
        *,
        enable_faults: bool = False,
        upload_delay: float = 0.0,
        log_path: str | os.PathLike | None = None,
        limits: dict[str, int | str] | None = None,
    ):
        self.root = Path(root)
        self.users = dict(users)
        self.enable_faults = enable_faults
        self.upload_delay = upload_delay
        self.log_path = Path(log_path) if log_path else self.root / "server.log"
        self.limits = dict(limits or {})
        self.admin_token = f"hf_admin_{secrets.token_hex(16)}" if enable_faults else None
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HubServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = [sys.executable, str(_SERVER_SCRIPT), "--port", str(self.port), "--root", str(self.root)]
        for name, token in self.users.items():
            argv += ["--user", f"{name}:{token}"]
        for key, value in self.limits.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        env = dict(os.environ)
        if self.enable_faults:
            argv.append("--enable-faults")
            env["GEOHUB_HUB_ADMIN_TOKEN"] = self.admin_token  # not on the command line, which `ps` shows
        if self.upload_delay:
            argv += ["--upload-delay", str(self.upload_delay)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub server exited with {self.process.returncode}; see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/api/models", timeout=2).close()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hub server did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def client_env(self, token: str | None = None, hf_home: str | os.PathLike | None = None) -> dict[str, str]:
        """Environment variables that point `huggingface_hub` and transformers at this server.

        They must be in place before those packages are imported (both read them at import time).
        """
        env = {
            "HF_ENDPOINT": self.endpoint,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1" if token is None else "0",
        }
        if token is not None:
            env["HF_TOKEN"] = token
        if hf_home is not None:
            env["HF_HOME"] = os.fspath(hf_home)
        return env

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
