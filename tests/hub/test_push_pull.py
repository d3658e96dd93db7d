"""`geohub push` / `geohub pull` / `geohub models` and the Python API against the test Hub server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import geohub.models.seismic_picker
from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking

from .conftest import USERS


def _tiny_picker(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3))
    model.save_pretrained(folder)
    (folder / "all_results.json").write_text(json.dumps({"eval_loss": 0.25, "eval_pick_f1": 0.75, "epoch": 1.0}))
    torch.save({"not": "pushed"}, folder / "training_args.bin")  # what Trainer writes: a pickle, never published
    (folder / "checkpoint-1").mkdir(exist_ok=True)
    (folder / "checkpoint-1" / "optimizer.pt").write_bytes(b"x")
    return folder


@pytest.mark.slow
def test_cli_push_pull_revisions_and_card(geohub_cli_at, tmp_path):
    folder = _tiny_picker(tmp_path / "picker", seed=0)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("task: seismic_picking\nlearning_rate: 0.003\nnum_train_epochs: 2\n")
    first_weights = load_file(folder / "model.safetensors")
    pushed = geohub_cli_at(
        "push", str(folder), "alice/cli-picker", "--private", "--tag", "v1", "--recipe", str(recipe),
        "--data", "alice/catalog",
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    _tiny_picker(folder, seed=1)  # a second run of the same model goes to a branch
    pushed_dev = geohub_cli_at("push", str(folder), "alice/cli-picker", "--branch", "dev", "-m", "second run")
    assert pushed_dev.returncode == 0, pushed_dev.stderr
    pulled = geohub_cli_at("pull", "alice/cli-picker", "--revision", "v1", "--local-dir", str(tmp_path / "v1"))
    assert pulled.returncode == 0, pulled.stderr
    local = Path(pulled.stdout.strip().splitlines()[-1])
    weights = load_file(local / "model.safetensors")
    assert weights.keys() == first_weights.keys()
    assert all(torch.equal(weights[k], first_weights[k]) for k in weights), "tag v1 must give the first run's weights"
    names = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file() and ".cache" not in p.parts}
    assert "training_args.bin" not in names and not any(n.startswith("checkpoint-") for n in names)
    assert {"config.json", "README.md", "modeling_seismic_picker.py", "configuration_seismic_picker.py"} <= names
    # the family folder ships as it is: no bundled or rewritten geohub modules beside it
    assert not any(n.startswith("geohub_") and n.endswith(".py") for n in names), names
    shipped = Path(geohub.models.seismic_picker.__file__).parent / "modeling_seismic_picker.py"
    assert (local / "modeling_seismic_picker.py").read_bytes() == shipped.read_bytes()
    card = (local / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert (
        metadata["library_name"] == "geohub" and "geophysics" in metadata["tags"] and "seismology" in metadata["tags"]
    )
    assert metadata["license"] == "apache-2.0" and metadata["datasets"] == ["alice/catalog"]
    # a picker has no fitting Hub widget (token-classification would offer a text box)
    assert metadata.get("pipeline_tag") is None
    metrics = {m["type"]: m["value"] for m in metadata["model-index"][0]["results"][0]["metrics"]}
    assert metrics == {"loss": 0.25, "pick_f1": 0.75}
    assert "learning_rate: 0.003" in card and "PhaseNet" in card and 'from_pretrained("alice/cli-picker"' in card
    for token in USERS.values():
        assert token not in card and token not in pushed.stdout + pushed.stderr + pulled.stdout + pulled.stderr
    listed = geohub_cli_at("models", "--author", "alice")
    assert listed.returncode == 0 and "alice/cli-picker" in listed.stdout.split()


INTEGRITY = r"""
import json, os, hashlib
from pathlib import Path
import httpx, torch
from huggingface_hub import HfApi
from geohub import hub
from geohub.errors import HubError
import geohub.models.seismic_picker
from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking

endpoint = os.environ["HF_ENDPOINT"]
torch.manual_seed(0)
folder = Path("model")
SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3)).save_pretrained(folder)
original = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
hub.push(folder, "alice/integrity", remote_code=False)
out = {}

def fault(mode, count):
    answer = httpx.post(f"{endpoint}/_testing/faults", headers={"Authorization": "Bearer ADMIN_TOKEN"},
                        json={"repo_id": "alice/integrity", "path": "model.safetensors", "mode": mode, "count": count})
    assert answer.status_code == 200, answer.text

def pulled_hash(**kw):
    path = hub.pull("alice/integrity", **kw)
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest(), path

fault("flip", 3)  # as many as pull's attempts: it gives up
try:
    hub.pull("alice/integrity", local_dir="hopeless")
    out["hopeless"] = "returned"
except HubError as err:
    out["hopeless"] = "hash check" in str(err)
fault("flip", 1)   # same size, one byte changed: only a hash check notices
out["flip"] = pulled_hash(local_dir="flip")[0] == original
fault("truncate", 1)
out["truncate"] = pulled_hash(local_dir="truncate")[0] == original
digest, cached = pulled_hash()           # into the HF cache ...
blob = (cached / "model.safetensors").resolve()
blob.write_bytes(b"\0" + blob.read_bytes()[1:])   # ... which then rots on disk
out["cache_rot"] = pulled_hash()[0] == original

api = HfApi(endpoint=endpoint)
api.create_repo("alice/pickled")
torch.save({"w": torch.ones(2)}, "pytorch_model.bin")
api.upload_file(path_or_fileobj="pytorch_model.bin", path_in_repo="pytorch_model.bin", repo_id="alice/pickled")
api.upload_file(path_or_fileobj=b'{"model_type": "bert"}', path_in_repo="config.json", repo_id="alice/pickled")
try:
    hub.pull("alice/pickled")
    out["pickle_refused"] = False
