"""Which models the demo serves, and loading them once.

The slots are those the families declare (`DemoDecl` in `geohub/models/<family>/family.py`). Each slot's model is
found, first match wins, by:

1. an explicit source (the `geohub demo --picker-model ...` flags, or `build_demo(sources={...})`);
2. its environment variable (`GEOHUB_PICKER_MODEL`, ...; on a Space: its variables);
3. the folder `<models_dir>/<slot>` written by `geohub quickstart`, when it holds a saved model (`config.json`),
   where `models_dir` is `GEOHUB_MODELS_DIR` or `geohub.environment.default_output_dir()` (`$GEOHUB_HOME`);
4. the default shipped with geohub (`geohub.defaults.default_model_path(slot)`).

A source is a local folder or a Hub repo id (`user/name`, optionally `user/name@revision`), which is downloaded
with `huggingface_hub.snapshot_download` (honouring `HF_HUB_OFFLINE`). A model named by a flag or a variable that
cannot be loaded is an error (no silent fallback to another model). A model that cannot be found or loaded does
not stop the demo: its tab answers with the reason and the setting that names the model.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GeohubError, HubError
from ..inference.loading import resolve_source
from ..utils import get_logger

logger = get_logger(__name__)

__all__ = ["ModelSpec", "MODEL_SPECS", "model_specs", "DemoModels", "resolve_source", "default_models_dir"]


@dataclass(frozen=True)
class ModelSpec:
    """One served model slot (from its family's `DemoDecl`): the slot (also the quickstart folder), its env
    variable and CLI flag, what it does, and the family that declares it."""

    task: str
    env: str
    flag: str
    description: str
    family: str


def model_specs() -> dict[str, ModelSpec]:
    """The demo's model slots, derived from the families' declarations (`geohub.auto.demo_slots`)."""
    from ..auto import demo_slots

    return {slot: ModelSpec(slot, decl.env, decl.flag, decl.description, family.name)
            for slot, (family, decl) in demo_slots().items()}  # fmt: skip


MODEL_SPECS: dict[str, ModelSpec] = model_specs()


def default_models_dir() -> Path:
    """`GEOHUB_MODELS_DIR`, else the quickstart's output folder."""
    from ..environment import default_output_dir

    value = os.environ.get("GEOHUB_MODELS_DIR")
    return Path(value).resolve() if value else default_output_dir()


def _load(path: Path, processor: bool = True):
    """(model, processor) of any geohub model folder: one loader for every slot; `(model, None)` for a slot whose
    family declares no processor (`Family.processor_auto` None: the catalogue forecasters)."""
    from ..inference.loading import load_model_and_processor

    return load_model_and_processor(path, processor=processor)


def _has_processor(task: str) -> bool:
    """Whether the family declaring slot `task` saves a processor with its models (asked from its declaration)."""
    from ..auto import families

    return families()[MODEL_SPECS[task].family].processor_auto is not None


def _shipped_default(task: str) -> Path:
    """The folder of the default model shipped with geohub for `task` (GeohubError when it is unavailable)."""
    from ..defaults import default_model_path

    return default_model_path(task)


def on_space() -> bool:
    """True inside a Hugging Face Space (the Space runtime sets `SPACE_ID`)."""
    return bool(os.environ.get("SPACE_ID"))


# where a slot's source came from -> how the demo names it
_ORIGINS = {
    "flag": "flag",
    "env": "environment variable",
    "quickstart": "quickstart folder",
    "default": "shipped default",
}


class DemoModels:
    """The demo's models, each loaded once on first use (thread-safe) and kept; failures are kept as messages.

    Args:
        sources: task -> local folder or Hub repo id, overriding the environment variables.
        models_dir: folder of `geohub quickstart`'s models (default `default_models_dir()`).
        space: word the advice for a Hugging Face Space (Space variables, no `geohub quickstart`); default: detected
            from the `SPACE_ID` variable that Spaces set.
    """

    def __init__(
        self,
        sources: dict[str, str | None] | None = None,
        models_dir: str | os.PathLike | None = None,
        space: bool | None = None,
    ):
        unknown = set(sources or {}) - set(MODEL_SPECS)
        if unknown:
            raise ValueError(f"unknown demo model(s) {sorted(unknown)}; known: {sorted(MODEL_SPECS)}")
        self.models_dir = Path(models_dir).resolve() if models_dir is not None else default_models_dir()
        self.space = on_space() if space is None else space
        self.sources: dict[str, str] = {}
        self.origins: dict[str, str] = {}
        for task, spec in MODEL_SPECS.items():
            self.origins[task], self.sources[task] = self._find(task, spec, (sources or {}).get(task))
        self._loaded: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def _find(self, task: str, spec: ModelSpec, explicit: str | None) -> tuple[str, str]:
        """(origin, source) of `task`: flag, environment variable, quickstart folder, else the shipped default."""
        if explicit:
            return "flag", str(explicit)
        if os.environ.get(spec.env):
            return "env", os.environ[spec.env]
        folder = self.models_dir / task
        if (folder / "config.json").is_file():
            return "quickstart", str(folder)
        return "default", "shipped default"

    def advice(self, task: str) -> str:
        """Which setting names `task`'s model, worded for a Space or for `geohub demo`."""
        spec = MODEL_SPECS[task]
        if self.space:
            return f"a Hub repo id (user/name[@revision]) or a model folder in the Space variable {spec.env}"
        return f"run `geohub quickstart`, or set {spec.env} / {spec.flag} to a model folder or Hub id"

    def get(self, task: str):
        """The loaded model bundle of `task` (e.g. `(model, processor)`); raises `HubError` when unavailable."""
        with self._lock:
            if task not in self._loaded and task not in self._errors:
                self._load(task)
            if task in self._errors:
                spec = MODEL_SPECS[task]
                raise HubError(
                    f"the {spec.description} is not available: {self._errors[task]}", expected=self.advice(task)
                )
            return self._loaded[task]

    def _load(self, task: str) -> None:
        source, origin = self.sources[task], self.origins[task]
        try:
            path = _shipped_default(task) if origin == "default" else resolve_source(source)
            self._loaded[task] = _load(path, _has_processor(task))
            logger.info("demo: loaded %s from %s (%s)", task, path, _ORIGINS[origin])
        except Exception as err:  # any failure to load is reported in the tab, the server keeps serving
            # on a Space the advice is the Space variable (`advice`), not the local remedy the error may suggest
            reason = err.message if self.space and isinstance(err, GeohubError) else err
            self._errors[task] = f"{self._describe(task)}: {reason}"
            logger.warning("demo: %s unavailable (%s)", task, err)

    def _describe(self, task: str) -> str:
        """Where `task`'s model was looked for, for an error message."""
        origin, source = self.origins[task], self.sources[task]
        if origin == "default":
            return "no model is configured and the shipped default is unavailable"
        if origin == "env":
            return f"{MODEL_SPECS[task].env}={source}"
        return f"{_ORIGINS[origin]} {source}"

    def load_all(self) -> dict[str, str]:
        """Load every model now; returns task -> "ok" or the reason it is unavailable."""
        status = {}
        for task in MODEL_SPECS:
            try:
                self.get(task)
                status[task] = "ok"
            except HubError as err:
                status[task] = str(err)
        return status

    def status_markdown(self) -> str:
        """A Markdown list of where each model comes from and whether it loaded (for the demo's header)."""
        lines = []
        for task, spec in MODEL_SPECS.items():
            state = "loaded" if task in self._loaded else ("unavailable" if task in self._errors else "not loaded yet")
            origin = self.origins[task]
            where = "shipped default" if origin == "default" else f"{_ORIGINS[origin]}: `{self.sources[task]}`"
            lines.append(f"- **{spec.description}** (`{spec.env}`): {where}: {state}")
        return "\n".join(lines)
