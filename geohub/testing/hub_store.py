"""Storage of geohub's test Hub server: repositories, commits, refs and content-addressed blobs on disk.

    ROOT/blobs/<sha256>                              file contents, content-addressed
    ROOT/tmp/                                        in-flight LFS uploads (`lfs-*.part`), deleted repositories
    ROOT/repos/<type>s/<namespace>/<name>/repo.json  visibility, creation date
    ROOT/repos/<type>s/<namespace>/<name>/refs.json  {"branches": {name: commit}, "tags": {name: commit}}
    ROOT/repos/<type>s/<namespace>/<name>/commits/<id>.json   parents, message, author, date, full file tree

Every file is written through a temporary file and `os.replace`; a commit is validated whole, then written, and
published by rewriting `refs.json` last, under a per-repository lock. Standard library + PyYAML only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as _dt
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

__all__ = ["HubStore", "HubHTTPError", "card_metadata", "REPO_TYPES"]

REPO_TYPES = ("model", "dataset")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_LFS_THRESHOLD = 10 * 1024 * 1024  # files this big always go through LFS, as on the Hub
_DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.npz", "*.npy", "*.pkl", "*.onnx",
        "*.parquet", "*.arrow", "*.zip", "*.tar.gz", "*.gz", "*.mseed", "*.tif", "*.tiff", "*.msgpack",
        "*.model", "*.png", "*.jpg",
    )
)  # fmt: skip


class HubHTTPError(Exception):
    """An HTTP error answered with the Hub's `X-Error-Code` / `X-Error-Message` headers."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def card_metadata(text: str) -> dict:
    """The YAML front matter of a README.md (`{}` when there is none); raises `yaml.YAMLError` if malformed."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, flags=re.DOTALL)
    if not match:
        return {}
    data = yaml.safe_load(match.group(1)) or {}
    if not isinstance(data, dict):
        raise yaml.YAMLError("the metadata block must be a mapping")
    return data


class HubStore:
    """Repositories, commits, refs and blobs on disk under `root` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, users: dict[str, str], upload_delay: float = 0.0):
        self.root = Path(root)
        self.users = dict(users)  # token -> user name
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.upload_tickets: dict[str, tuple[str, int, float]] = {}  # ticket -> (sha256, size, expiry)
        self.faults: dict[str, list[str]] = {}  # path in repo -> pending fault modes
        self.upload_delay = upload_delay  # seconds slept per received LFS chunk (tests of interrupted uploads)

    # -- auth ---------------------------------------------------------------------------------------------------
    def user_for(self, authorization: str | None) -> str | None:
        """The user a `Bearer` token belongs to; None when anonymous. A token that is not known raises 401."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HubHTTPError(401, "Invalid credentials in Authorization header")
        user = self.users.get(token.strip())
        if user is None:
            raise HubHTTPError(401, "Invalid credentials in Authorization header")
        return user

    # -- repositories -------------------------------------------------------------------------------------------
    def repo_dir(self, repo_type: str, repo_id: str) -> Path:
        namespace, _, name = repo_id.partition("/")
        if repo_type not in REPO_TYPES or not _NAME_RE.match(namespace) or not _NAME_RE.match(name):
            raise HubHTTPError(400, f"Invalid repo id '{repo_id}' or type '{repo_type}'")
        return self.root / "repos" / f"{repo_type}s" / namespace / name

    def lock(self, repo_type: str, repo_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(f"{repo_type}/{repo_id}", threading.Lock())

    def repo_meta(self, repo_type: str, repo_id: str, user: str | None, *, write: bool = False) -> dict:
        """Repository metadata, checking visibility (private repos are invisible to others) and write access."""
        path = self.repo_dir(repo_type, repo_id) / "repo.json"
        if not path.is_file():
            raise HubHTTPError(404 if user else 401, "Repository not found", "RepoNotFound")
        meta = json.loads(path.read_text())
        owner = repo_id.split("/")[0]
        if meta["private"] and user != owner:
            raise HubHTTPError(404 if user else 401, "Repository not found", "RepoNotFound")
        if write and user != owner:
            raise HubHTTPError(403 if user else 401, f"You don't have write access to {repo_id}")
        return meta

    def create_repo(self, repo_type: str, repo_id: str, user: str | None, private: bool) -> None:
        if user is None:
            raise HubHTTPError(401, "You must be authenticated to create a repository")
        if repo_id.split("/")[0] != user:
            raise HubHTTPError(403, f"You cannot create repositories in the namespace of '{repo_id.split('/')[0]}'")
        directory = self.repo_dir(repo_type, repo_id)
        with self.lock(repo_type, repo_id):
            if (directory / "repo.json").is_file():
                raise HubHTTPError(409, "You already created this repo")
            tree = {".gitattributes": self._store_bytes(_DEFAULT_GITATTRIBUTES.encode(), lfs=False)}
            commit_id = self._write_commit(directory, [], tree, "initial commit", "", user)
            _write_json(directory / "refs.json", {"branches": {"main": commit_id}, "tags": {}})
            # repo.json last: a repository without it does not exist for any reader
            _write_json(directory / "repo.json", {"private": private, "createdAt": _now(), "author": user})

    def delete_repo(self, repo_type: str, repo_id: str, user: str | None) -> None:
        self.repo_meta(repo_type, repo_id, user, write=True)
        directory = self.repo_dir(repo_type, repo_id)
        with self.lock(repo_type, repo_id):
            graveyard = self.root / "tmp" / f"deleted-{secrets.token_hex(8)}"
            os.replace(directory, graveyard)  # one rename: the repository disappears at once
            shutil.rmtree(graveyard, ignore_errors=True)

    def set_private(self, repo_type: str, repo_id: str, user: str | None, private: bool) -> None:
        meta = self.repo_meta(repo_type, repo_id, user, write=True)
        with self.lock(repo_type, repo_id):
            meta["private"] = private
            _write_json(self.repo_dir(repo_type, repo_id) / "repo.json", meta)

    def list_repos(self, repo_type: str, user: str | None) -> list[str]:
        base = self.root / "repos" / f"{repo_type}s"
        out = []
        for meta_path in sorted(base.glob("*/*/repo.json")):
            repo_id = f"{meta_path.parent.parent.name}/{meta_path.parent.name}"
            meta = json.loads(meta_path.read_text())
            if not meta["private"] or user == repo_id.split("/")[0]:
                out.append(repo_id)
        return out

    # -- refs and commits ---------------------------------------------------------------------------------------
    def refs(self, repo_type: str, repo_id: str) -> dict:
        return json.loads((self.repo_dir(repo_type, repo_id) / "refs.json").read_text())

    def commit(self, repo_type: str, repo_id: str, commit_id: str) -> dict:
        return json.loads((self.repo_dir(repo_type, repo_id) / "commits" / f"{commit_id}.json").read_text())

    def resolve(self, repo_type: str, repo_id: str, revision: str) -> str:
        """A branch, tag or full commit id -> commit id (404 RevisionNotFound otherwise)."""
        refs = self.refs(repo_type, repo_id)
        if revision in refs["branches"]:
            return refs["branches"][revision]
        if revision in refs["tags"]:
            return refs["tags"][revision]
        if (
            re.fullmatch(r"[0-9a-f]{40}", revision)
            and (self.repo_dir(repo_type, repo_id) / "commits" / f"{revision}.json").is_file()
        ):
            return revision
        raise HubHTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def history(self, repo_type: str, repo_id: str, commit_id: str) -> list[dict]:
        out = []
        while commit_id:
            commit = self.commit(repo_type, repo_id, commit_id)
            out.append(commit)
            commit_id = commit["parents"][0] if commit["parents"] else None
        return out

    def _write_commit(self, directory: Path, parents: list[str], tree: dict, title: str, message: str, user: str):
        body = {"parents": parents, "tree": tree, "title": title, "message": message, "author": user, "date": _now()}
        commit_id = hashlib.sha1(json.dumps(body, sort_keys=True).encode() + secrets.token_bytes(8)).hexdigest()
        body["id"] = commit_id
        _write_json(directory / "commits" / f"{commit_id}.json", body)
        return commit_id

    def set_ref(self, repo_type: str, repo_id: str, kind: str, name: str, commit_id: str | None) -> None:
        """Create, move (`commit_id`) or delete (`None`) a branch or tag; the caller holds the repository lock."""
        refs = self.refs(repo_type, repo_id)
        if commit_id is None:
            refs[kind].pop(name, None)
        else:
            refs[kind][name] = commit_id
        _write_json(self.repo_dir(repo_type, repo_id) / "refs.json", refs)

    # -- blobs --------------------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HubHTTPError(400, f"Invalid sha256 oid '{sha256}'")
        return self.root / "blobs" / sha256

    def _store_bytes(self, data: bytes, *, lfs: bool) -> dict:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha256)
        if not path.is_file():
            _atomic_write(path, data)
        return self._entry(sha256, len(data), data if not lfs else None)

    @staticmethod
    def _entry(sha256: str, size: int, content: bytes | None) -> dict:
        if content is not None:
            return {"oid": _git_blob_sha1(content), "size": size, "sha256": sha256, "lfs": None}
        pointer = _lfs_pointer(sha256, size)
        return {
            "oid": _git_blob_sha1(pointer),
            "size": size,
            "sha256": sha256,
            "lfs": {"oid": sha256, "size": size, "pointerSize": len(pointer)},
        }

    async def receive_lfs(self, ticket: str, stream_chunks) -> None:
        """Stream an LFS object into `tmp/lfs-*.part`; keep it only if its sha256 and size match the batch request.

        A dropped connection (or any error) deletes the partial file: nothing half-uploaded is ever stored.
        """
        expected = self.upload_tickets.get(ticket)
        if expected is None or expected[2] < time.time():
            raise HubHTTPError(403, "Upload URL expired or unknown")
        sha256, size, _ = expected
        fd, tmp = tempfile.mkstemp(prefix="lfs-", suffix=".part", dir=self.root / "tmp")
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in stream_chunks:
                    digest.update(chunk)
                    received += len(chunk)
                    handle.write(chunk)
                    handle.flush()
                    if self.upload_delay:
                        await asyncio.sleep(self.upload_delay)  # a slow link, for interruption tests
                os.fsync(handle.fileno())
            if received != size or digest.hexdigest() != sha256:
                raise HubHTTPError(400, f"Uploaded object does not match oid {sha256} and size {size}")
            os.replace(tmp, self.blob_path(sha256))
            self.upload_tickets.pop(ticket, None)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    # -- the commit endpoint ------------------------------------------------------------------------------------
    def apply_commit(self, repo_type: str, repo_id: str, revision: str, user: str, lines: list[dict]) -> str:
        """Validate every operation, then write one commit and move the branch (all or nothing)."""
        header = next((line["value"] for line in lines if line.get("key") == "header"), None)
        if header is None or not header.get("summary"):
            raise HubHTTPError(400, "A commit needs a header with a summary")
        directory = self.repo_dir(repo_type, repo_id)
        with self.lock(repo_type, repo_id):
            refs = self.refs(repo_type, repo_id)
            if revision not in refs["branches"]:
                raise HubHTTPError(404, f"Branch '{revision}' not found (commit to a branch)", "RevisionNotFound")
            head = refs["branches"][revision]
            parent = header.get("parentCommit")
            if parent and parent != head:
                raise HubHTTPError(412, f"A commit has happened since {parent}: the branch head is now {head}")
            tree = dict(self.commit(repo_type, repo_id, head)["tree"])
            for line in lines:
                self._apply_operation(tree, line)
            commit_id = self._write_commit(
                directory, [head], tree, header["summary"], header.get("description", ""), user
            )
            self.set_ref(repo_type, repo_id, "branches", revision, commit_id)
            return commit_id

    def _apply_operation(self, tree: dict, line: dict) -> None:
        key, value = line.get("key"), line.get("value") or {}
        path = str(value.get("path", "")).strip("/")
        if key == "header":
            return
        if not path or ".." in path.split("/"):
            raise HubHTTPError(400, f"Invalid path in commit: '{path}'")
        if key == "file":
            if value.get("encoding") != "base64":
                raise HubHTTPError(400, "Regular files must be sent base64-encoded")
            tree[path] = self._store_bytes(base64.b64decode(value["content"]), lfs=False)
        elif key == "lfsFile":
            sha256 = value.get("oid", "")
            blob = self.blob_path(sha256)
            if not blob.is_file():
                raise HubHTTPError(422, f"LFS object {sha256} for '{path}' was never uploaded")
            tree[path] = self._entry(sha256, blob.stat().st_size, None)
        elif key == "deletedFile":
            if path not in tree:
                raise HubHTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            del tree[path]
        elif key == "deletedFolder":
            doomed = [p for p in tree if p.startswith(path + "/")]
            if not doomed:
                raise HubHTTPError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
            for p in doomed:
                del tree[p]
        else:
            raise HubHTTPError(400, f"Unknown commit operation '{key}'")

    def upload_mode(self, tree: dict, path: str, size: int, sample: bytes) -> str:
        if size >= _LFS_THRESHOLD or b"\0" in sample:
            return "lfs"
        gitattributes = tree.get(".gitattributes")
        text = self.blob_path(gitattributes["sha256"]).read_text() if gitattributes else _DEFAULT_GITATTRIBUTES
        for line in text.splitlines():
            parts = line.split()
            if len(parts) > 1 and "filter=lfs" in parts[1:]:
                pattern = parts[0]
                target = path if "/" in pattern else path.rsplit("/", 1)[-1]
                if fnmatch.fnmatch(target, pattern):
                    return "lfs"
        return "regular"
