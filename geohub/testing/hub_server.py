"""A small Hugging Face Hub-compatible HTTP server for tests and air-gapped sites.

    python -m geohub.testing.hub_server --port 8765 --root /tmp/hub --user alice:hf_alice_token

It speaks the subset of the Hub protocol that the stock `huggingface_hub` 2.4 client and transformers use:
repositories (model and dataset) with git-like commit history, branches and tags, token auth with private
repositories, the preupload / LFS batch / commit upload protocol, `resolve` downloads with the headers the
client's cache needs (`X-Repo-Commit`, `ETag`, `X-Linked-Etag`, `X-Linked-Size`, byte ranges), and listings.

Storage (everything written through a temporary file and `os.replace`, so a crash never leaves half a commit):

    ROOT/blobs/<sha256>                              file contents, content-addressed
    ROOT/repos/<type>s/<namespace>/<name>/repo.json  visibility, creation date
    ROOT/repos/<type>s/<namespace>/<name>/refs.json  {"branches": {name: commit}, "tags": {name: commit}}
    ROOT/repos/<type>s/<namespace>/<name>/commits/<id>.json   parents, message, author, date, full file tree

A commit is applied under a per-repository lock and published by rewriting `refs.json` last, so concurrent
commits are serialised and an interrupted upload (LFS objects uploaded but no commit, or a dropped connection)
leaves every branch exactly as it was. This file imports only the standard library, FastAPI, uvicorn and PyYAML
so that it starts in well under a second (the test fixture runs it as a plain script).

Fault injection for integrity tests: `POST /_testing/faults {"path": ..., "mode": "flip"|"truncate", "count": n}`
(only when started with `--enable-faults`) serves the next `n` downloads of that file corrupted.
"""

from __future__ import annotations

import argparse
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
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

__all__ = ["HubStore", "create_app", "main"]

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


def _error_response(err: HubHTTPError) -> JSONResponse:
    headers = {"X-Error-Message": err.message}
    if err.code:
        headers["X-Error-Code"] = err.code
    return JSONResponse({"error": err.message}, status_code=err.status, headers=headers)


