"""`geohub pull` never leaves half a download, refuses hostile file names before writing anything, and the
pickle guard recognises pickles by name (any case, compressed) and by content, for pull and for push."""

from __future__ import annotations

import gzip
import json
import os
import pickle

import httpx
import pytest
import torch

from geohub.hub import is_pickle_file
from geohub.testing.hub_store import HubStore

from .conftest import USERS

ALICE = {"Authorization": f"Bearer {USERS['alice']}"}


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("geohub: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _hostile_repo(hub_server, repo_id: str, names: list[str]) -> None:
    """A repository whose tree holds `names`, written straight into the server's storage (as another, hostile
    server would serve it: geohub's own server refuses such names at commit time)."""
    namespace, name = repo_id.split("/")
    created = httpx.post(
        f"{hub_server.endpoint}/api/repos/create", json={"name": name, "type": "model"}, headers=ALICE
    )
    assert created.status_code == 200, created.text
    store = HubStore(hub_server.root, {})
    head = store.refs("model", repo_id)["branches"]["main"]
    tree = dict(store.commit("model", repo_id, head)["tree"])
    for i, path in enumerate(names):
        tree[path] = store._store_bytes(f"file {i}\n".encode(), lfs=False)
    commit_id = store._write_commit(store.repo_dir("model", repo_id), [head], tree, "hostile", "", namespace)
    store.set_ref("model", repo_id, "branches", "main", commit_id)


HOSTILE = r"""
import json
from pathlib import Path
from geohub import hub
from geohub.errors import HubError
out = {}
existing = Path("existing"); existing.mkdir(); (existing / "mine.txt").write_text("keep me")
for target in ("fresh", "existing"):
    try:
        hub.pull("alice/hostile", local_dir=target, overwrite=target == "existing")  # past the folder check
        out[target] = "returned"
    except HubError as err:
        out[target] = str(err)
out["fresh_exists"] = Path("fresh").exists()
out["existing_files"] = sorted(p.name for p in existing.rglob("*"))
out["escaped"] = [str(p) for p in Path("..").glob("evil*")] + [str(p) for p in Path(".").glob("*evil*")]
out["leftovers"] = sorted(p.name for p in Path(".").iterdir() if p.name.startswith("."))
print("RESULT " + json.dumps(out))
"""


def test_a_hostile_file_name_writes_nothing(hub_server, hub_client, geohub_cli_at, tmp_path):
    _hostile_repo(hub_server, "alice/hostile", ["a.json", "b.json", "config.json", "d.txt", "..\\..\\evil.txt"])
    out, _ = hub_client(HOSTILE)
    for target in ("fresh", "existing"):
        assert "holds a file named '..\\\\..\\\\evil.txt'" in out[target] and "nothing was downloaded" in out[target]
    assert out["fresh_exists"] is False
    assert out["existing_files"] == ["mine.txt"]
    assert out["escaped"] == [] and out["leftovers"] == []
    cli = geohub_cli_at("pull", "alice/hostile", "--local-dir", str(tmp_path / "cli-target"))
    assert cli.returncode != 0 and not (tmp_path / "cli-target").exists()
    assert _one_error_line(cli.stderr).count("evil.txt") == 1 and "Traceback" not in cli.stderr


ATOMIC = r"""
import hashlib, json
from pathlib import Path
import httpx, torch
from geohub import hub
from geohub.errors import HubError
from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking
torch.manual_seed(0)
SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3)).save_pretrained("model")
hub.push("model", "alice/atomic", remote_code=False)
import os
def fault(count):
    answer = httpx.post(os.environ["HF_ENDPOINT"] + "/_testing/faults", headers={"Authorization": "Bearer ADMIN"},
                        json={"repo_id": "alice/atomic", "path": "model.safetensors", "mode": "truncate", "count": count})
    assert answer.status_code == 200, answer.text
out = {}
fault(3)  # every attempt corrupt: the pull fails ...
try:
    hub.pull("alice/atomic", local_dir="target")
except HubError as err:
    out["error"] = str(err)
out["target_exists"] = Path("target").exists()   # ... and leaves nothing, not even config.json
Path("target").mkdir(); (Path("target") / "config.json").write_text("old")
fault(3)
try:  # even with overwrite=True, a failed pull leaves the folder as it was
    hub.pull("alice/atomic", local_dir="target", overwrite=True)
except HubError:
    pass
out["old_config_kept"] = (Path("target") / "config.json").read_text() == "old"
try:  # someone's non-empty folder: refused before any download, unless overwrite=True
    hub.pull("alice/atomic", local_dir="target")
except HubError as err:
    out["foreign_refused"] = str(err)
out["ok"] = sorted(p.name for p in hub.pull("alice/atomic", local_dir="target", overwrite=True).iterdir())
out["again"] = sorted(p.name for p in hub.pull("alice/atomic", local_dir="target").iterdir())  # its own pull: updated
out["leftovers"] = sorted(p.name for p in Path(".").iterdir() if p.name.startswith("."))
print("RESULT " + json.dumps(out))
"""


def test_a_failed_pull_leaves_the_target_as_it_was(hub_server, hub_client):
    out, _ = hub_client(ATOMIC.replace("ADMIN", hub_server.admin_token))
    assert "model.safetensors from alice/atomic" in out["error"] and "failed its hash check 3 times" in out["error"]
    assert out["target_exists"] is False
    assert out["old_config_kept"] is True
    assert "not filled by a pull of alice/atomic" in out["foreign_refused"] and "--overwrite" in out["foreign_refused"]
    assert {"config.json", "model.safetensors"} <= set(out["ok"]) and ".cache" not in out["ok"]
    assert out["again"] == out["ok"]
    assert out["leftovers"] == []


PICKLES = r"""
import gzip, io, json, os, pickle, zipfile
from pathlib import Path
import torch
from huggingface_hub import HfApi
from geohub import hub
from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking
torch.manual_seed(0)
folder = Path("model")
SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3)).save_pretrained(folder)
torch.save({"w": torch.ones(2)}, folder / "extra_weights.PT")
(folder / "model.pkl.gz").write_bytes(gzip.compress(pickle.dumps({"a": 1})))
(folder / "opt.CKPT").write_bytes(pickle.dumps([1]))
torch.save({"w": torch.ones(2)}, folder / "weights.dat")                 # a torch zip under an innocent name
(folder / "state.npy").write_bytes(pickle.dumps({"x": 1}, protocol=4))   # raw pickle opcodes
(folder / "notes.txt").write_text("(c) 2026 not a pickle\n")
hub.push(folder, "alice/pickle-push", remote_code=False)
api = HfApi()
out = {"pushed": sorted(api.list_repo_files("alice/pickle-push"))}
api.create_repo("alice/pickle-pull")
for name in ["model.safetensors", "config.json"]:
    api.upload_file(path_or_fileobj=folder / name, path_in_repo=name, repo_id="alice/pickle-pull")
for name in ["extra_weights.PT", "model.pkl.gz", "opt.CKPT", "weights.dat", "state.npy", "notes.txt"]:
    api.upload_file(path_or_fileobj=folder / name, path_in_repo=f"sub/{name}", repo_id="alice/pickle-pull")
pulled = hub.pull("alice/pickle-pull", local_dir="pulled")
out["pulled"] = sorted(p.relative_to(pulled).as_posix() for p in pulled.rglob("*") if p.is_file())
opted = hub.pull("alice/pickle-pull", local_dir="opted", allow_pickle=True)
out["opted"] = sorted(p.relative_to(opted).as_posix() for p in opted.rglob("*") if p.is_file())
print("RESULT " + json.dumps(out))
"""


def test_pickles_are_recognised_by_name_case_compression_and_content(hub_client):
    out, proc = hub_client(PICKLES)
    assert out["pushed"] == [
        ".gitattributes",
        "README.md",
        "config.json",
        "geohub_checksums.json",
        "model.safetensors",
        "notes.txt",
    ]
    assert out["pulled"] == [".geohub_pull.json", ".gitattributes", "config.json", "model.safetensors",
                             "sub/notes.txt"], proc.stderr[
        -2000:
    ]
    assert len(out["opted"]) == 10  # the 9 files and the pull's marker


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("a.PT", b"anything", True),
        ("m.pkl.gz", b"anything", True),
        ("c.Ckpt", b"", True),
        ("w.pth", b"", True),
        ("j.joblib", b"", True),
        ("t.bin.xz", b"", True),
        ("weights.dat", pickle.dumps({"a": 1}, protocol=2), True),
        ("weights.dat", pickle.dumps({"a": 1}, protocol=5), True),
        ("weights.dat", b"cos\nsystem\n(S'ls'\ntR.", True),  # protocol 0, the classic exploit
        ("weights.dat", gzip.compress(pickle.dumps([1, 2])), True),
        ("model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ", False),
        ("LICENSE", b"(c) 2026 geohub\n", False),
        ("config.json", b'{"model_type": "x"}', False),
        ("data.gz", gzip.compress(b"plain text"), False),
    ],
)
def test_is_pickle_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert is_pickle_file(path) is expected


