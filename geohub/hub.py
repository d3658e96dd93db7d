"""geohub on a Hugging Face Hub: model cards, push and pull, listings, and the remote-code export.

- `build_model_card(folder, repo_id)`: THE place that writes a model card (YAML metadata with library_name
  `geohub`, tags, license, datasets, pipeline_tag and a `model-index` from the run's `all_results.json`; a usage
  snippet; the training config; citations of the architecture and the data).
- `export_remote_code(folder)` (`geohub.remote_code`): ships the family's code with the model, so the folder loads
  with `trust_remote_code=True` where geohub is not installed.
- `push(folder, repo_id)`: create the repository (public or private), then ONE commit holding the folder, its
  card and its code (LFS objects are uploaded first and only referenced by the commit, so an interrupted push
  leaves the remote repository unchanged); optional branch and tag.
- `pull(repo_id, revision=...)`: download a revision, verify every file against the Hub's hashes (sha256 for
  LFS files, the git blob sha1 otherwise), re-fetch what is corrupt or truncated, never return it. Pickled
  weights (`*.bin`, `*.pt`, ...) are refused unless `allow_pickle=True`.
- `list_models(author)` / `list_datasets(author)`: a user's geohub repositories.

The endpoint, token, retries, resumable downloads and progress bars are those of `huggingface_hub` (`HF_ENDPOINT`,
`HF_TOKEN`); tokens are passed through, never logged and never written into a card.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import HubError
from .family import CardDecl
from .pickles import is_pickle_file, pickle_by_name
from .remote_code import export_remote_code, read_json
from .utils import get_logger

logger = get_logger(__name__)

__all__ = [
    "build_model_card",
    "export_remote_code",
    "push",
    "pull",
    "load_model",
    "list_models",
    "list_datasets",
    "PICKLE_PATTERNS",
    "is_pickle_file",
]

PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.joblib")
# never pushed: training state, checkpoints, logs, hidden files
_PUSH_IGNORE = ("checkpoint-*", ".checkpoint-staging", "runs", ".*", "__pycache__", "training_args.bin")
_PHYSICS = ["geophysics", "geohub"]


_GENERIC_CARD = CardDecl(
    task_name="Geophysics",
    architecture="see config.json",
    citation="see the model's documentation",
    data="not recorded with this model",
)
_SKIPPED_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch", "total_flos", "flos")


def auto_class_name(config: dict) -> str:
    """The transformers Auto class that loads a saved model (from its family's declaration or its class name)."""
    from .inference.loading import auto_model_class_name

    return auto_model_class_name(config)


def _training_config(folder: Path, recipe: str | os.PathLike | None) -> str | None:
    if recipe is not None:
        return Path(recipe).read_text(encoding="utf-8").strip()
    for name in ("recipe.yaml", "train_config.yaml", "config_train.yaml"):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8").strip()
    states = sorted(folder.glob("checkpoint-*/trainer_state.json")) + [folder / "trainer_state.json"]
    state = next((read_json(p) for p in reversed(states) if p.is_file()), None)
    if state:
        keys = ("max_steps", "num_train_epochs", "train_batch_size", "global_step", "logging_steps", "eval_steps")
        return "\n".join(f"{k}: {state[k]}" for k in keys if k in state)
    return None


def _eval_results(metrics: dict, card: CardDecl, dataset_name: str):
    """model-index entries: `eval_*` metrics on the validation split, `test_*` metrics on the test split."""
    from huggingface_hub import EvalResult

    results = []
    for key, value in sorted(metrics.items()):
        prefix, _, name = key.partition("_")
        split = {"eval": "validation", "test": "test"}.get(prefix)
        if split is None or not name or name.endswith(_SKIPPED_METRICS) or not isinstance(value, (int, float)):
            continue
        results.append(
            EvalResult(
                task_type=card.pipeline_tag or "other",
                task_name=card.task_name,
                dataset_type=dataset_name,
                dataset_name=dataset_name,
                dataset_split=split,
                metric_type=name,
                metric_name=name,
                metric_value=float(value),
            )
        )
    return results


def _card_body(repo_id: str, config: dict, facts: CardDecl, auto: str, metrics: dict, training: str | None):
    """The markdown under the card's metadata: description, usage, evaluation, training config, data, citations."""
    lines = [
        f"# {repo_id.split('/')[-1]}",
        "",
        f"A geohub model for **{facts.task_name.lower()}**: {facts.architecture} "
        f"(`{(config.get('architectures') or ['?'])[0]}`, model type `{config.get('model_type', '')}`).",
        "",
        "## Usage",
        "",
        "```python",
        "import geohub  # registers geohub's models with the transformers Auto classes",
        f"from transformers import {auto}",
        "",
        f'model = {auto}.from_pretrained("{repo_id}")',
        "```",
        "",
        "Without geohub installed, the code shipped in this repository loads it with plain transformers:",
        "",
        "```python",
        f"from transformers import {auto}",
        "",
        f'model = {auto}.from_pretrained("{repo_id}", trust_remote_code=True)',
        "```",
        "",
        "## Evaluation",
        "",
    ]
    shown = {k: v for k, v in sorted(metrics.items()) if isinstance(v, (int, float))}
    if shown:
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.6g} |" for k, v in shown.items()]
    else:
        lines.append("No evaluation metrics were recorded for this run (no all_results.json).")
    lines += ["", "## Training config", ""]
    lines += ["```yaml", training, "```"] if training else ["Not recorded with this model."]
    lines += [
        "",
        "## Data",
        "",
        facts.data,
        "",
        "## Citation",
        "",
        f"Architecture: {facts.citation}",
        "",
        "Software: geohub, machine learning for geophysics on the Hugging Face stack (https://github.com/geohub/geohub).",
        "",
    ]
    return lines