def _tree_listing(tree: dict, prefix: str, recursive: bool) -> list[dict]:
    prefix = prefix.strip("/")
    base = prefix + "/" if prefix else ""
    if prefix and prefix not in tree and not any(p.startswith(base) for p in tree):
        raise HubHTTPError(404, f"Folder '{prefix}' not found", "EntryNotFound")
    files, folders = [], set()
    for path in sorted(tree):
        if not path.startswith(base):
            continue
        rest = path[len(base) :]
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            if recursive or depth == 1:
                folders.add(base + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            files.append(_file_json(path, tree[path]))
    folder_json = [
        {"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0} for f in folders
    ]
    return sorted(folder_json, key=lambda x: x["path"]) + files


def _file_json(path: str, entry: dict) -> dict:
    out = {"type": "file", "path": path, "oid": entry["oid"], "size": entry["size"]}
    if entry["lfs"]:
        out["lfs"] = dict(entry["lfs"])
    return out


def _repo_type_from_plural(plural: str) -> str:
    if plural not in ("models", "datasets"):
        raise HubHTTPError(404, f"Unknown repository type '{plural}'")
    return plural[:-1]


def create_app(store: HubStore, *, enable_faults: bool = False) -> FastAPI:  # noqa: C901 - a route table
    """The FastAPI application serving `store`."""
    app = FastAPI(title="geohub test Hub", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(HubHTTPError)
    async def _hub_error(_request: Request, err: HubHTTPError):
        return _error_response(err)

    def user_of(request: Request) -> str | None:
        return store.user_for(request.headers.get("authorization"))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def repo_url(request: Request, repo_type: str, repo_id: str) -> str:
        return f"{base_url(request)}/{'datasets/' if repo_type == 'dataset' else ''}{repo_id}"

    def card_of(repo_type: str, repo_id: str, tree: dict) -> dict:
        entry = tree.get("README.md")
        if not entry:
            return {}
        try:
            return card_metadata(store.blob_path(entry["sha256"]).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return {}

    def info_json(request, repo_type, repo_id, user, revision=None, *, siblings=True, blobs=False) -> dict:
        meta = store.repo_meta(repo_type, repo_id, user)
        commit_id = store.resolve(repo_type, repo_id, revision or "main")
        commit = store.commit(repo_type, repo_id, commit_id)
        card = card_of(repo_type, repo_id, commit["tree"])
        tags = [str(t) for t in (card.get("tags") or [])]
        for key in ("library_name",):
            if card.get(key):
                tags.append(str(card[key]))
        if card.get("license"):
            tags.append(f"license:{card['license']}")
        datasets = card.get("datasets") or []
        tags += [f"dataset:{d}" for d in ([datasets] if isinstance(datasets, str) else datasets)]
        info = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": commit_id,
            "lastModified": commit["date"],
            "createdAt": meta["createdAt"],
            "private": meta["private"],
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags,
            "cardData": card or None,
        }
        if repo_type == "model":
            info["library_name"] = card.get("library_name")
            info["pipeline_tag"] = card.get("pipeline_tag")
            if card.get("model-index"):
                info["model-index"] = card["model-index"]
        if siblings:
            info["siblings"] = []
            for path, entry in sorted(commit["tree"].items()):
                sibling = {"rfilename": path}
                if blobs:
                    sibling.update(size=entry["size"], blobId=entry["oid"])
                    if entry["lfs"]:
                        lfs = entry["lfs"]
                        sibling["lfs"] = {"size": lfs["size"], "sha256": lfs["oid"], "pointerSize": lfs["pointerSize"]}
                info["siblings"].append(sibling)
        return info

    # -- account, validation, misc ------------------------------------------------------------------------------
    @app.get("/api/whoami-v2")
    def whoami(request: Request):
        user = user_of(request)
        if user is None:
            raise HubHTTPError(401, "Invalid credentials in Authorization header")
        return {"type": "user", "id": user, "name": user, "fullname": user, "orgs": [], "isPro": False,
                "auth": {"type": "access_token", "accessToken": {"displayName": "geohub-test", "role": "write"}}}  # fmt: skip

    @app.get("/api/agent-harnesses")
    def agent_harnesses():
        return JSONResponse({"error": "no agent harness registry on this server"}, status_code=404)

    @app.post("/api/validate-yaml")
    async def validate_yaml(request: Request):
        body = await request.json()
        try:
            card_metadata(body.get("content", ""))
        except yaml.YAMLError as err:
            return JSONResponse({"errors": [{"message": f"Invalid YAML metadata: {err}"}]}, status_code=400)
        return {"errors": [], "warnings": []}

    # -- repository lifecycle -----------------------------------------------------------------------------------
    @app.post("/api/repos/create")
    async def create_repo(request: Request):
        body = await request.json()
        user = user_of(request)
        repo_type = body.get("type") or "model"
        namespace = body.get("organization") or user or ""
        repo_id = f"{namespace}/{body.get('name', '')}"
        private = body.get("visibility") == "private" or bool(body.get("private"))
        if repo_type not in REPO_TYPES:
            raise HubHTTPError(400, f"This server only hosts {', '.join(REPO_TYPES)} repositories")
        try:
            store.create_repo(repo_type, repo_id, user, private)
        except HubHTTPError as err:
            if err.status != 409:
                raise
            # like the Hub, the conflict answer carries the url (create_repo(exist_ok=True) reads it)
            body = {"error": err.message, "url": repo_url(request, repo_type, repo_id)}
            return JSONResponse(body, 409, headers={"X-Error-Message": err.message})
        return {"url": repo_url(request, repo_type, repo_id), "name": repo_id, "id": repo_id}

    @app.api_route("/api/repos/delete", methods=["DELETE", "POST"])
    async def delete_repo(request: Request):
        body = await request.json()
        user = user_of(request)
        repo_id = f"{body.get('organization') or user or ''}/{body.get('name', '')}"
        store.delete_repo(body.get("type") or "model", repo_id, user)
        return {}

    @app.put("/api/{plural}/{namespace}/{name}/settings")
    async def settings(plural: str, namespace: str, name: str, request: Request):
        body = await request.json()
        private = body.get("visibility") == "private" if "visibility" in body else body.get("private")
        if private is not None:
            store.set_private(_repo_type_from_plural(plural), f"{namespace}/{name}", user_of(request), bool(private))
        return {}

    @app.get("/api/{plural}")
    def list_repos(plural: str, request: Request):
        repo_type = _repo_type_from_plural(plural)
        user = user_of(request)
        params = request.query_params
        wanted = params.getlist("filter") + params.getlist("tags")
        out = []
        for repo_id in store.list_repos(repo_type, user):
            if params.get("author") and repo_id.split("/")[0] != params["author"]:
                continue
            if params.get("search") and params["search"].lower() not in repo_id.lower():
                continue
            info = info_json(request, repo_type, repo_id, user, siblings=bool(params.get("full")))
            if all(tag in info["tags"] for tag in wanted):
                out.append(info)
        limit = params.get("limit")
        return out[: int(limit)] if limit else out

    @app.get("/api/{plural}/{namespace}/{name}")
    def repo_info(plural: str, namespace: str, name: str, request: Request):
        blobs = request.query_params.get("blobs") in ("1", "True", "true")
        return info_json(request, _repo_type_from_plural(plural), f"{namespace}/{name}", user_of(request), blobs=blobs)

    @app.get("/api/{plural}/{namespace}/{name}/revision/{revision}")
    def repo_info_revision(plural: str, namespace: str, name: str, revision: str, request: Request):
        blobs = request.query_params.get("blobs") in ("1", "True", "true")
        repo_type = _repo_type_from_plural(plural)
        return info_json(request, repo_type, f"{namespace}/{name}", user_of(request), revision, blobs=blobs)

    # -- trees ------------------------------------------------------------------------------------------------
    def tree_at(plural, namespace, name, revision, request) -> tuple[str, str, dict]:
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request))
        commit_id = store.resolve(repo_type, repo_id, revision)
        return repo_type, repo_id, store.commit(repo_type, repo_id, commit_id)["tree"]

    @app.get("/api/{plural}/{namespace}/{name}/tree/{revision}")
    def tree_root(plural: str, namespace: str, name: str, revision: str, request: Request):
        _, _, tree = tree_at(plural, namespace, name, revision, request)
        return _tree_listing(tree, "", request.query_params.get("recursive") in ("1", "True", "true"))

    @app.get("/api/{plural}/{namespace}/{name}/tree/{revision}/{path:path}")
    def tree_path(plural: str, namespace: str, name: str, revision: str, path: str, request: Request):
        _, _, tree = tree_at(plural, namespace, name, revision, request)
        return _tree_listing(tree, path, request.query_params.get("recursive") in ("1", "True", "true"))

    @app.post("/api/{plural}/{namespace}/{name}/paths-info/{revision}")
    async def paths_info(plural: str, namespace: str, name: str, revision: str, request: Request):
        _, _, tree = tree_at(plural, namespace, name, revision, request)
        form = await request.form()
        out = []
        for path in form.getlist("paths"):
            path = str(path).strip("/")
            if path in tree:
                out.append(_file_json(path, tree[path]))
            elif any(p.startswith(path + "/") for p in tree):
                out.append({"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()})
        return out

    @app.get("/api/{plural}/{namespace}/{name}/refs")
    def list_refs(plural: str, namespace: str, name: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request))
        refs = store.refs(repo_type, repo_id)

        def rows(kind: str, prefix: str) -> list[dict]:
            items = sorted(refs[kind].items())
            return [{"name": n, "ref": f"refs/{prefix}/{n}", "targetCommit": c} for n, c in items]

        return {"branches": rows("branches", "heads"), "tags": rows("tags", "tags"), "converts": [],
                "pullRequests": []}  # fmt: skip

    @app.get("/api/{plural}/{namespace}/{name}/commits/{revision}")
    def list_commits(plural: str, namespace: str, name: str, revision: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request))
        history = store.history(repo_type, repo_id, store.resolve(repo_type, repo_id, revision))
        return [{"id": c["id"], "title": c["title"], "message": c["message"], "date": c["date"],
                 "authors": [{"user": c["author"]}]} for c in history]  # fmt: skip

    # -- branches and tags --------------------------------------------------------------------------------------
    @app.post("/api/{plural}/{namespace}/{name}/branch/{branch}")
    async def create_branch(plural: str, namespace: str, name: str, branch: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        body = await request.json() if await request.body() else {}
        with store.lock(repo_type, repo_id):
            refs = store.refs(repo_type, repo_id)
            if branch in refs["branches"] or branch in refs["tags"]:
                raise HubHTTPError(409, f"Reference '{branch}' already exists")
            if not _NAME_RE.match(branch):
                raise HubHTTPError(400, f"Invalid branch name '{branch}'")
            target = store.resolve(repo_type, repo_id, body.get("startingPoint") or "main")
            store.set_ref(repo_type, repo_id, "branches", branch, target)
        return {}

    @app.delete("/api/{plural}/{namespace}/{name}/branch/{branch}")
    def delete_branch(plural: str, namespace: str, name: str, branch: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        with store.lock(repo_type, repo_id):
            if branch == "main" or branch not in store.refs(repo_type, repo_id)["branches"]:
                raise HubHTTPError(404 if branch != "main" else 403, f"Cannot delete branch '{branch}'")
            store.set_ref(repo_type, repo_id, "branches", branch, None)
        return {}

    @app.post("/api/{plural}/{namespace}/{name}/tag/{revision}")
    async def create_tag(plural: str, namespace: str, name: str, revision: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        tag = (await request.json()).get("tag", "")
        with store.lock(repo_type, repo_id):
            refs = store.refs(repo_type, repo_id)
            if tag in refs["tags"] or tag in refs["branches"]:
                raise HubHTTPError(409, f"Reference '{tag}' already exists")
            if not _NAME_RE.match(tag):
                raise HubHTTPError(400, f"Invalid tag name '{tag}'")
            store.set_ref(repo_type, repo_id, "tags", tag, store.resolve(repo_type, repo_id, revision))
        return {}

    @app.delete("/api/{plural}/{namespace}/{name}/tag/{tag}")
    def delete_tag(plural: str, namespace: str, name: str, tag: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        with store.lock(repo_type, repo_id):
            if tag not in store.refs(repo_type, repo_id)["tags"]:
                raise HubHTTPError(404, f"Tag '{tag}' not found", "RevisionNotFound")
            store.set_ref(repo_type, repo_id, "tags", tag, None)
        return {}

    # -- uploads ------------------------------------------------------------------------------------------------
    @app.post("/api/{plural}/{namespace}/{name}/preupload/{revision}")
    async def preupload(plural: str, namespace: str, name: str, revision: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        body = await request.json()
        refs = store.refs(repo_type, repo_id)
        head = refs["branches"].get(revision) or refs["branches"]["main"]
        tree = store.commit(repo_type, repo_id, head)["tree"]
        files = []
        for item in body.get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            mode = store.upload_mode(tree, item["path"], int(item.get("size", 0)), sample)
            existing = tree.get(item["path"])
            oid = None
            if existing is not None:
                oid = existing["sha256"] if mode == "lfs" else existing["oid"]
            files.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return {"files": files, "commitOid": head}

    async def lfs_batch(repo_type: str, namespace: str, name_git: str, request: Request):
        if not name_git.endswith(".git"):
            raise HubHTTPError(404, "Not found")
        repo_id = f"{namespace}/{name_git[:-4]}"
        store.repo_meta(repo_type, repo_id, user_of(request), write=True)
        body = await request.json()
        if body.get("operation") != "upload":
            raise HubHTTPError(400, "Only LFS uploads are supported by this server")
        objects = []
        for obj in body.get("objects", []):
            oid, size = str(obj["oid"]), int(obj["size"])
            answer: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            blob = store.blob_path(oid)
            if not (blob.is_file() and blob.stat().st_size == size):
                ticket = secrets.token_urlsafe(24)
                store.upload_tickets[ticket] = (oid, size, time.time() + 3600)
                href = f"{base_url(request)}/_lfs/upload/{ticket}"
                answer["actions"] = {
                    "upload": {"href": href, "header": {}},
                    "verify": {"href": f"{base_url(request)}/_lfs/verify", "header": {}},
                }
            objects.append(answer)
        return JSONResponse(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            media_type="application/vnd.git-lfs+json",
        )

    @app.post("/datasets/{namespace}/{name_git}/info/lfs/objects/batch")
    async def lfs_batch_dataset(namespace: str, name_git: str, request: Request):
        return await lfs_batch("dataset", namespace, name_git, request)

    @app.post("/{namespace}/{name_git}/info/lfs/objects/batch")
    async def lfs_batch_model(namespace: str, name_git: str, request: Request):
        return await lfs_batch("model", namespace, name_git, request)

    @app.put("/_lfs/upload/{ticket}")
    async def lfs_upload(ticket: str, request: Request):
        await store.receive_lfs(ticket, request.stream())
        return Response(status_code=200)

    @app.post("/_lfs/verify")
    async def lfs_verify(request: Request):
        body = await request.json()
        blob = store.blob_path(str(body.get("oid", "")))
        if not blob.is_file() or blob.stat().st_size != int(body.get("size", -1)):
            raise HubHTTPError(404, "LFS object not found")
        return {}

    @app.post("/api/{plural}/{namespace}/{name}/commit/{revision}")
    async def commit(plural: str, namespace: str, name: str, revision: str, request: Request):
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        user = user_of(request)
        store.repo_meta(repo_type, repo_id, user, write=True)
        if request.query_params.get("create_pr") == "1":
            raise HubHTTPError(400, "Pull requests are not supported by this server")
        raw = await request.body()
        try:
            lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HubHTTPError(400, f"Malformed ndjson commit payload: {err}") from err
        commit_id = store.apply_commit(repo_type, repo_id, revision, user, lines)
        return {"success": True, "commitOid": commit_id, "pullRequestUrl": None,
                "commitUrl": f"{repo_url(request, repo_type, repo_id)}/commit/{commit_id}"}  # fmt: skip

    # -- downloads --------------------------------------------------------------------------------------------
    def resolve_file(repo_type: str, namespace: str, name: str, revision: str, path: str, request: Request):
        repo_id = f"{namespace}/{name}"
        store.repo_meta(repo_type, repo_id, user_of(request))
        commit_id = store.resolve(repo_type, repo_id, revision)
        entry = store.commit(repo_type, repo_id, commit_id)["tree"].get(path)
        if entry is None:
            raise HubHTTPError(404, f"Entry not found: {path}", "EntryNotFound")
        headers = {"X-Repo-Commit": commit_id, "Accept-Ranges": "bytes"}
        if entry["lfs"]:
            headers.update({"ETag": f'"{entry["sha256"]}"', "X-Linked-Etag": f'"{entry["sha256"]}"',
                            "X-Linked-Size": str(entry["size"])})  # fmt: skip
        else:
            headers["ETag"] = f'"{entry["oid"]}"'
        blob = store.blob_path(entry["sha256"])
        faults = store.faults.get(path)
        if faults and request.method == "GET":
            data = blob.read_bytes()
            mode = faults.pop(0)
            data = data[: len(data) // 2] if mode == "truncate" else bytes([data[0] ^ 0xFF]) + data[1:]
            return Response(data, headers=headers, media_type="application/octet-stream")
        return FileResponse(blob, headers=headers, media_type="application/octet-stream")

    @app.api_route("/datasets/{namespace}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
    def resolve_dataset(namespace: str, name: str, revision: str, path: str, request: Request):
        return resolve_file("dataset", namespace, name, revision, path, request)

    @app.api_route("/{namespace}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
    def resolve_model(namespace: str, name: str, revision: str, path: str, request: Request):
        return resolve_file("model", namespace, name, revision, path, request)

    if enable_faults:

        @app.post("/_testing/faults")
        async def add_fault(request: Request):
            body = await request.json()
            store.faults.setdefault(body["path"], []).extend([body.get("mode", "flip")] * int(body.get("count", 1)))
            return {}

    return app


def _parse_users(values: list[str], root: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    users_file = root / "users.json"
    if users_file.is_file():  # {"alice": "hf_token", ...}
        users.update({token: name for name, token in json.loads(users_file.read_text()).items()})
    for value in values:
        name, sep, token = value.partition(":")
        if not sep or not name or not token:
            raise SystemExit(f"--user expects NAME:TOKEN, got '{value}'")
        users[token] = name
    return users


def main(argv: list[str] | None = None) -> None:
    """Run the server: `python -m geohub.testing.hub_server --port P --root DIR [--user NAME:TOKEN ...]`."""
    import uvicorn

    parser = argparse.ArgumentParser(description="A Hugging Face Hub-compatible server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--root", required=True, help="folder holding the repositories and blobs")
    parser.add_argument("--user", action="append", default=[], help="NAME:TOKEN (repeatable); or ROOT/users.json")
    parser.add_argument("--enable-faults", action="store_true", help="serve POST /_testing/faults (tests only)")
    parser.add_argument("--upload-delay", type=float, default=0.0, help="seconds per LFS chunk (tests only)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    store = HubStore(root, _parse_users(args.user, root), upload_delay=args.upload_delay)
    app = create_app(store, enable_faults=args.enable_faults)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
