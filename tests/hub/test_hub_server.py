"""geohub's Hub-compatible server, through the stock huggingface_hub client (in a subprocess) and raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from urllib.parse import urlparse

import httpx
import pytest

from .conftest import USERS

ALICE = {"Authorization": f"Bearer {USERS['alice']}"}
BOB = {"Authorization": f"Bearer {USERS['bob']}"}


def _create(hub, repo_id: str, headers=ALICE, private: bool = False, repo_type: str = "model") -> httpx.Response:
    namespace, name = repo_id.split("/")
    body = {"name": name, "organization": namespace, "type": repo_type}
    if private:
        body["visibility"] = "private"
    return httpx.post(f"{hub.endpoint}/api/repos/create", json=body, headers=headers)


def _commit(hub, repo_id: str, files: dict[str, bytes], *, parent: str | None = None, headers=ALICE):
    header = {"summary": f"add {', '.join(files)}", "description": ""}
    if parent:
        header["parentCommit"] = parent
    lines = [{"key": "header", "value": header}] + [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
        for p, c in files.items()
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content=payload, headers=headers,
                      timeout=30)  # fmt: skip


def _head(hub, repo_id: str) -> str:
    refs = httpx.get(f"{hub.endpoint}/api/models/{repo_id}/refs", headers=ALICE).json()
    return {b["name"]: b["targetCommit"] for b in refs["branches"]}["main"]


CLIENT_LIFECYCLE = r"""
import json, os
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
api = HfApi()
out = {"whoami": api.whoami()["name"]}
api.create_repo("alice/lifecycle", private=True)
api.create_repo("alice/lifecycle-data", repo_type="dataset")
api.create_repo("alice/lifecycle-untagged")  # a model repo without the geohub library tag: not listed
api.upload_file(path_or_fileobj=b"# plain\n", path_in_repo="README.md", repo_id="alice/lifecycle-untagged")
folder = Path("upload"); folder.mkdir()
(folder / "config.json").write_text('{"model_type": "x"}')
(folder / "README.md").write_text("---\nlibrary_name: geohub\ntags: [geophysics]\n---\n# card\n")
big = os.urandom(11 * 1024 * 1024)  # over the 10 MB LFS threshold
(folder / "weights.safetensors").write_bytes(big)
first = api.upload_folder(folder_path=folder, repo_id="alice/lifecycle", commit_message="first")
api.create_tag("alice/lifecycle", tag="v1")
api.create_branch("alice/lifecycle", branch="dev")
(folder / "config.json").write_text('{"model_type": "y"}')
second = api.upload_file(path_or_fileobj=folder / "config.json", path_in_repo="config.json",
                         repo_id="alice/lifecycle", revision="dev", commit_message="on dev")
refs = api.list_repo_refs("alice/lifecycle")
out["branches"] = sorted((b.name, b.target_commit) for b in refs.branches)
out["tags"] = [(t.name, t.target_commit) for t in refs.tags]
out["first"], out["second"] = first.oid, second.oid
out["config_v1"] = Path(hf_hub_download("alice/lifecycle", "config.json", revision="v1")).read_text()
out["config_dev"] = Path(hf_hub_download("alice/lifecycle", "config.json", revision="dev")).read_text()
snap = Path(snapshot_download("alice/lifecycle", revision="v1"))
out["big_ok"] = (snap / "weights.safetensors").read_bytes() == big
info = api.model_info("alice/lifecycle", files_metadata=True)
out["lfs"] = {s.rfilename: bool(s.lfs) for s in info.siblings}
out["private"] = info.private
out["commits"] = [c.title for c in api.list_repo_commits("alice/lifecycle", revision="dev")]
out["listed"] = [m.id for m in api.list_models(author="alice", filter="geohub")]
api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data/train.csv", repo_id="alice/lifecycle-data",
                repo_type="dataset", commit_message="data")
out["dataset_file"] = Path(hf_hub_download("alice/lifecycle-data", "data/train.csv", repo_type="dataset")).read_text()
out["dataset_tree"] = sorted(f.path for f in api.list_repo_tree("alice/lifecycle-data", repo_type="dataset",
                                                                 recursive=True))
