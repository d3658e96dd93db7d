"""Hostile and careless requests against geohub's Hub server: access to blobs, size limits, malformed payloads,
file names, fault injection. Each asserts the specific answer and that the server keeps serving afterwards."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import httpx
import pytest

from geohub.testing import HubServer

from .conftest import USERS

ALICE = {"Authorization": f"Bearer {USERS['alice']}"}
BOB = {"Authorization": f"Bearer {USERS['bob']}"}
LIMITS = {"max_file_size": "1M", "max_commit_size": "2M", "max_repo_size": "3M"}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    """A second server with small limits (1 MiB per file, 2 MiB per commit, 3 MiB per repo), no fault injection."""
    server = HubServer(tmp_path_factory.mktemp("small-hub"), USERS, limits=LIMITS)
    server.start()
    yield server
    server.stop()


def _create(hub, repo_id: str, headers=ALICE, private: bool = False) -> None:
    namespace, name = repo_id.split("/")
    body = {"name": name, "organization": namespace, "type": "model", "private": private}
    response = httpx.post(f"{hub.endpoint}/api/repos/create", json=body, headers=headers)
    assert response.status_code == 200, response.text


def _lines(*operations: dict, summary: str = "test") -> str:
    lines = [{"key": "header", "value": {"summary": summary}}, *operations]
    return "".join(json.dumps(line) + "\n" for line in lines)


def _post_commit(hub, repo_id: str, payload: str | bytes, headers=ALICE) -> httpx.Response:
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content=payload, headers=headers, timeout=60)


def _file_op(path: str, content: bytes) -> dict:
    return {
        "key": "file",
        "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"},
    }


def _lfs_op(path: str, data: bytes) -> dict:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": hashlib.sha256(data).hexdigest(),
                                        "size": len(data)}}  # fmt: skip


def _batch(hub, repo_id: str, objects: list[dict], headers=ALICE) -> httpx.Response:
    body = {"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256", "objects": objects}
    return httpx.post(f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch", json=body, headers=headers)


def _upload_lfs(hub, repo_id: str, data: bytes, headers=ALICE) -> dict:
    """batch + PUT + verify, as the stock client does; returns the batch answer for the object."""
    oid = hashlib.sha256(data).hexdigest()
    answer = _batch(hub, repo_id, [{"oid": oid, "size": len(data)}], headers).json()["objects"][0]
    if "actions" in answer:
        assert httpx.put(answer["actions"]["upload"]["href"], content=data).status_code == 200
        verify = httpx.post(answer["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)}, headers=headers)
        assert verify.status_code == 200, verify.text
    return answer


def _tree(hub, repo_id: str, headers=ALICE) -> set[str]:
    response = httpx.get(f"{hub.endpoint}/api/models/{repo_id}/tree/main?recursive=1", headers=headers)
    return {e["path"] for e in response.json() if e["type"] == "file"}


def _still_serving(hub) -> None:
    assert httpx.get(f"{hub.endpoint}/api/models", timeout=10).status_code == 200, "the server stopped answering"


def test_a_private_blob_cannot_be_attached_by_its_sha256(hub_server):
    secret = b"alice's private weights " + os.urandom(64)
    _create(hub_server, "alice/vault", private=True)
    _upload_lfs(hub_server, "alice/vault", secret)
    assert _post_commit(hub_server, "alice/vault", _lines(_lfs_op("w.safetensors", secret))).status_code == 200
    _create(hub_server, "bob/loot", headers=BOB)
    # 1. bob commits a reference to alice's blob by its sha256: refused, nothing becomes readable
    stolen = _post_commit(hub_server, "bob/loot", _lines(_lfs_op("w.safetensors", secret)), headers=BOB)
    assert stolen.status_code == 422 and "never uploaded to this repository" in stolen.json()["error"]
    assert httpx.get(f"{hub_server.endpoint}/bob/loot/resolve/main/w.safetensors").status_code == 404
    # 2. the batch does not tell him the blob exists: he is asked to upload it like any new object
    oid = hashlib.sha256(secret).hexdigest()
    answer = _batch(hub_server, "bob/loot", [{"oid": oid, "size": len(secret)}], headers=BOB).json()["objects"][0]
    assert "upload" in answer["actions"]
    # 3. verify needs a token that may write the repository, and answers only for blobs that repo may read
    verify = f"{hub_server.endpoint}/_lfs/verify/model/bob/loot"
    assert httpx.post(verify, json={"oid": oid, "size": len(secret)}).status_code == 401
    assert httpx.post(verify, json={"oid": oid, "size": len(secret)}, headers=ALICE).status_code == 403
    assert httpx.post(verify, json={"oid": oid, "size": len(secret)}, headers=BOB).status_code == 404
    assert httpx.post(f"{hub_server.endpoint}/_lfs/verify", json={"oid": oid, "size": 1}).status_code == 404
    # 4. alice reuses her own blob in another repository without uploading it again (deduplication kept)
    _create(hub_server, "alice/vault-copy")
    assert "actions" not in _upload_lfs(hub_server, "alice/vault-copy", secret)
    assert _post_commit(hub_server, "alice/vault-copy", _lines(_lfs_op("w.safetensors", secret))).status_code == 200
    # 5. whoever holds the bytes may publish them: bob uploads the same content himself, then commits it
    _upload_lfs(hub_server, "bob/loot", secret, headers=BOB)
    assert (
        _post_commit(hub_server, "bob/loot", _lines(_lfs_op("w.safetensors", secret)), headers=BOB).status_code == 200
    )
    _still_serving(hub_server)


STOCK_CLIENT_LIMITS = r"""
import json, os
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
api = HfApi()
api.create_repo("alice/limited")
out = {}
api.upload_file(path_or_fileobj=os.urandom(900_000), path_in_repo="a.safetensors", repo_id="alice/limited")
out["under_limits"] = sorted(api.list_repo_files("alice/limited"))
try:
    api.upload_file(path_or_fileobj=os.urandom(1_200_000), path_in_repo="big.safetensors", repo_id="alice/limited")
    out["file"] = "accepted"