def build_model_card(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    license: str | None = None,
    datasets: list[str] | None = None,
    recipe: str | os.PathLike | None = None,
    extra_tags: list[str] | None = None,
    description: str | None = None,
    sections: dict[str, str] | None = None,
) -> str:
    """The README.md (model card) for the saved model in `folder`, to be pushed as `repo_id`: the one card builder
    (training, `geohub push` and the converters of published weights all call it).

    Reads `config.json` (family, architecture: the card's facts are the family's `CardDecl`, its licence unless
    `license` is given), `all_results.json` (metrics: with a named data set, every `eval_*` / `test_*` number
    becomes a `model-index` entry on the validation / test split) and the training config (`recipe`, or a
    recipe/trainer_state saved in the folder). `description`: a paragraph under the title (e.g. which published
    weights were converted); `sections`: extra "## title" -> markdown sections before the citation (source file
    and checksum, licence of converted weights).
    """
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(folder)
    config = read_json(folder / "config.json")
    if not config:
        raise HubError("no config.json: is this a folder written by save_pretrained?", path=folder)
    from .auto import family_for_config

    family = family_for_config(config)
    facts = family.card if family is not None else _GENERIC_CARD
    auto = auto_class_name(config)
    metrics = read_json(folder / "all_results.json")
    dataset_names = list(datasets or facts.datasets)
    tags = list(dict.fromkeys([*_PHYSICS, *facts.tags, *(extra_tags or [])]))
    data = ModelCardData(
        library_name="geohub",
        license=license or facts.license,
        tags=tags,
        datasets=dataset_names or None,
        pipeline_tag=facts.pipeline_tag,
        model_name=repo_id.split("/")[-1],
        # metrics are indexed only against a named data set: an unnamed one would be a made-up name
        eval_results=(_eval_results(metrics, facts, dataset_names[0]) or None) if dataset_names else None,
    )
    lines = _card_body(repo_id, config, facts, auto, metrics, _training_config(folder, recipe))
    if description:
        lines[1:1] = ["", description.strip()]
    if sections:
        cut = lines.index("## Citation")
        lines[cut:cut] = [part for title, text in sections.items() for part in (f"## {title}", "", text.strip(), "")]
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines)))


def _dataset_card(folder: Path, repo_id: str, license: str) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    data = DatasetCardData(license=license, tags=[*_PHYSICS], pretty_name=repo_id.split("/")[-1])
    body = [f"# {repo_id.split('/')[-1]}", "", "A geohub data set. Files:", ""] + [f"- `{f}`" for f in files]
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"))


