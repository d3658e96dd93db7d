"""A small Hugging Face Hub-compatible HTTP server for tests and air-gapped sites.

    python -m geohub.testing.hub_server --port 8765 --root /tmp/hub --user alice:hf_alice_token

It speaks the subset of the Hub protocol that the stock `huggingface_hub` 2.4 client and transformers use:
repositories (model and dataset) with git-like commit history, branches and tags, token auth with private
repositories, the preupload / LFS batch / commit upload protocol, `resolve` downloads with the headers the
client's cache needs (`X-Repo-Commit`, `ETag`, `X-Linked-Etag`, `X-Linked-Size`, byte ranges), and listings.

Storage (`geohub/testing/hub_store.py`; everything written through a temporary file and `os.replace`, so a crash
never leaves half a commit):

    ROOT/blobs/<sha256>                              file contents, content-addressed
    ROOT/repos/<type>s/<namespace>/<name>/repo.json  visibility, creation date
    ROOT/repos/<type>s/<namespace>/<name>/refs.json  {"branches": {name: commit}, "tags": {name: commit}}
    ROOT/repos/<type>s/<namespace>/<name>/commits/<id>.json   parents, message, author, date, full file tree

A commit is applied under a per-repository lock and published by rewriting `refs.json` last, so concurrent
commits are serialised and an interrupted upload (LFS objects uploaded but no commit, or a dropped connection)
leaves every branch exactly as it was. These files import only the standard library, FastAPI, uvicorn and PyYAML
so that the server starts in about a second (the test fixture runs it as a plain script, without importing geohub).

Limits (`--max-file-size 5G --max-commit-size 20G --max-repo-size 100G`) are checked on declared sizes (LFS
batch requests, `Content-Length`) before a byte is stored, and again while the body streams in. One LFS batch holds
at most `--max-lfs-objects` (1000) objects and the server at most `--max-upload-tickets` (100,000) pending uploads
(413 / 429 before any work); a batch is answered in a worker thread, so other clients are served meanwhile. Every malformed
request is answered 4xx with a JSON `{"error": ...}`; blobs are only attached to a commit by a user who may read
them (see hub_store.py).

Fault injection for integrity tests, only when started with `--enable-faults --admin-token T` and only for that
token: `POST /_testing/faults {"repo_id": ..., "repo_type": "model", "path": ..., "mode": "flip"|"truncate",
"count": n}` serves the next `n` downloads of that file corrupted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

try:  # `python -m geohub.testing.hub_server`
    from .hub_store import (
        NAME_RE,
        REPO_TYPES,
        HubHTTPError,
        HubStore,
        Limits,
        card_metadata,
        check_repo_path,
        parse_size,
    )
except ImportError:  # `python geohub/testing/hub_server.py`: a plain script, without importing geohub (fast start)
    from hub_store import (
        NAME_RE,
        REPO_TYPES,
        HubHTTPError,
        HubStore,
        Limits,
        card_metadata,
        check_repo_path,
        parse_size,
    )

__all__ = ["HubStore", "Limits", "create_app", "main"]

_log = logging.getLogger("geohub.testing.hub_server")


def _error_response(err: HubHTTPError) -> JSONResponse:
    headers = {"X-Error-Message": err.message}
    if err.code:
        headers["X-Error-Code"] = err.code
    if err.status == 413:  # close the connection: the client stops sending the rest of an oversized body
        headers["Connection"] = "close"
    return JSONResponse({"error": err.message}, status_code=err.status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is (declared or received) longer than `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HubHTTPError(400, f"Invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise HubHTTPError(413, f"Request body of {declared} bytes is over this server's limit of {limit} bytes")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HubHTTPError(413, f"Request body is over this server's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_object(request: Request, limit: int, *, optional: bool = False) -> dict:
    """The body as a JSON object; 400 for anything else (not JSON, not UTF-8, a list, ...)."""
    raw = await _read_body(request, limit)
    if optional and not raw.strip():
        return {}
    try:  # a large body (an LFS batch of many objects) is parsed in a worker thread: other clients go on
        body = json.loads(raw) if len(raw) < 65536 else await run_in_threadpool(json.loads, raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HubHTTPError(400, f"Request body is not valid JSON: {err}") from None
    except RecursionError:  # e.g. 100,000 nested '[': the parser's depth, not a server fault
        raise HubHTTPError(400, "Request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise HubHTTPError(400, f"Request body must be a JSON object, got {type(body).__name__}")
    return body


def _field(body: dict, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """`body[key]` checked against `kind` (400 naming the field otherwise); `default` when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise HubHTTPError(400, f"Field '{key}' must be a {names}, got {type(value).__name__}")
    return value


