"""Which models the demo serves, and loading them once.

Each of the six models is found, first match wins, by:

1. an explicit source (the `geohub demo --picker-model ...` flags, or `build_demo(sources={...})`);
2. its environment variable (`GEOHUB_PICKER_MODEL`, ...; see `MODEL_SPECS`);
3. the folder `<models_dir>/<task>` written by `geohub quickstart`, where `models_dir` is `GEOHUB_MODELS_DIR`
   or `geohub.environment.default_output_dir()`.

A source is a local folder or a Hub repo id (`user/name`, optionally `user/name@revision`), which is downloaded
with `huggingface_hub.snapshot_download` (honouring `HF_HUB_OFFLINE`). A model that cannot be found or loaded
does not stop the demo: its tab answers with the reason.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HubError
from ..utils import get_logger

logger = get_logger(__name__)

__all__ = ["ModelSpec", "MODEL_SPECS", "DemoModels", "resolve_source", "default_models_dir"]


@dataclass(frozen=True)
class ModelSpec:
    """One served model: the quickstart task that trains it, its env variable and CLI flag, what it does."""

    task: str
    env: str
    flag: str
    description: str


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.task: spec
    for spec in (
        ModelSpec("summarization", "GEOHUB_SUMMARIZATION_MODEL", "--summarization-model", "abstract summarizer"),
        ModelSpec("knowledge_extraction", "GEOHUB_KNOWLEDGE_MODEL", "--knowledge-model", "entity tagger"),
        ModelSpec("seismic_picking", "GEOHUB_PICKER_MODEL", "--picker-model", "P/S phase picker and detector"),
        ModelSpec("seismic_magnitude", "GEOHUB_MAGNITUDE_MODEL", "--magnitude-model", "magnitude estimator"),
        ModelSpec("terrain_gan", "GEOHUB_TERRAIN_MODEL", "--terrain-model", "terrain GAN"),
        ModelSpec("landform", "GEOHUB_LANDFORM_MODEL", "--landform-model", "landform classifier"),
    )
}


def default_models_dir() -> Path:
    """`GEOHUB_MODELS_DIR`, else the quickstart's output folder."""
    from ..environment import default_output_dir

    value = os.environ.get("GEOHUB_MODELS_DIR")
    return Path(value).resolve() if value else default_output_dir()


def resolve_source(source: str | os.PathLike) -> Path:
    """A local folder as is; a Hub repo id (`user/name[@revision]`) downloaded to the local cache."""
    path = Path(os.path.expanduser(os.fspath(source)))
    if path.is_dir():
        return path.resolve()
    text = os.fspath(source)
    repo_id, _, revision = text.partition("@")
    if text.startswith((".", "/", "~")) or repo_id.count("/") != 1:
        raise HubError("model folder not found", path=text, expected="a saved model folder or a Hub repo id user/name")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision or None))
    except Exception as err:  # offline, unknown repo, no access: all end as "this model is unavailable"
        raise HubError(f"cannot download {repo_id!r}: {type(err).__name__}: {err}", field=repo_id) from None


def _load_text(path: Path):
    from ..inference.text import load_text_model

    return load_text_model(str(path))


def _load_picker(path: Path):
    from ..inference.seismic import load_feature_extractor
    from ..models.seismic_picker import SeismicPickerForPhasePicking

    model = SeismicPickerForPhasePicking.from_pretrained(str(path)).eval()
    return model, load_feature_extractor(model)


def _load_magnitude(path: Path):
    from ..inference.seismic import load_feature_extractor
    from ..models.seismic_magnitude import SeismicMagnitudeForRegression

    model = SeismicMagnitudeForRegression.from_pretrained(str(path)).eval()
    return model, load_feature_extractor(model, amplitude=True)


def _terrain_processor(path: Path, model):
    from ..models.terrain_gan import TerrainProcessor

    if (path / "preprocessor_config.json").is_file():
        return TerrainProcessor.from_pretrained(str(path))
    return model.default_processor() if hasattr(model, "default_processor") else TerrainProcessor()


def _load_terrain(path: Path):
    from ..models.terrain_gan import TerrainGAN

    model = TerrainGAN.from_pretrained(str(path)).eval()
    return model, _terrain_processor(path, model)


def _load_landform(path: Path):
    from ..models.landform import LandformCNNForImageClassification
    from ..models.terrain_gan import TerrainProcessor

    model = LandformCNNForImageClassification.from_pretrained(str(path)).eval()
    if (path / "preprocessor_config.json").is_file():
        processor = TerrainProcessor.from_pretrained(str(path))
    else:
        processor = TerrainProcessor(normalization="patch", patch_size=model.config.image_size)
    return model, processor


_LOADERS = {
    "summarization": _load_text,
    "knowledge_extraction": _load_text,
    "seismic_picking": _load_picker,
    "seismic_magnitude": _load_magnitude,
    "terrain_gan": _load_terrain,
    "landform": _load_landform,
}


class DemoModels:
    """The demo's models, each loaded once on first use (thread-safe) and kept; failures are kept as messages.

    Args:
        sources: task -> local folder or Hub repo id, overriding the environment variables.
        models_dir: folder of `geohub quickstart`'s models (default `default_models_dir()`).
    """

    def __init__(self, sources: dict[str, str | None] | None = None, models_dir: str | os.PathLike | None = None):
        unknown = set(sources or {}) - set(MODEL_SPECS)
        if unknown:
            raise ValueError(f"unknown demo model(s) {sorted(unknown)}; known: {sorted(MODEL_SPECS)}")
        self.models_dir = Path(models_dir).resolve() if models_dir is not None else default_models_dir()
        self.sources: dict[str, str] = {}
        for task, spec in MODEL_SPECS.items():
            explicit = (sources or {}).get(task)
            self.sources[task] = str(explicit or os.environ.get(spec.env) or self.models_dir / task)
        self._loaded: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, task: str):
        """The loaded model bundle of `task` (e.g. `(model, processor)`); raises `HubError` when unavailable."""
        with self._lock:
            if task not in self._loaded and task not in self._errors:
                self._load(task)
            if task in self._errors:
                spec = MODEL_SPECS[task]
                raise HubError(
                    f"the {spec.description} is not available: {self._errors[task]}",
                    expected=f"run `geohub quickstart`, or set {spec.env} / {spec.flag} to a model folder or Hub id",
                )
            return self._loaded[task]

    def _load(self, task: str) -> None:
        source = self.sources[task]
        try:
            path = resolve_source(source)
            self._loaded[task] = _LOADERS[task](path)
            logger.info("demo: loaded %s from %s", task, path)
        except Exception as err:  # any failure to load is reported in the tab, the server keeps serving
            self._errors[task] = f"{source}: {err}"
            logger.warning("demo: %s unavailable (%s)", task, err)

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
            lines.append(f"- **{spec.description}** (`{spec.env}`): `{self.sources[task]}`: {state}")
        return "\n".join(lines)