# --- push ----------------------------------------------------------------------------------------------------------
def _api(token: str | None, endpoint: str | None):
    from huggingface_hub import HfApi

    # HF_ENDPOINT is read at call time (huggingface_hub's own constant is frozen when it is first imported)
    return HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT"), token=token, library_name="geohub")


def _endpoint_of(endpoint: str | None) -> str:
    return endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network failures of the HTTP client huggingface_hub uses (httpx, or its fork httpx2), plus the OS's own."""
    import contextlib

    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx", "httpx2"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(name).TransportError)
    return tuple(errors)


def _check_reachable(action: str, endpoint: str | None) -> None:
    """Fail at once (not after huggingface_hub's five retries, ~25 s) when nothing listens at the endpoint.

    Skipped behind a proxy (only the proxy is reachable) and in offline mode (the client refuses by itself)."""
    import socket
    from urllib.parse import urlparse

    proxies = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
    if any(os.environ.get(k) for k in proxies) or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true"):
        return
    where = _endpoint_of(endpoint)
    url = urlparse(where)
    if not url.hostname:
        raise HubError(f"{action}: the Hub endpoint '{where}' is not a URL", field="HF_ENDPOINT",
                       expected="e.g. https://huggingface.co or http://hub.local:8765")  # fmt: skip
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=10).close()
    except OSError as err:
        raise HubError(f"{action}: cannot reach the Hub at {where} ({err.strerror or err}); check HF_ENDPOINT and "
                       "the network, or set HF_HUB_OFFLINE=1 to use the local cache only") from err  # fmt: skip


def _hub_errors(action: str, repo_id: str | None, endpoint: str | None, repo_type: str = "model"):
    """A context manager turning huggingface_hub/network errors into one-line `HubError`s (what, where, what to do)."""
    import contextlib

    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = _endpoint_of(endpoint)

    @contextlib.contextmanager
    def guard():
        _check_reachable(action, endpoint)
        try:
            yield
        except HubError:
            raise
        except HFValidationError as err:
            raise HubError(f"invalid repo id '{repo_id}': {str(err).splitlines()[0]}", field="repo_id",
                           expected="namespace/name with letters, digits, '-', '_', '.'") from err  # fmt: skip
        except (RepositoryNotFoundError, RevisionNotFoundError) as err:
            if err.response is not None and err.response.status_code == 401 and "credentials" in str(err).lower():
                raise HubError(f"{action}: {where} refused the token (HTTP 401): set a valid HF_TOKEN (or run "
                               "`hf auth login`)") from err  # fmt: skip
            raise HubError(f"{action}: {repo_type} repository '{repo_id}' (or its revision) not found on {where}, or "
                           "not visible with this token: check the name, the revision and HF_TOKEN") from err  # fmt: skip
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            server = (err.server_message or str(err).splitlines()[0]).strip()
            hint = {401: "the token was refused: set a valid HF_TOKEN (or run `hf auth login`)",
                    403: "this token may not write there: use your own namespace or a token with write access",
                    413: "the server's size limit: push fewer or smaller files, or ask its administrator"}.get(
                status, "see the server's message")  # fmt: skip
            raise HubError(f"{action} on {where} failed (HTTP {status}: {server}); {hint}") from err
        except OfflineModeIsEnabled as err:
            raise HubError(f"{action}: HF_HUB_OFFLINE=1 is set, so {where} is not contacted; unset it to use the "
                           "Hub") from err  # fmt: skip
        except _transport_errors() as err:
            raise HubError(f"{action}: cannot reach the Hub at {where} ({err.__class__.__name__}: {err}); check "
                           "HF_ENDPOINT and the network") from err  # fmt: skip

    return guard()