def _size_field(body: dict, key: str = "size") -> int:
    size = _field(body, key, int)
    if size is None or size < 0:
        raise HubHTTPError(400, f"Field '{key}' must be a non-negative integer")
    return size


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


class _HubRoutes:
    """The server's routes in groups; `create_app` registers them in order (FastAPI matches in order)."""

    def __init__(self, store: HubStore):
        self.store = store

    def user_of(self, request: Request) -> str | None:
        return self.store.user_for(request.headers.get("authorization"))

    def base_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def repo_url(self, request: Request, repo_type: str, repo_id: str) -> str:
        return f"{self.base_url(request)}/{'datasets/' if repo_type == 'dataset' else ''}{repo_id}"

    def card_of(self, repo_type: str, repo_id: str, tree: dict) -> dict:
        entry = tree.get("README.md")
        if not entry:
            return {}
        try:
            return card_metadata(self.store.blob_path(entry["sha256"]).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return {}

    def info_json(self, request, repo_type, repo_id, user, revision=None, *, siblings=True, blobs=False) -> dict:
        meta = self.store.repo_meta(repo_type, repo_id, user)
        commit_id = self.store.resolve(repo_type, repo_id, revision or "main")
        commit = self.store.commit(repo_type, repo_id, commit_id)
        card = self.card_of(repo_type, repo_id, commit["tree"])
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

    def tree_at(self, plural, namespace, name, revision, request) -> tuple[str, str, dict]:
        repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
        self.store.repo_meta(repo_type, repo_id, self.user_of(request))
        commit_id = self.store.resolve(repo_type, repo_id, revision)
        return repo_type, repo_id, self.store.commit(repo_type, repo_id, commit_id)["tree"]

    def add_account_routes(self, app: FastAPI) -> None:
        """whoami, YAML validation, the agent-harness registry (absent)."""
        user_of = self.user_of

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
            body = await _json_object(request, self.store.limits.max_request_body)
            try:
                card_metadata(_field(body, "content", str, ""))
            except yaml.YAMLError as err:
                return JSONResponse({"errors": [{"message": f"Invalid YAML metadata: {err}"}]}, status_code=400)
            return {"errors": [], "warnings": []}

    def add_repo_routes(self, app: FastAPI) -> None:
        """Create, delete, settings, listings and repository info."""
        store, user_of, repo_url, info_json = self.store, self.user_of, self.repo_url, self.info_json

        @app.post("/api/repos/create")
        async def create_repo(request: Request):
            body = await _json_object(request, store.limits.max_request_body)
            user = user_of(request)
            repo_type = _field(body, "type", str, "model")
            namespace = _field(body, "organization", str) or user or ""
            repo_id = f"{namespace}/{_field(body, 'name', str, '')}"
            private = _field(body, "visibility", str) == "private" or bool(_field(body, "private", bool))
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
            body = await _json_object(request, store.limits.max_request_body)
            user = user_of(request)
            repo_id = f"{_field(body, 'organization', str) or user or ''}/{_field(body, 'name', str, '')}"
            store.delete_repo(_field(body, "type", str, "model"), repo_id, user)
            return {}

        @app.put("/api/{plural}/{namespace}/{name}/settings")
        async def settings(plural: str, namespace: str, name: str, request: Request):
            body = await _json_object(request, store.limits.max_request_body)
            visibility = _field(body, "visibility", str)
            private = visibility == "private" if visibility is not None else _field(body, "private", bool)
            if private is not None:
                store.set_private(
                    _repo_type_from_plural(plural), f"{namespace}/{name}", user_of(request), bool(private)
                )
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
            if limit is not None and not limit.isdigit():
                raise HubHTTPError(400, f"Query parameter 'limit' must be a non-negative integer, got {limit!r}")
            return out[: int(limit)] if limit else out

        @app.get("/api/{plural}/{namespace}/{name}")
        def repo_info(plural: str, namespace: str, name: str, request: Request):
            blobs = request.query_params.get("blobs") in ("1", "True", "true")
            return info_json(
                request, _repo_type_from_plural(plural), f"{namespace}/{name}", user_of(request), blobs=blobs
            )

        @app.get("/api/{plural}/{namespace}/{name}/revision/{revision}")
        def repo_info_revision(plural: str, namespace: str, name: str, revision: str, request: Request):
            blobs = request.query_params.get("blobs") in ("1", "True", "true")
            repo_type = _repo_type_from_plural(plural)
            return info_json(request, repo_type, f"{namespace}/{name}", user_of(request), revision, blobs=blobs)

    def add_tree_routes(self, app: FastAPI) -> None:
        """Trees, paths-info, refs and commit history."""
        store, user_of, tree_at = self.store, self.user_of, self.tree_at

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
            try:
                form = await request.form(max_files=0, max_fields=10_000)
            except Exception as err:  # malformed form bodies raise several starlette/multipart types
                raise HubHTTPError(400, f"Malformed form body: {err}") from None
            out = []
            folders = {p.rsplit("/", k)[0] for p in tree for k in range(1, p.count("/") + 1)}  # once per request
            for path in form.getlist("paths"):
                path = str(path).strip("/")
                if path in tree:
                    out.append(_file_json(path, tree[path]))
                elif path in folders:
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

    def add_ref_routes(self, app: FastAPI) -> None:
        """Branch and tag creation and deletion."""
        store, user_of = self.store, self.user_of

        @app.post("/api/{plural}/{namespace}/{name}/branch/{branch}")
        async def create_branch(plural: str, namespace: str, name: str, branch: str, request: Request):
            repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
            store.repo_meta(repo_type, repo_id, user_of(request), write=True)
            body = await _json_object(request, store.limits.max_request_body, optional=True)
            with store.lock(repo_type, repo_id):
                refs = store.refs(repo_type, repo_id)
                if branch in refs["branches"] or branch in refs["tags"]:
                    raise HubHTTPError(409, f"Reference '{branch}' already exists")
                if not NAME_RE.match(branch):
                    raise HubHTTPError(400, f"Invalid branch name '{branch}'")
                target = store.resolve(repo_type, repo_id, _field(body, "startingPoint", str) or "main")
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
            tag = _field(await _json_object(request, store.limits.max_request_body), "tag", str, "")
            with store.lock(repo_type, repo_id):
                refs = store.refs(repo_type, repo_id)
                if tag in refs["tags"] or tag in refs["branches"]:
                    raise HubHTTPError(409, f"Reference '{tag}' already exists")
                if not NAME_RE.match(tag):
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

    def add_upload_routes(self, app: FastAPI) -> None:
        """preupload, the LFS batch/upload/verify protocol and the commit endpoint."""
        store, user_of, base_url, repo_url = self.store, self.user_of, self.base_url, self.repo_url

        @app.post("/api/{plural}/{namespace}/{name}/preupload/{revision}")
        async def preupload(plural: str, namespace: str, name: str, revision: str, request: Request):
            repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
            store.repo_meta(repo_type, repo_id, user_of(request), write=True)
            body = await _json_object(request, store.limits.max_request_body)
            refs = store.refs(repo_type, repo_id)
            head = refs["branches"].get(revision) or refs["branches"]["main"]
            tree = store.commit(repo_type, repo_id, head)["tree"]
            files, items = [], _field(body, "files", list, [])
            if len(items) > store.limits.max_lfs_objects:
                raise HubHTTPError(413, f"preupload of {len(items)} files, over this server's limit of "
                                        f"{store.limits.max_lfs_objects} per request", "TooManyObjects")  # fmt: skip
            for item in items:
                if not isinstance(item, dict):
                    raise HubHTTPError(400, "Each entry of 'files' must be an object")
                path = check_repo_path(item.get("path"))
                try:
                    sample = base64.b64decode(_field(item, "sample", str, ""), validate=True)
                except ValueError as err:
                    raise HubHTTPError(400, f"'{path}': 'sample' is not valid base64 ({err})") from None
                mode = store.upload_mode(tree, path, _size_field(item), sample)
                existing = tree.get(path)
                oid = None
                if existing is not None:
                    oid = existing["sha256"] if mode == "lfs" else existing["oid"]
                files.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
            return {"files": files, "commitOid": head}

        def batch_objects(repo_type: str, repo_id: str, user: str, body: dict, request: Request) -> list[dict]:
            """Check every object (oid, declared size against the limits), then answer it. Runs in a worker thread
            and at most `limits.max_lfs_objects` objects per request (413 before any work past that)."""
            objects, total = _field(body, "objects", list, []), 0
            if len(objects) > store.limits.max_lfs_objects:
                raise HubHTTPError(413, f"LFS batch of {len(objects)} objects, over this server's limit of "
                                        f"{store.limits.max_lfs_objects} per request", "TooManyObjects")  # fmt: skip
            for obj in objects:
                if not isinstance(obj, dict):
                    raise HubHTTPError(400, "Each LFS object must be an object {oid, size}")
                oid, size = _field(obj, "oid", str, ""), _size_field(obj)
                store.blob_path(oid)  # 400 unless a sha256
                if size > store.limits.max_file_size:
                    raise HubHTTPError(413, f"LFS object {oid} declares {size} bytes, over this server's file limit "
                                            f"of {store.limits.max_file_size} bytes", "FileTooLarge")  # fmt: skip
                total += size
            if total > store.limits.max_commit_size:
                raise HubHTTPError(413, f"LFS batch declares {total} bytes, over this server's commit limit of "
                                        f"{store.limits.max_commit_size} bytes", "CommitTooLarge")  # fmt: skip
            verify = f"{base_url(request)}/_lfs/verify/{repo_type}/{repo_id}"
            answers = [{"oid": obj["oid"], "size": obj["size"], "authenticated": True} for obj in objects]
            # an object is "already there" only for a user who may read it; anyone else proves possession by
            # uploading the bytes (nobody learns whether a blob they cannot read exists)
            missing = [a for a in answers if not (store.may_read_blob(a["oid"], user)
                                                  and store.blob_path(a["oid"]).stat().st_size == a["size"])]  # fmt: skip
            tickets = store.lfs_tickets(repo_type, repo_id, [(a["oid"], a["size"]) for a in missing])
            for answer, ticket in zip(missing, tickets):
                answer["actions"] = {
                    "upload": {"href": f"{base_url(request)}/_lfs/upload/{ticket}", "header": {}},
                    "verify": {"href": verify, "header": {}},
                }
            return answers

        async def lfs_batch(repo_type: str, namespace: str, name_git: str, request: Request):
            if not name_git.endswith(".git"):
                raise HubHTTPError(404, "Not found")
            repo_id = f"{namespace}/{name_git[:-4]}"
            user = user_of(request)
            store.repo_meta(repo_type, repo_id, user, write=True)
            # a batch of max_lfs_objects objects is ~150 bytes each: a larger body is refused before it is parsed
            limit = min(store.limits.max_request_body, 512 * store.limits.max_lfs_objects + 65536)
            body = await _json_object(request, limit)
            if body.get("operation") != "upload":
                raise HubHTTPError(400, "Only LFS uploads are supported by this server")
            objects = await run_in_threadpool(batch_objects, repo_type, repo_id, user, body, request)
            return JSONResponse(
                {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                media_type="application/vnd.git-lfs+json",
            )  # fmt: skip

        @app.post("/datasets/{namespace}/{name_git}/info/lfs/objects/batch")
        async def lfs_batch_dataset(namespace: str, name_git: str, request: Request):
            return await lfs_batch("dataset", namespace, name_git, request)

        @app.post("/{namespace}/{name_git}/info/lfs/objects/batch")
        async def lfs_batch_model(namespace: str, name_git: str, request: Request):
            return await lfs_batch("model", namespace, name_git, request)

        @app.put("/_lfs/upload/{ticket}")
        async def lfs_upload(ticket: str, request: Request):
            declared = request.headers.get("content-length")
            if declared is not None and not declared.isdigit():
                raise HubHTTPError(400, f"Invalid Content-Length header {declared!r}")
            await store.receive_lfs(ticket, request.stream(), int(declared) if declared else None)
            return Response(status_code=200)

        @app.post("/_lfs/verify/{repo_type}/{namespace}/{name}")
        async def lfs_verify(repo_type: str, namespace: str, name: str, request: Request):
            repo_id, user = f"{namespace}/{name}", user_of(request)
            if repo_type not in REPO_TYPES:
                raise HubHTTPError(404, "Not found")
            store.repo_meta(repo_type, repo_id, user, write=True)
            body = await _json_object(request, store.limits.max_request_body)
            oid, size = _field(body, "oid", str, ""), _size_field(body)
            blob = store.blob_path(oid)
            if not store.may_read_blob(oid, user) or blob.stat().st_size != size:
                raise HubHTTPError(404, "LFS object not found")
            return {}

        @app.post("/api/{plural}/{namespace}/{name}/commit/{revision}")
        async def commit(plural: str, namespace: str, name: str, revision: str, request: Request):
            repo_type, repo_id = _repo_type_from_plural(plural), f"{namespace}/{name}"
            user = user_of(request)
            store.repo_meta(repo_type, repo_id, user, write=True)
            if request.query_params.get("create_pr") == "1":
                raise HubHTTPError(400, "Pull requests are not supported by this server")
            # regular files travel inline, base64-encoded: 4/3 of the commit limit plus the JSON around them
            raw = await _read_body(request, store.limits.max_commit_size * 4 // 3 + store.limits.max_request_body)
            try:
                lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise HubHTTPError(400, f"Malformed ndjson commit payload: {err}") from err
            except RecursionError:
                raise HubHTTPError(400, "Malformed ndjson commit payload: nested too deeply") from None
            commit_id = await run_in_threadpool(store.apply_commit, repo_type, repo_id, revision, user, lines)
            return {"success": True, "commitOid": commit_id, "pullRequestUrl": None,
                    "commitUrl": f"{repo_url(request, repo_type, repo_id)}/commit/{commit_id}"}  # fmt: skip

    def add_download_routes(self, app: FastAPI, enable_faults: bool) -> None:
        """`resolve` downloads (and, with `enable_faults`, the fault injector)."""
        store, user_of = self.store, self.user_of

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
            faults = store.faults.get((repo_type, repo_id, path))
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
                if not store.is_admin(request.headers.get("authorization")):
                    raise HubHTTPError(403, "Fault injection needs this server's admin token")
                body = await _json_object(request, store.limits.max_request_body)
                repo_type, repo_id = _field(body, "repo_type", str, "model"), _field(body, "repo_id", str, "")
                path, mode, count = (
                    _field(body, "path", str, ""),
                    _field(body, "mode", str, "flip"),
                    _field(body, "count", int, 1),
                )
                if count < 0:
                    raise HubHTTPError(400, "Field 'count' must be a non-negative integer")
                store.repo_dir(repo_type, repo_id)  # 400 unless a valid repository id
                if mode not in ("flip", "truncate"):
                    raise HubHTTPError(400, f"Unknown fault mode {mode!r} (expected 'flip' or 'truncate')")
                store.faults.setdefault((repo_type, repo_id, check_repo_path(path)), []).extend([mode] * count)
                return {}


def create_app(store: HubStore, *, enable_faults: bool = False) -> FastAPI:
    """The FastAPI application serving `store`."""
    app = FastAPI(title="geohub test Hub", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(HubHTTPError)
    async def _hub_error(_request: Request, err: HubHTTPError):
        return _error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, err: RequestValidationError):
        return _error_response(HubHTTPError(400, f"Malformed request: {err.errors()[:3]}"))

    # A safety net: a malformed payload that slipped past the explicit checks is still the client's fault (4xx,
    # JSON), never a 500; the traceback goes to the server log so that the missing check can be added.
    @app.exception_handler(ValueError)
    @app.exception_handler(TypeError)
    @app.exception_handler(KeyError)
    @app.exception_handler(AttributeError)
    async def _malformed(request: Request, err: Exception):
        _log.warning("malformed request %s %s", request.method, request.url.path, exc_info=err)
        return _error_response(HubHTTPError(400, f"Malformed request ({err.__class__.__name__}: {err})"))

    routes = _HubRoutes(store)
    for add in (routes.add_account_routes, routes.add_repo_routes, routes.add_tree_routes, routes.add_ref_routes,
                routes.add_upload_routes):  # fmt: skip
        add(app)
    routes.add_download_routes(app, enable_faults)
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


def _size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: list[str] | None = None) -> None:
    """Run the server: `python -m geohub.testing.hub_server --port P --root DIR [--user NAME:TOKEN ...]`."""
    import uvicorn

    parser = argparse.ArgumentParser(description="A Hugging Face Hub-compatible server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--root", required=True, help="folder holding the repositories and blobs")
    parser.add_argument("--user", action="append", default=[], help="NAME:TOKEN (repeatable); or ROOT/users.json")
    parser.add_argument("--enable-faults", action="store_true", help="serve POST /_testing/faults (tests only)")
    parser.add_argument("--admin-token", default=os.environ.get("GEOHUB_HUB_ADMIN_TOKEN"),
                        help="token allowed to inject faults (or $GEOHUB_HUB_ADMIN_TOKEN)")  # fmt: skip
    parser.add_argument("--upload-delay", type=float, default=0.0, help="seconds per LFS chunk (tests only)")
    defaults = Limits()
    for flag, default in (("--max-file-size", defaults.max_file_size), ("--max-commit-size", defaults.max_commit_size),
                          ("--max-repo-size", defaults.max_repo_size)):  # fmt: skip
        parser.add_argument(flag, type=_size_arg, default=default, help=f"bytes or 10M/5G (default {default})")
    for flag, default in (("--max-lfs-objects", defaults.max_lfs_objects),
                          ("--max-upload-tickets", defaults.max_upload_tickets)):  # fmt: skip
        parser.add_argument(flag, type=int, default=default, help=f"(default {default})")
    args = parser.parse_args(argv)
    if args.enable_faults and not args.admin_token:
        parser.error("--enable-faults needs --admin-token (fault injection is for an administrator's tests only)")
    root = Path(args.root)
    limits = Limits(args.max_file_size, args.max_commit_size, args.max_repo_size,
                    max_lfs_objects=args.max_lfs_objects, max_upload_tickets=args.max_upload_tickets)  # fmt: skip
    store = HubStore(root, _parse_users(args.user, root), upload_delay=args.upload_delay, limits=limits,
                     admin_tokens=(args.admin_token,) if args.enable_faults else ())  # fmt: skip
    app = create_app(store, enable_faults=args.enable_faults)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