except HfHubHTTPError as err:
    out["file"] = [err.response.status_code, str(err)]
try:
    api.upload_file(path_or_fileobj=os.urandom(1_100_000), path_in_repo="notes.txt", repo_id="alice/limited")
    out["regular_file"] = "accepted"
except HfHubHTTPError as err:
    out["regular_file"] = [err.response.status_code, str(err)]
from huggingface_hub import CommitOperationAdd
ops = [CommitOperationAdd(f"part{i}.safetensors", os.urandom(800_000)) for i in range(3)]
try:
    api.create_commit("alice/limited", ops, commit_message="too much at once")
    out["commit"] = "accepted"
except HfHubHTTPError as err:
    out["commit"] = [err.response.status_code, str(err)]
for i in range(3):   # one at a time: each commit is fine, the repository outgrows its limit at the third
    try:
        api.upload_file(path_or_fileobj=os.urandom(800_000), path_in_repo=f"p{i}.safetensors", repo_id="alice/limited")
    except HfHubHTTPError as err:
        out["repo"] = [i, err.response.status_code, str(err)]
        break
out["files_after"] = sorted(api.list_repo_files("alice/limited"))
print("RESULT " + json.dumps(out))
"""


def test_size_limits_through_the_stock_client(small_hub, tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(small_hub.client_env(token=USERS["alice"], hf_home=tmp_path / "hf-home"))
    proc = subprocess.run([sys.executable, "-c", STOCK_CLIENT_LIMITS], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["under_limits"] == [".gitattributes", "a.safetensors"]
    assert out["file"][0] == 413 and "over this server's file limit of 1048576 bytes" in out["file"][1]
    assert out["regular_file"][0] == 413 and "file limit" in out["regular_file"][1]
    assert out["commit"][0] == 413 and "over this server's commit limit of 2097152 bytes" in out["commit"][1]
    assert out["repo"][:2] == [2, 413] and "over this server's limit of 3145728 bytes" in out["repo"][2]
    assert out["files_after"] == [".gitattributes", "a.safetensors", "p0.safetensors", "p1.safetensors"]
    _still_serving(small_hub)


def test_declared_sizes_are_refused_before_any_byte_is_read(small_hub):
    _create(small_hub, "alice/declared")
    petabyte = _batch(small_hub, "alice/declared", [{"oid": "a" * 64, "size": 10**15}])
    assert petabyte.status_code == 413 and "declares 1000000000000000 bytes" in petabyte.json()["error"]
    many = _batch(small_hub, "alice/declared", [{"oid": f"{i:064x}", "size": 900_000} for i in range(3)])
    assert many.status_code == 413 and "commit limit" in many.json()["error"]
    # a ticket for 10 bytes: a body that says (Content-Length) or turns out to be 200 MiB is cut off at once
    ten = b"0123456789"
    href = _batch(small_hub, "alice/declared", [{"oid": hashlib.sha256(ten).hexdigest(), "size": 10}]).json()
    href = href["objects"][0]["actions"]["upload"]["href"]
    sent = []

    def body(total=200 * MiB, chunk=MiB):
        for _ in range(total // chunk):
            sent.append(chunk)
            yield b"\0" * chunk

    for headers, message in (({"Content-Length": str(200 * MiB)}, "announced as 10 bytes"),
                             ({}, "longer than the 10 bytes announced")):  # fmt: skip
        sent.clear()
        try:
            refused = httpx.put(href, content=body(), headers=headers, timeout=60)
            assert refused.status_code == 413 and message in refused.json()["error"]
        except httpx.TransportError:
            pass  # the server answered 413 and closed while the client was still writing: also a refusal
        assert sum(sent) <= 32 * MiB, f"{sum(sent)} bytes were taken against a declared 10"
    assert not list((small_hub.root / "tmp").glob("lfs-*")), "the refused upload left a partial file"
    sent.clear()  # a 200 MiB commit payload declared up front: refused before reading it
    big_commit = httpx.post(f"{small_hub.endpoint}/api/models/alice/declared/commit/main", content=body(),
                            headers={**ALICE, "Content-Length": str(200 * MiB)}, timeout=60)  # fmt: skip
    assert big_commit.status_code == 413 and "over this server's limit" in big_commit.json()["error"]
    assert sum(sent) <= 32 * MiB
    _still_serving(small_hub)


def test_fault_injection_needs_the_flag_and_the_admin_token(hub_server, small_hub):
    _create(hub_server, "alice/faulty")
    fault = {"repo_id": "alice/faulty", "path": ".gitattributes", "mode": "flip", "count": 1}
    url = f"{hub_server.endpoint}/_testing/faults"
    for headers in ({}, ALICE, BOB, {"Authorization": "Bearer not-the-admin"}):
        refused = httpx.post(url, json=fault, headers=headers)
        assert refused.status_code in (401, 403) and "admin token" in refused.json()["error"]
    clean = httpx.get(f"{hub_server.endpoint}/alice/faulty/resolve/main/.gitattributes").content
    admin = {"Authorization": f"Bearer {hub_server.admin_token}"}
    assert httpx.post(url, json=fault, headers=admin).status_code == 200
    assert httpx.get(f"{hub_server.endpoint}/alice/faulty/resolve/main/.gitattributes").content != clean
    assert httpx.get(f"{hub_server.endpoint}/alice/faulty/resolve/main/.gitattributes").content == clean
    # another repository's file of the same path is not affected by alice/faulty's fault
    assert httpx.post(url, json=fault, headers=admin).status_code == 200
    _create(hub_server, "alice/bystander")
    bystander = httpx.get(f"{hub_server.endpoint}/alice/bystander/resolve/main/.gitattributes").content
    assert bystander == clean
    # a server started without --enable-faults has no such endpoint at all
    assert httpx.post(f"{small_hub.endpoint}/_testing/faults", json=fault, headers=admin).status_code == 404


MALFORMED = [
    ("post", "/api/models/alice/malformed/commit/main", {"content": _lines(
        {"key": "file", "value": {"path": "x.txt", "content": "@@not base64@@", "encoding": "base64"}})}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": _lines(
        {"key": "file", "value": {"path": ["a", "list"], "content": "eA==", "encoding": "base64"}})}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": _lines(
        {"key": "file", "value": {"path": "x.txt", "content": ["eA=="], "encoding": "base64"}})}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": _lines(
        {"key": "lfsFile", "value": {"path": "x.bin", "oid": {"a": 1}, "size": "big"}})}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": "[1, 2]\n"}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": b"\xff\xfe not utf-8"}),
    ("post", "/api/models/alice/malformed/commit/main", {"content": json.dumps(
        {"key": "header", "value": {"summary": ["not", "a", "string"]}})}),
    ("post", "/api/models/alice/malformed/preupload/main", {"json": {"files": [{"path": "x", "size": 1,
                                                                                "sample": "%%%"}]}}),
    ("post", "/api/models/alice/malformed/preupload/main", {"json": {"files": "not-a-list"}}),
    ("post", "/api/models/alice/malformed/preupload/main", {"json": {"files": [{"path": "x", "size": "1"}]}}),
    ("post", "/api/models/alice/malformed/preupload/main", {"content": b"{not json"}),
    ("post", "/alice/malformed.git/info/lfs/objects/batch", {"json": {"operation": "upload", "objects": [
        {"oid": ["x"], "size": 1}]}}),
    ("post", "/alice/malformed.git/info/lfs/objects/batch", {"json": {"operation": "upload", "objects": [
        {"oid": "a" * 64, "size": -5}]}}),
    ("post", "/alice/malformed.git/info/lfs/objects/batch", {"json": ["upload"]}),
    ("post", "/_lfs/verify/model/alice/malformed", {"json": {"oid": "zz", "size": "x"}}),
    ("post", "/api/repos/create", {"json": {"name": ["x"], "type": "model"}}),
    ("post", "/api/repos/create", {"json": {"name": "ok-name", "type": 5}}),
    ("post", "/api/repos/create", {"content": b"\x00\x01"}),
    ("put", "/api/models/alice/malformed/settings", {"json": {"visibility": ["private"]}}),
    ("post", "/api/models/alice/malformed/branch/dev", {"json": {"startingPoint": 5}}),
    ("post", "/api/models/alice/malformed/tag/main", {"json": {"tag": {"v": 1}}}),
    ("post", "/api/models/alice/malformed/tag/main", {"content": b"null"}),
    ("get", "/api/models?limit=abc", {}),
    ("get", "/api/models?limit=-1", {}),
    ("post", "/api/validate-yaml", {"json": {"content": 42}}),
    ("post", "/api/models/alice/malformed/paths-info/main", {"content": b"--x\r\nbroken",
                                                            "headers": {"Content-Type": "multipart/form-data"}}),
    ("put", "/_lfs/upload/unknown-ticket", {"content": b"x"}),
    ("post", "/_testing/faults", {"json": {"path": 5}}),
]  # fmt: skip


@pytest.mark.parametrize("method,path,kwargs", MALFORMED, ids=[f"{i}" for i in range(len(MALFORMED))])
def test_malformed_requests_are_4xx_json(hub_server, method, path, kwargs):
    if not httpx.get(f"{hub_server.endpoint}/api/models/alice/malformed", headers=ALICE).is_success:
        _create(hub_server, "alice/malformed")
    kwargs = dict(kwargs)
    headers = {**ALICE, **kwargs.pop("headers", {})}
    response = httpx.request(method.upper(), f"{hub_server.endpoint}{path}", headers=headers, timeout=30, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert _tree(hub_server, "alice/malformed") == {".gitattributes"}, "a malformed commit changed the repo"
    _still_serving(hub_server)


BAD_NAMES = ["..\\..\\x", "x\0y", "/abs.txt", "./x", "a//b", "a/../b", "..", "a/./b", "trailing/", "C:evil",
             ".git/config", "sub/.cache/x", "x" * 2000, "tab\there"]  # fmt: skip


def test_file_names_the_stock_client_refuses_are_refused_at_commit(hub_server):
    _create(hub_server, "alice/names")
    for name in BAD_NAMES:
        response = _post_commit(hub_server, "alice/names", _lines(_file_op("ok.txt", b"ok"), _file_op(name, b"x")))
        assert response.status_code == 400, (name, response.text)
        assert (
            response.headers["X-Error-Code"] == "InvalidPath" and "Invalid path in commit" in response.json()["error"]
        )
    assert _tree(hub_server, "alice/names") == {".gitattributes"}, "a commit with a bad name was partly applied"
    fine = _post_commit(hub_server, "alice/names", _lines(_file_op("dir/sub/file-1.txt", b"ok"),
                                                          _file_op("weights.v2 (copy).json", b"{}")))  # fmt: skip
    assert fine.status_code == 200
    assert _tree(hub_server, "alice/names") == {".gitattributes", "dir/sub/file-1.txt", "weights.v2 (copy).json"}
    conflict = _post_commit(hub_server, "alice/names", _lines(_file_op("dir/sub", b"a file over a folder")))
    assert conflict.status_code == 409
    _still_serving(hub_server)
