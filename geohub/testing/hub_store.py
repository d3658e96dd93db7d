"""Storage of geohub's test Hub server: repositories, commits, refs and content-addressed blobs on disk.

    ROOT/blobs/<sha256>                              file contents, content-addressed
    ROOT/blobrefs/<sha256>.json                      the repositories that hold (or were sent) that blob
    ROOT/tmp/                                        in-flight LFS uploads (`lfs-*.part`), deleted repositories
    ROOT/repos/<type>s/<namespace>/<name>/repo.json  visibility, creation date
    ROOT/repos/<type>s/<namespace>/<name>/refs.json  {"branches": {name: commit}, "tags": {name: commit}}
    ROOT/repos/<type>s/<namespace>/<name>/commits/<id>.json   parents, message, author, date, full file tree

Every file is written through a temporary file and `os.replace`; a commit is validated whole, then written, and
published by rewriting `refs.json` last, under a per-repository lock. Standard library + PyYAML only.

Access control: blobs are shared between repositories (content-addressed), so a commit may only reference a
blob that the committing user can read: one held by a repository visible to them, or one they uploaded (sent
the bytes of) for this repository. Knowing a sha256 is not enough. `Limits` bound file, commit and repository
sizes; they are checked on the declared sizes first and again while bytes stream in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
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

try:  # imported as part of the geohub package
    from ..atomic import atomic_write_bytes
except ImportError:  # the server runs as a script without geohub's dependencies: load the stdlib-only module by path
    import importlib.util as _importlib_util

    _spec = _importlib_util.spec_from_file_location("geohub_atomic", Path(__file__).resolve().parents[1] / "atomic.py")
    _atomic = _importlib_util.module_from_spec(_spec)
    _spec.loader.exec_module(_atomic)
    atomic_write_bytes = _atomic.atomic_write_bytes

__all__ = ["HubStore", "HubHTTPError", "Limits", "card_metadata", "check_repo_path", "parse_size", "REPO_TYPES"]

REPO_TYPES = ("model", "dataset")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
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


_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
               "G": 1024**3, "GB": 1024**3, "GIB": 1024**3, "T": 1024**4, "TB": 1024**4, "TIB": 1024**4}  # fmt: skip
_FORBIDDEN_SEGMENTS = (".git", ".cache")  # the stock client refuses to commit under these folders
_MAX_PATH_LENGTH = 1024


def parse_size(text: str | int) -> int:
    """`"10M"`, `"1.5 GiB"`, `"4096"` -> bytes (binary units). Raises ValueError on anything else."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if not match or match.group(2).upper() not in _SIZE_UNITS:
        raise ValueError(f"not a size: '{text}' (expected e.g. 4096, 10M, 2G)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


@dataclasses.dataclass(frozen=True)
class Limits:
    """Size limits in bytes: one file, the new files of one commit, a branch's whole tree."""

    max_file_size: int = 50 * 1024**3  # the Hub's own per-file limit
    max_commit_size: int = 100 * 1024**3
    max_repo_size: int = 1024**4
    max_request_body: int = 16 * 1024**2  # JSON requests (repo creation, LFS batch, paths-info ...)
    max_lfs_objects: int = 1000  # objects per LFS batch request (huggingface_hub sends at most 256)
    max_upload_tickets: int = 100_000  # unexpired upload tickets held by the server, all repositories together


def check_repo_path(path: object) -> str:
    """A file name inside a repository, as the stock client would send it; HubHTTPError(400) otherwise.

    Refuses what `huggingface_hub` refuses to commit or to materialise on disk: a leading `/`, `.`/`..` or empty
    segments (`./x`, `a//b`, `a/../b`), backslashes (`..\\..\\x` is a traversal on Windows), drive letters,
    control characters (NUL), `.git`/`.cache` folders and over-long names.
    """
    if not isinstance(path, str) or not path:
        raise HubHTTPError(400, f"Invalid path in commit: {path!r} (expected a non-empty string)")
    reason = None
    if len(path) > _MAX_PATH_LENGTH:
        reason = f"longer than {_MAX_PATH_LENGTH} characters"
    elif any(ord(c) < 32 or ord(c) == 127 for c in path):
        reason = "contains a control character"
    elif "\\" in path:
        reason = "contains a backslash"
    elif path.startswith("/"):
        reason = "is absolute (leading '/')"
    elif re.match(r"^[A-Za-z]:", path):
        reason = "starts with a drive letter"
    else:
        for part in path.split("/"):
            if part in ("", ".", ".."):
                reason = f"has a '{part}' segment" if part else "has an empty segment ('//' or a trailing '/')"
                break
            if part in _FORBIDDEN_SEGMENTS:
                reason = f"is inside a '{part}' folder"
                break
    if reason:
        raise HubHTTPError(400, f"Invalid path in commit: {path!r} {reason}", "InvalidPath")
    return path


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


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

    def __init__(
        self,
        root: str | os.PathLike,
        users: dict[str, str],
        upload_delay: float = 0.0,
        *,
        limits: Limits | None = None,
        admin_tokens: tuple[str, ...] = (),
    ):
        self.root = Path(root)
        self.users = dict(users)  # token -> user name
        self.admin_tokens = tuple(t for t in admin_tokens if t)
        self.limits = limits or Limits()
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._refs_guard = threading.Lock()
        self.upload_tickets: dict[str, tuple[str, int, float, str]] = {}  # ticket -> (sha256, size, expiry, repo)
        self._tickets_guard = threading.Lock()
        self.faults: dict[tuple[str, str, str], list[str]] = {}  # (type, repo id, path) -> pending fault modes
        self.upload_delay = upload_delay  # seconds slept per received LFS chunk (tests of interrupted uploads)
        if not (self.root / "blobrefs").is_dir():
            self._index_existing_blobs()

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

    def is_admin(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and any(secrets.compare_digest(token.strip(), t) for t in self.admin_tokens)

    # -- repositories -------------------------------------------------------------------------------------------
    def repo_dir(self, repo_type: str, repo_id: str) -> Path:
        namespace, _, name = repo_id.partition("/")
        if repo_type not in REPO_TYPES or not NAME_RE.match(namespace) or not NAME_RE.match(name):
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
            self.add_blob_refs(f"{repo_type}/{repo_id}", [tree[".gitattributes"]["sha256"]])
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

    # -- who may read which blob --------------------------------------------------------------------------------
    def _blobref_path(self, sha256: str) -> Path:
        self.blob_path(sha256)  # validates the oid
        return self.root / "blobrefs" / f"{sha256}.json"

    def add_blob_refs(self, repo_key: str, sha256s) -> None:
        """Record that the repository `repo_key` ("model/alice/x") holds or was sent the blobs `sha256s`."""
        with self._refs_guard:
            for sha256 in set(sha256s):
                path = self._blobref_path(sha256)
                repos = json.loads(path.read_text()) if path.is_file() else []
                if repo_key not in repos:
                    _write_json(path, sorted([*repos, repo_key]))

    def may_read_blob(self, sha256: str, user: str | None) -> bool:
        """Whether `user` can read some repository holding the blob (a private one only if it is theirs)."""
        path = self._blobref_path(sha256)
        if not path.is_file() or not self.blob_path(sha256).is_file():
            return False
        for repo_key in json.loads(path.read_text()):
            repo_type, _, repo_id = repo_key.partition("/")
            try:
                self.repo_meta(repo_type, repo_id, user)
                return True
            except HubHTTPError:
                continue
        return False

    def _index_existing_blobs(self) -> None:
        """Build ROOT/blobrefs from every commit (a server root written by an older version)."""
        for commit_path in sorted((self.root / "repos").glob("*s/*/*/commits/*.json")):
            repo_dir = commit_path.parent.parent
            repo_key = f"{repo_dir.parent.parent.name[:-1]}/{repo_dir.parent.name}/{repo_dir.name}"
            tree = json.loads(commit_path.read_text()).get("tree", {})
            self.add_blob_refs(repo_key, [entry["sha256"] for entry in tree.values()])
        (self.root / "blobrefs").mkdir(parents=True, exist_ok=True)

    # -- blobs --------------------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HubHTTPError(400, f"Invalid sha256 oid '{sha256}'")
        return self.root / "blobs" / sha256

    def _store_bytes(self, data: bytes, *, lfs: bool) -> dict:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha256)
        if not path.is_file():
            atomic_write_bytes(path, data)
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

    def lfs_tickets(self, repo_type: str, repo_id: str, objects: list[tuple[str, int]]) -> list[str]:
        """One-hour upload tickets for the objects `(sha256, size)` of one batch request (sizes already checked).

        Expired tickets are dropped once per batch (not once per object); 429 when the server would hold more than
        `limits.max_upload_tickets` unexpired tickets, so that no client can grow this table without bound."""
        now = time.time()
        with self._tickets_guard:
            if len(self.upload_tickets) + len(objects) > self.limits.max_upload_tickets:
                self.upload_tickets = {k: v for k, v in self.upload_tickets.items() if v[2] > now}
            if len(self.upload_tickets) + len(objects) > self.limits.max_upload_tickets:
                raise HubHTTPError(429, f"The server holds {len(self.upload_tickets)} pending LFS uploads (limit "
                                        f"{self.limits.max_upload_tickets}); retry later", "TooManyUploads")  # fmt: skip
            tickets = [secrets.token_urlsafe(24) for _ in objects]
            key = f"{repo_type}/{repo_id}"
            for ticket, (sha256, size) in zip(tickets, objects):
                self.upload_tickets[ticket] = (sha256, size, now + 3600, key)
        return tickets

    def lfs_ticket(self, repo_type: str, repo_id: str, sha256: str, size: int) -> str:
        """A one-hour upload ticket for one object (see `lfs_tickets`)."""
        return self.lfs_tickets(repo_type, repo_id, [(sha256, size)])[0]

    async def receive_lfs(self, ticket: str, stream_chunks, declared_length: int | None = None) -> None:
        """Stream an LFS object into `tmp/lfs-*.part`; keep it only if its sha256 and size match the batch request.

        Stops with 413 as soon as the body is (declared or received) longer than the batch request announced.
        A dropped connection (or any error) deletes the partial file: nothing half-uploaded is ever stored.
        """
        expected = self.upload_tickets.get(ticket)
        if expected is None or expected[2] < time.time():
            raise HubHTTPError(403, "Upload URL expired or unknown")
        sha256, size, _, repo_key = expected
        if declared_length is not None and declared_length > size:
            raise HubHTTPError(413, f"Upload of {declared_length} bytes for an object announced as {size} bytes")
        fd, tmp = tempfile.mkstemp(prefix="lfs-", suffix=".part", dir=self.root / "tmp")
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in stream_chunks:
                    received += len(chunk)
                    if received > size:
                        raise HubHTTPError(413, f"Upload is longer than the {size} bytes announced for {sha256}")
                    digest.update(chunk)
                    handle.write(chunk)
                    if self.upload_delay:
                        handle.flush()
                        await asyncio.sleep(self.upload_delay)  # a slow link, for interruption tests
                handle.flush()
                os.fsync(handle.fileno())
            if received != size or digest.hexdigest() != sha256:
                raise HubHTTPError(400, f"Uploaded object does not match oid {sha256} and size {size}")
            if not self.blob_path(sha256).is_file():
                os.replace(tmp, self.blob_path(sha256))
            self.add_blob_refs(repo_key, [sha256])  # the uploader proved they hold the bytes
            self.upload_tickets.pop(ticket, None)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    # -- the commit endpoint ------------------------------------------------------------------------------------
    def apply_commit(self, repo_type: str, repo_id: str, revision: str, user: str, lines: list) -> str:
        """Validate every operation (paths, blob access, sizes), then write one commit and move the branch.

        All or nothing: any invalid operation refuses the whole commit and leaves the branch as it was.
        """
        if not all(isinstance(line, dict) and isinstance(line.get("value"), dict) for line in lines):
            raise HubHTTPError(400, 'Every commit payload line must be an object {"key": ..., "value": {...}}')
        header = next((line["value"] for line in lines if line.get("key") == "header"), None)
        if header is None or not isinstance(header.get("summary"), str) or not header["summary"]:
            raise HubHTTPError(400, "A commit needs a header with a summary (a string)")
        description = header.get("description") or ""
        if not isinstance(description, str):
            raise HubHTTPError(400, "The commit description must be a string")
        operations = [self._parse_operation(line, user) for line in lines if line.get("key") != "header"]
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
            added = 0
            for kind, path, payload in operations:
                added += self._apply_operation(tree, kind, path, payload)
            self._check_sizes(added, tree)
            for kind, _path, payload in operations:
                if kind == "file":
                    self._store_bytes(payload, lfs=False)
            self.add_blob_refs(f"{repo_type}/{repo_id}", [entry["sha256"] for entry in tree.values()])
            commit_id = self._write_commit(directory, [head], tree, header["summary"], description, user)
            self.set_ref(repo_type, repo_id, "branches", revision, commit_id)
            return commit_id

    def _check_sizes(self, added: int, tree: dict) -> None:
        if added > self.limits.max_commit_size:
            raise HubHTTPError(413, f"Commit adds {added} bytes, over this server's commit limit of "
                                    f"{self.limits.max_commit_size} bytes", "CommitTooLarge")  # fmt: skip
        total = sum(entry["size"] for entry in tree.values())
        if total > self.limits.max_repo_size:
            raise HubHTTPError(413, f"The repository would hold {total} bytes, over this server's limit of "
                                    f"{self.limits.max_repo_size} bytes", "RepoTooLarge")  # fmt: skip

    def _parse_operation(self, line: dict, user: str) -> tuple[str, str, Any]:
        """One payload line -> (kind, path, bytes | (sha256, size) | None), validated before anything is applied."""
        key, value = line.get("key"), line["value"]
        if key not in ("file", "lfsFile", "deletedFile", "deletedFolder"):
            raise HubHTTPError(400, f"Unknown commit operation {key!r}")
        path = value.get("path")
        if key == "deletedFolder" and isinstance(path, str) and path.endswith("/"):
            path = path[:-1]  # the stock client marks folders with a trailing '/'
        path = check_repo_path(path)
        if key == "file":
            content = value.get("content")
            if value.get("encoding") != "base64" or not isinstance(content, str):
                raise HubHTTPError(400, f"'{path}': regular files must be sent as a base64 string")
            if len(content) > self.limits.max_file_size * 4 // 3 + 4:
                raise HubHTTPError(413, f"'{path}' is over this server's file limit", "FileTooLarge")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError) as err:
                raise HubHTTPError(400, f"'{path}': content is not valid base64 ({err})") from None
            self._check_file_size(path, len(data))
            return key, path, data
        if key == "lfsFile":
            sha256, size = value.get("oid"), value.get("size")
            if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise HubHTTPError(400, f"'{path}': 'oid' must be a sha256 (64 lowercase hex digits)")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise HubHTTPError(400, f"'{path}': 'size' must be a non-negative integer")
            if not self.may_read_blob(sha256, user):  # never uploaded here, or only readable by someone else
                raise HubHTTPError(422, f"LFS object {sha256} for '{path}' was never uploaded to this repository")
            actual = self.blob_path(sha256).stat().st_size
            if size is not None and size != actual:
                raise HubHTTPError(400, f"'{path}': declared size {size} differs from the object's {actual} bytes")
            self._check_file_size(path, actual)
            return key, path, (sha256, actual)
        return key, path, None

    def _check_file_size(self, path: str, size: int) -> None:
        if size > self.limits.max_file_size:
            raise HubHTTPError(413, f"'{path}' has {size} bytes, over this server's file limit of "
                                    f"{self.limits.max_file_size} bytes", "FileTooLarge")  # fmt: skip

    def _apply_operation(self, tree: dict, kind: str, path: str, payload: Any) -> int:
        """Apply one validated operation to `tree`; returns the bytes it adds."""
        if kind == "file":
            entry = self._entry(hashlib.sha256(payload).hexdigest(), len(payload), payload)
        elif kind == "lfsFile":
            entry = self._entry(payload[0], payload[1], None)
        elif kind == "deletedFile":
            if path not in tree:
                raise HubHTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            del tree[path]
            return 0
        else:
            doomed = [p for p in tree if p.startswith(path + "/")]
            if not doomed:
                raise HubHTTPError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
            for p in doomed:
                del tree[p]
            return 0
        if path in tree and tree[path]["sha256"] == entry["sha256"]:
            return 0
        if any(p.startswith(path + "/") for p in tree) or any(path.startswith(p + "/") for p in tree):
            raise HubHTTPError(409, f"'{path}' conflicts with an existing file or folder of the same name")
        tree[path] = entry
        return entry["size"]

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