def _check_repo_id(repo_id: str, *, namespaced: bool) -> None:
    """A repo id the Hub accepts (`namespace/name`; a push always names its namespace), before any request."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    expected = "namespace/name with letters, digits, '-', '_', '.'"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubError(f"invalid repo id '{repo_id}': {str(err).splitlines()[0]}", field="repo_id",
                       expected=expected) from None  # fmt: skip
    if namespaced and repo_id.count("/") != 1:
        raise HubError(f"invalid repo id '{repo_id}': name the namespace (your user or organisation)",
                       field="repo_id", expected=expected)  # fmt: skip


def _ignored(relative: str) -> bool:
    parts = relative.split("/")
    return any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in _PUSH_IGNORE)


def _stage(folder: Path, staging: Path, *, repo_type: str) -> None:
    for src in sorted(folder.rglob("*")):
        relative = src.relative_to(folder).as_posix()
        if not src.is_file() or _ignored(relative):
            continue
        if repo_type == "model" and is_pickle_file(src):
            logger.warning(f"not pushing pickled file {relative}: geohub publishes safetensors only")
            continue
        dst = staging / relative
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    if repo_type == "model" and not any(staging.glob("*.safetensors")):
        raise HubError("no *.safetensors weights to push (geohub publishes safetensors only)", path=folder)


def _commit_folder(api, repo_id: str, staging: Path, *, repo_type: str, branch: str | None, message: str):
    """ONE commit making the revision hold exactly the files of `staging` (not `upload_folder`, which may split
    a large folder into several commits when Xet is in use)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    remote = api.list_repo_files(repo_id, repo_type=repo_type, revision=branch)
    operations = [CommitOperationDelete(path) for path in remote if path not in files and path != ".gitattributes"]
    operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=staging / path) for path in files]
    return api.create_commit(repo_id, operations, commit_message=message, repo_type=repo_type, revision=branch)


def _in_user_terms(err: HubError, staging: Path, folder: Path) -> HubError:
    """The same error with the staging folder's path replaced by the user's folder."""
    text = str(err)
    for form in {str(staging), str(staging.resolve())}:
        text = text.replace(form, str(folder))
    if text == str(err):
        return err
    new = HubError(text)
    new.path = err.path.replace(str(staging), str(folder)) if err.path else None
    new.line, new.field, new.expected = err.line, err.field, err.expected
    return new