def test_torch_zip_is_a_pickle_whatever_its_name(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "weights.data")
    assert is_pickle_file(tmp_path / "weights.data")


def test_push_errors_name_the_users_folder(geohub_cli_at, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    (folder / "config.json").write_text("{not json")
    result = geohub_cli_at("push", str(folder), "alice/named")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert str(folder / "config.json") in _one_error_line(result.stderr) and "geohub-push-" not in result.stderr
    no_weights = tmp_path / "empty-model"
    no_weights.mkdir()
    (no_weights / "config.json").write_text(json.dumps({"model_type": "bert"}))
    result = geohub_cli_at("push", str(no_weights), "alice/named")
    assert result.returncode != 0 and str(no_weights) in result.stderr and "safetensors" in result.stderr


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("prefix", [b"", b"I0\n0", b"I0\nI1\n00", b"harmless text\n"], ids=["bare", "int-pop",
                                                                                        "two-ints", "text"])  # fmt: skip
def test_a_pickle_of_every_protocol_is_caught_after_a_harmless_prefix(tmp_path, protocol, prefix):
    """Issue #21 case 7: `I0\\n0` + a protocol-0 pickle was kept by pull and `pickle.loads` ran `os.system`."""
    path = tmp_path / "data.txt"
    path.write_bytes(prefix + pickle.dumps(_RunsCode(), protocol=protocol))
    assert is_pickle_file(path)


@pytest.mark.parametrize("content", [b"copy\nsystem\nplain notes\n", pickle.dumps([1, "a"], protocol=0),
                                     b"I0\n0 and then plain text", bytes(range(256)) * 64,
                                     b"time,magnitude\n2020-01-01,3.1\n" * 100])  # fmt: skip
def test_text_that_only_looks_like_opcodes_is_kept(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert not is_pickle_file(path)


_MiB = 1 << 20


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("padding", [b"plain text, no opcodes\n" * (_MiB // 23 + 7), bytes(range(256)) * (_MiB // 256 + 3)],
                         ids=["text", "binary"])  # fmt: skip
def test_a_pickle_after_the_first_mib_is_caught(tmp_path, protocol, padding):
    """The scan reads the whole file, not its first MiB: a pickle after 1 MiB of padding (every protocol)."""
    assert len(padding) > _MiB
    path = tmp_path / "table.csv"
    path.write_bytes(padding + pickle.dumps(_RunsCode(), protocol=protocol) + padding)
    assert is_pickle_file(path)
    path.write_bytes(padding + pickle.dumps([1, "a"], protocol=protocol) + padding)  # a pickle that runs no code
    assert not is_pickle_file(path)


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
@pytest.mark.parametrize("shift", [-3, -1, 0, 1, 7])
def test_a_pickle_across_a_chunk_boundary_is_caught(tmp_path, protocol, shift):
    """The chunks overlap: a pickle whose first opcodes straddle the 1 MiB (or 2 MiB) boundary is still found."""
    for boundary in (_MiB, 2 * _MiB):
        path = tmp_path / "data.bin"
        path.write_bytes(b"\n" * (boundary + shift) + pickle.dumps(_RunsCode(), protocol=protocol) + b"\n" * 100)
        assert is_pickle_file(path), boundary + shift


def test_a_compressed_pickle_after_padding_is_caught(tmp_path):
    path = tmp_path / "data.gz"
    path.write_bytes(gzip.compress(b"x" * (3 * _MiB) + pickle.dumps(_RunsCode(), protocol=4)))
    assert is_pickle_file(path)
    path.write_bytes(gzip.compress(b"x" * (3 * _MiB)))
    assert not is_pickle_file(path)


def test_the_scan_holds_a_bounded_amount_of_memory(tmp_path):
    """A 48 MiB file is scanned whole with a Python-heap peak of a few MiB (one chunk plus its overlap)."""
    import tracemalloc

    path = tmp_path / "big.dat"
    with open(path, "wb") as handle:
        for _ in range(48):
            handle.write(bytes(range(256)) * (_MiB // 256))
        handle.write(pickle.dumps(_RunsCode(), protocol=2))
    tracemalloc.start()
    try:
        assert is_pickle_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * _MiB, peak