except HubError as err:
    out["pickle_refused"] = "allow_pickle" in str(err)
out["pickle_opt_in"] = (hub.pull("alice/pickled", allow_pickle=True) / "pytorch_model.bin").is_file()
out["load_model"] = type(hub.load_model("alice/integrity")).__name__ == "SeismicPickerForPhasePicking"
try:
    hub.pull("alice/integrity", token=None, revision="no-such-branch")
    out["bad_revision"] = False
except HubError as err:
    out["bad_revision"] = "not found" in str(err)
print("RESULT " + json.dumps(out))
"""


def test_corrupt_downloads_are_refetched_and_pickles_refused(hub_client, hub_server):
    out, proc = hub_client(INTEGRITY.replace("ADMIN_TOKEN", hub_server.admin_token))
    assert out == {"flip": True, "truncate": True, "cache_rot": True, "hopeless": True, "pickle_refused": True,
                   "pickle_opt_in": True, "bad_revision": True, "load_model": True}, proc.stderr[-3000:]  # fmt: skip
    assert "hash mismatch" in proc.stderr


def _huggingface_co_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.real_hub
def test_pull_from_the_real_hub(tmp_path):
    """The same `geohub.hub.pull` against huggingface.co (skipped offline): a public repo, hash-verified."""
    if not _huggingface_co_reachable():
        pytest.skip("huggingface.co is not reachable (offline)")
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"})
    code = (
        "from geohub import hub\n"
        "path = hub.pull('hf-internal-testing/tiny-random-bert', local_dir='tiny')\n"
        "print((path / 'config.json').is_file(), not list(path.glob('*.bin')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["True", "True"]


DATASETS = r"""
import json
from pathlib import Path
import datasets
from geohub import hub

features = datasets.Features({"station": datasets.Value("string"), "magnitude": datasets.Value("float32"),
                              "phase": datasets.ClassLabel(names=["P", "S"])})
table = datasets.Dataset.from_dict({"station": ["ABC", "DEF", "GHI"], "magnitude": [1.5, 2.25, 3.0],
                                    "phase": [0, 1, 0]}, features=features)
folder = Path("catalog")
(folder / "data").mkdir(parents=True)
table.to_parquet(folder / "data" / "train.parquet")
hub.push(folder, "alice/catalog", repo_type="dataset", tag="v1")
hub.push(folder, "alice/catalog-private", repo_type="dataset", private=True)
local = hub.pull("alice/catalog", repo_type="dataset", revision="v1")
back = datasets.load_dataset("parquet", data_files=str(local / "data" / "train.parquet"), split="train")
from_hub = datasets.load_dataset("alice/catalog", split="train")   # the datasets library straight from the Hub
card = (local / "README.md").read_text()
out = {"same": back.to_dict() == table.to_dict(), "same_from_hub": from_hub.to_dict() == table.to_dict(),
       "features": back.features == features, "listed": hub.list_datasets("alice"),
       "listed_by_bob": hub.list_datasets("alice", token="hf_bob_secret_token"),
       "card_tags": "geophysics" in card and "geohub" in card}
print("RESULT " + json.dumps(out))
"""


def test_datasets_push_pull_list(hub_client):
    out, proc = hub_client(DATASETS)
    assert out["same"] and out["features"] and out["card_tags"], proc.stderr[-2000:]
    assert out["same_from_hub"], "datasets.load_dataset(repo_id) against the server"
    assert sorted(out["listed"]) == ["alice/catalog", "alice/catalog-private"]
    assert out["listed_by_bob"] == ["alice/catalog"]


@pytest.mark.slow
def test_killed_push_leaves_the_remote_repo_unchanged(tmp_path):
    """`geohub push` killed while its LFS upload is in flight (a slow link): no commit, no partial object."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from geohub.testing import HubServer

    headers = {"Authorization": f"Bearer {USERS['alice']}"}
    with HubServer(tmp_path / "slow-hub", USERS, upload_delay=0.05) as server:
        httpx.post(f"{server.endpoint}/api/repos/create", json={"name": "killed", "type": "model"}, headers=headers)
        refs_url = f"{server.endpoint}/api/models/alice/killed/refs"
        tree_url = f"{server.endpoint}/api/models/alice/killed/tree/main"
        before = (httpx.get(refs_url, headers=headers).json(), httpx.get(tree_url, headers=headers).json())
        folder = _tiny_picker(tmp_path / "model", seed=0)
        (folder / "extra_weights.safetensors").write_bytes(os.urandom(8 * 1024 * 1024))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(server.client_env(token=USERS["alice"], hf_home=tmp_path / "hf-home"))
        push = subprocess.Popen([sys.executable, "-m", "geohub.cli", "push", str(folder), "alice/killed"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        partial = []
        while time.monotonic() < deadline and push.poll() is None:
            partial = [p for p in (server.root / "tmp").glob("lfs-*.part") if p.stat().st_size > 1024 * 1024]
            if partial:
                break
            time.sleep(0.05)
        assert partial, "the push never reached its LFS upload"
        os.kill(push.pid, signal.SIGKILL)
        push.wait(timeout=30)
        after = (httpx.get(refs_url, headers=headers).json(), httpx.get(tree_url, headers=headers).json())
        assert after == before, "an interrupted push changed the remote repository"
        deadline = time.monotonic() + 60  # the server drains what the kernel had buffered, then sees the drop
        while list((server.root / "tmp").glob("lfs-*.part")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not list((server.root / "tmp").glob("lfs-*.part")), "the partial LFS object was kept"
        assert (httpx.get(refs_url, headers=headers).json(), httpx.get(tree_url, headers=headers).json()) == before