def push(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    repo_type: str = "model",
    private: bool = False,
    branch: str | None = None,
    tag: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    card: bool = True,
    remote_code: bool = True,
    license: str = "apache-2.0",
    datasets: list[str] | None = None,
    recipe: str | os.PathLike | None = None,
):
    """Publish `folder` as `repo_id` in ONE commit: files (safetensors only), generated card, remote code.

    Creates the repository if needed (`private` on creation), the `branch` if it does not exist (from main),
    and `tag` on the new commit. A README.md already in `folder` is kept when `card=False`, replaced otherwise.
    Pickles (by name in any case and compression, or by content) are never pushed for a model.
    Returns the `huggingface_hub.CommitInfo`. Errors (`HubError`) name `folder`, never the staging copy.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError("folder not found", path=folder)
    _check_repo_id(repo_id, namespaced=True)
    api = _api(token, endpoint)
    with tempfile.TemporaryDirectory(prefix="geohub-push-") as tmp:
        staging = Path(tmp)
        try:
            _stage(folder, staging, repo_type=repo_type)
            if repo_type == "model":
                if remote_code:
                    export_remote_code(staging)
                if card:
                    text = build_model_card(staging, repo_id, license=license, datasets=datasets, recipe=recipe)
                    (staging / "README.md").write_text(text, encoding="utf-8")
            elif card and not (staging / "README.md").is_file():
                (staging / "README.md").write_text(_dataset_card(staging, repo_id, license), encoding="utf-8")
            with _hub_errors(f"push {folder} to {repo_id}", repo_id, endpoint, repo_type):
                api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
                if branch:
                    api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
                info = _commit_folder(api, repo_id, staging, repo_type=repo_type, branch=branch,
                                      message=commit_message or f"Upload {folder.name} with geohub")  # fmt: skip
        except HubError as err:
            raise _in_user_terms(err, staging, folder) from err.__cause__
        except OSError as err:  # e.g. a corrupt weights file found while building the card: name the user's file
            if str(staging) not in str(err):
                raise
            raise HubError(str(err).replace(str(staging), str(folder))) from err
    if tag:
        with _hub_errors(f"tag {repo_id}", repo_id, endpoint, repo_type):
            api.create_tag(repo_id, tag=tag, revision=info.oid, repo_type=repo_type)
    logger.info(f"pushed {folder} to {repo_id} ({repo_type}) at {info.oid}")
    return info


# --- pull ----------------------------------------------------------------------------------------------------------
def _file_digest(path: Path, algorithm: str) -> str:
    if algorithm == "git-sha1":
        digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    else:
        digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_intact(path: Path, entry) -> bool:
    if not path.is_file() or path.stat().st_size != entry.size:
        return False
    if entry.lfs is not None:
        return _file_digest(path, "sha256") == entry.lfs.sha256
    return _file_digest(path, "git-sha1") == entry.blob_id


def _check_remote_name(name: str, repo_id: str) -> None:
    """Refuse a file name that could write outside the download folder or that no client should accept."""
    parts = name.split("/")
    if (
        not name
        or any(ord(c) < 32 or c == "\\" for c in name)
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise HubError(f"{repo_id} holds a file named {name!r}, which could write outside the download folder; "
                       "nothing was downloaded. Ask the repository's owner to rename it.")  # fmt: skip


def _fetch(api, repo_id, entry, *, repo_type, revision, local_dir, force: bool) -> Path | None:
    try:
        return Path(
            api.hf_hub_download(
                repo_id, entry.path, repo_type=repo_type, revision=revision, local_dir=local_dir,
                force_download=force,
            )
        )  # fmt: skip
    except OSError as err:  # e.g. "Consistency check failed" on a truncated transfer
        logger.warning(f"download of {entry.path} failed ({err.__class__.__name__}); fetching it again")
        return None


def _fetch_verified(api, repo_id: str, entry, *, repo_type, commit, local: Path | None, max_attempts: int) -> Path:
    path = None
    for attempt in range(max_attempts):
        path = _fetch(api, repo_id, entry, repo_type=repo_type, revision=commit, local_dir=local, force=attempt > 0)
        if path is not None and _is_intact(path, entry):
            return path
        if path is not None:
            logger.warning(f"{entry.path}: hash mismatch after download (attempt {attempt + 1}); re-fetching")
    if path is not None:
        path.unlink(missing_ok=True)
    raise HubError(f"{entry.path} from {repo_id}@{commit} failed its hash check {max_attempts} times")


PULL_MARKER = ".geohub_pull.json"  # written into a pulled local_dir: which repository filled it


def _check_pull_target(target: Path, repo_id: str, repo_type: str) -> None:
    """A non-empty `target` that no earlier pull of `repo_id` filled is someone's folder: refused, not merged."""
    if target.exists() and not target.is_dir():
        raise HubError(f"--local-dir {target} is a file, expected a folder (new, empty, or an earlier pull)")
    if not target.is_dir() or not any(target.iterdir()):
        return
    try:
        marker = json.loads((target / PULL_MARKER).read_text())
    except (OSError, ValueError):
        marker = None
    if not isinstance(marker, dict) or (marker.get("repo_id"), marker.get("repo_type")) != (repo_id, repo_type):
        raise HubError(f"--local-dir {target} is not empty and was not filled by a pull of {repo_id}: its files "
                       "would be replaced; choose a new folder or pass --overwrite")  # fmt: skip


def _publish(staging: Path, target: Path) -> None:
    """Move the verified download into `target`: one rename when `target` is new, else file by file
    (`os.replace`, config.json last); huggingface_hub's `.cache` bookkeeping stays behind."""
    from .utils import fsync_dir

    shutil.rmtree(staging / ".cache", ignore_errors=True)
    if not target.exists():
        os.replace(staging, target)
    else:
        files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: (p.name == "config.json", p))
        for src in files:
            dst = target / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(target.parent)


def _pickles_dropped(entries: list, root: Path | None, repo_id: str, repo_type: str) -> list:
    """Entries whose downloaded content turned out to be a pickle (an innocent name, pickled bytes): removed."""
    if root is None:
        return []
    found = [e for e in entries if (root / e.path).is_file() and is_pickle_file(root / e.path)]
    for entry in found:
        (root / entry.path).unlink()
    if found:
        logger.warning(f"removed pickled files {[e.path for e in found]} from {repo_id} (pickle content)")
    return found