api.delete_repo("alice/lifecycle-data", repo_type="dataset")
out["deleted"] = not api.repo_exists("alice/lifecycle-data", repo_type="dataset")
print("RESULT " + json.dumps(out))
"""


def test_repo_lifecycle_with_the_stock_client(hub_client):
    out, _ = hub_client(CLIENT_LIFECYCLE)
    assert out["whoami"] == "alice"
    assert out["private"] is True
    assert out["lfs"] == {".gitattributes": False, "README.md": False, "config.json": False,
                          "weights.safetensors": True}  # fmt: skip
    assert out["big_ok"], "the 11 MB LFS file came back different"
    assert out["tags"] == [["v1", out["first"]]]
    assert out["branches"] == sorted([["dev", out["second"]], ["main", out["first"]]])
    assert out["config_v1"] == '{"model_type": "x"}' and out["config_dev"] == '{"model_type": "y"}'
    assert out["commits"] == ["on dev", "first", "initial commit"]
    # the server is shared by the session (other tests push alice's geohub models too): this test's own repos only
    assert "alice/lifecycle" in out["listed"] and "alice/lifecycle-untagged" not in out["listed"]
    assert all(repo.startswith("alice/") for repo in out["listed"]), out["listed"]
    assert out["dataset_file"] == "a,b\n1,2\n"
    assert out["dataset_tree"] == [".gitattributes", "data", "data/train.csv"]
    assert out["deleted"]


def test_token_auth_and_private_visibility(hub_server):
    assert _create(hub_server, "alice/secret", private=True).status_code == 200
    assert _create(hub_server, "alice/open").status_code == 200
    assert _create(hub_server, "alice/open").status_code == 409
    url = f"{hub_server.endpoint}/api/models/alice/secret"
    assert httpx.get(url, headers=ALICE).json()["private"] is True
    for headers, status in ((BOB, 404), ({}, 401)):
        response = httpx.get(url, headers=headers)
        assert (response.status_code, response.headers["X-Error-Code"]) == (status, "RepoNotFound")
    wrong = httpx.get(url, headers={"Authorization": "Bearer hf_not_a_token"})
    assert (
        wrong.status_code == 401 and wrong.headers["X-Error-Message"] == "Invalid credentials in Authorization header"
    )
    resolve = httpx.get(f"{hub_server.endpoint}/alice/secret/resolve/main/.gitattributes", headers=BOB)
    assert resolve.status_code == 404 and resolve.headers["X-Error-Code"] == "RepoNotFound"
    missing = httpx.get(f"{hub_server.endpoint}/alice/open/resolve/main/nope.json")
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    listed_by_bob = [m["id"] for m in httpx.get(f"{hub_server.endpoint}/api/models?author=alice", headers=BOB).json()]
    assert "alice/open" in listed_by_bob and "alice/secret" not in listed_by_bob
    assert _commit(hub_server, "alice/open", {"x.txt": b"x"}, headers=BOB).status_code == 403
    assert _create(hub_server, "alice/by-bob", headers=BOB).status_code == 403
    assert httpx.get(f"{hub_server.endpoint}/api/whoami-v2", headers=BOB).json()["name"] == "bob"


def test_downloads_carry_the_cache_headers_and_ranges(hub_server):
    assert _create(hub_server, "alice/headers").status_code == 200
    content = b"0123456789" * 10
    commit = _commit(hub_server, "alice/headers", {"notes.txt": content}).json()["commitOid"]
    url = f"{hub_server.endpoint}/alice/headers/resolve/main/notes.txt"
    head = httpx.head(url)
    assert head.headers["X-Repo-Commit"] == commit
    assert head.headers["ETag"].strip('"') == hashlib.sha1(b"blob 100\0" + content).hexdigest()
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == content[10:20]
    bad_rev = httpx.get(f"{hub_server.endpoint}/alice/headers/resolve/nobranch/notes.txt")
    assert bad_rev.headers["X-Error-Code"] == "RevisionNotFound"


def test_concurrent_commits_are_serialised(hub_server):
    assert _create(hub_server, "alice/busy").status_code == 200
    start = _head(hub_server, "alice/busy")
    results: list[int] = []

    def worker(i: int) -> None:
        results.append(_commit(hub_server, "alice/busy", {f"file_{i}.txt": str(i).encode()}).status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    history = httpx.get(f"{hub_server.endpoint}/api/models/alice/busy/commits/main", headers=ALICE).json()
    assert len(history) == 9  # initial commit + 8, one linear chain: no commit lost another's files
    tree = {e["path"] for e in httpx.get(f"{hub_server.endpoint}/api/models/alice/busy/tree/main").json()}
    assert {f"file_{i}.txt" for i in range(8)} <= tree
    stale = _commit(hub_server, "alice/busy", {"late.txt": b"late"}, parent=start)
    assert stale.status_code == 412, "a commit based on an old parent must be refused"


def _lfs_ticket(hub, repo_id: str, data: bytes) -> tuple[str, str]:
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx.post(f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch", headers=ALICE,
                       json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                             "objects": [{"oid": oid, "size": len(data)}]}).json()  # fmt: skip
    return oid, batch["objects"][0]["actions"]["upload"]["href"]


def test_interrupted_upload_leaves_the_repo_unchanged(hub_server):
    assert _create(hub_server, "alice/fragile").status_code == 200
    before_head = _head(hub_server, "alice/fragile")
    data = bytes(range(256)) * 40_000  # 10 MB
    oid, href = _lfs_ticket(hub_server, "alice/fragile", data)
    # 1. the connection drops half-way through the LFS PUT
    url = urlparse(href)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        sock.sendall(data[: len(data) // 2])
    # 2. a body that does not hash to the announced oid is refused
    assert httpx.put(href, content=data[:-1] + b"\0").status_code == 400
    # 3. the commit referencing the never-completed object is refused as a whole, regular file included
    lines = [{"key": "header", "value": {"summary": "half"}},
             {"key": "file", "value": {"path": "small.txt", "content": "eA==", "encoding": "base64"}},
             {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": len(data)}}]  # fmt: skip
    response = httpx.post(f"{hub_server.endpoint}/api/models/alice/fragile/commit/main", headers=ALICE,
                          content="".join(json.dumps(line) + "\n" for line in lines))  # fmt: skip
    assert response.status_code == 422
    assert _head(hub_server, "alice/fragile") == before_head
    tree = {e["path"] for e in httpx.get(f"{hub_server.endpoint}/api/models/alice/fragile/tree/main").json()}
    assert tree == {".gitattributes"}
    assert not (hub_server.root / "blobs" / oid).exists()
    assert not list((hub_server.root / "tmp").glob("lfs-*")), "partial upload left on disk"


@pytest.mark.parametrize("bad", ["---\n: [unclosed\n---\n# card\n"])
def test_validate_yaml_rejects_bad_card_metadata(hub_server, bad):
    url = f"{hub_server.endpoint}/api/validate-yaml"
    assert httpx.post(url, json={"content": bad, "repoType": "model"}).status_code == 400
    assert httpx.post(url, json={"content": "---\nlicense: mit\n---\n", "repoType": "model"}).status_code == 200
    assert httpx.get(f"{hub_server.endpoint}/api/agent-harnesses").status_code == 404