def pull(
    repo_id: str,
    *,
    revision: str | None = None,
    repo_type: str = "model",
    local_dir: str | os.PathLike | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    allow_pickle: bool = False,
    max_attempts: int = 3,
    overwrite: bool = False,
) -> Path:
    """Download `repo_id` at `revision` (branch, tag or commit) and return the local folder.

    Every file is checked against the Hub's hash; a corrupt or truncated file is fetched again (up to
    `max_attempts` times) and a file that never verifies raises `HubError`, so nothing unverified is returned.
    With `local_dir`, everything is downloaded into a temporary sibling folder that is moved into place only
    once every file verified: a failed pull leaves `local_dir` as it was. File names that could escape the
    folder are refused before anything is downloaded. Pickled files (by name in any case and compression, or
    by content) are skipped unless `allow_pickle=True`; a model repository with only pickled weights raises.
    A non-empty `local_dir` is updated only when an earlier pull of the same repository filled it (its
    `PULL_MARKER` says so), else refused before anything is downloaded unless `overwrite=True`.
    """
    _check_repo_id(repo_id, namespaced=False)
    if local_dir is not None and not overwrite:
        _check_pull_target(Path(local_dir), repo_id, repo_type)
    api = _api(token, endpoint)
    with _hub_errors(f"pull {repo_id}", repo_id, endpoint, repo_type):
        commit = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
        entries = [e for e in api.list_repo_tree(repo_id, recursive=True, revision=commit, repo_type=repo_type)
                   if hasattr(e, "blob_id")]  # fmt: skip
    for entry in entries:
        _check_remote_name(entry.path, repo_id)
    pickled = [e for e in entries if pickle_by_name(e.path)]
    if pickled and not allow_pickle:
        entries = [e for e in entries if e not in pickled]
        _refuse_pickled_only(entries, pickled, repo_id, repo_type)
        logger.warning(f"skipping pickled files {[e.path for e in pickled]} (allow_pickle=False)")
    target = Path(local_dir) if local_dir is not None else None
    staging = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".geohub-pull", dir=target.parent))
    try:
        root = staging
        with _hub_errors(f"pull {repo_id}", repo_id, endpoint, repo_type):
            for entry in entries:
                path = _fetch_verified(api, repo_id, entry, repo_type=repo_type, commit=commit, local=staging,
                                       max_attempts=max_attempts)  # fmt: skip
                if root is None:
                    root = Path(str(path)[: -len(entry.path)].rstrip("/"))
        if root is None:
            raise HubError(f"{repo_id}@{commit} holds no files")
        if not allow_pickle:
            dropped = _pickles_dropped(entries, root, repo_id, repo_type)
            _refuse_pickled_only([e for e in entries if e not in dropped], dropped, repo_id, repo_type)
        if staging is not None:
            (staging / PULL_MARKER).write_text(json.dumps({"repo_id": repo_id, "repo_type": repo_type}) + "\n")
            _publish(staging, target)
            return target
        return root
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _refuse_pickled_only(kept: list, pickled: list, repo_id: str, repo_type: str) -> None:
    if pickled and repo_type == "model" and not any(e.path.endswith(".safetensors") for e in kept):
        raise HubError(f"{repo_id} only has pickled weights ({', '.join(e.path for e in pickled)}); loading "
                       "them can run arbitrary code. Pass allow_pickle=True (--allow-pickle) to accept.")  # fmt: skip


def load_model(
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    **kwargs: Any,
):
    """`pull` then load with the right Auto class (safetensors only unless `allow_pickle`), through the one loader
    (`geohub.inference.loading.load_model_and_processor`)."""
    from .inference.loading import load_model_and_processor

    folder = pull(repo_id, revision=revision, token=token, allow_pickle=allow_pickle)
    model, _ = load_model_and_processor(folder, processor=False, trust_remote_code=trust_remote_code,
                                        use_safetensors=None if allow_pickle else True, **kwargs)  # fmt: skip
    return model


def list_models(author: str | None = None, *, token: str | None = None, endpoint: str | None = None) -> list[str]:
    """Ids of the geohub models (library `geohub`) of `author` (all authors when None) visible with `token`."""
    with _hub_errors("list models", author, endpoint):
        return [m.id for m in _api(token, endpoint).list_models(author=author, filter="geohub")]


def list_datasets(author: str | None = None, *, token: str | None = None, endpoint: str | None = None) -> list[str]:
    """Ids of the geohub data sets (tag `geohub`) of `author` visible with `token`."""
    with _hub_errors("list data sets", author, endpoint, "dataset"):
        return [d.id for d in _api(token, endpoint).list_datasets(author=author, filter="geohub")]
