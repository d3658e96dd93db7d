"""Shared test fixtures.

Before anything imports huggingface_hub or transformers, the session gets a temporary `HF_HOME`, runs offline
(`HF_HUB_OFFLINE=1`) and never uses Xet; tests that talk to geohub's local Hub server switch the endpoint
themselves (see tests/hub). Torch uses one thread per process so that parallel test processes and
`accelerate launch` runs do not oversubscribe the 2-core CI machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_SESSION_HOME = tempfile.mkdtemp(prefix="geohub-test-hf-home-")
os.environ["HF_HOME"] = _SESSION_HOME
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOHUB_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real data sets); tests needing it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set GEOHUB_SHARED_DATA)")
    return SHARED_DATA


def run_command(args: list[str], *, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run a command (e.g. the `geohub` CLI or `accelerate launch`) and return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        args, cwd=cwd or REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def geohub_cli():
    """Call the installed `geohub` console script: `geohub_cli("env", "--json")`."""

    def _run(*args: str, **kwargs):
        return run_command([sys.executable, "-m", "geohub.cli", *args], **kwargs)

    return _run


@pytest.fixture(scope="session")
def denoiser_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised seismic denoiser saved with its feature extractor (CLI and pipeline tests)."""
    import torch

    from geohub.models.seismic_denoiser import (
        SeismicDenoiserConfig,
        SeismicDenoiserFeatureExtractor,
        SeismicDenoiserForDenoising,
    )

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("denoiser")
    model = SeismicDenoiserForDenoising(SeismicDenoiserConfig(hidden_sizes=[4, 8], window_length=600))
    model.save_pretrained(folder)
    SeismicDenoiserFeatureExtractor.from_config(model.config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def landform_dir(tmp_path_factory):
    """A tiny untrained landform classifier's folder (16-cell patches, 50 m)."""
    from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
    from geohub.models.terrain_gan import TerrainImageProcessor

    folder = tmp_path_factory.mktemp("landform")
    torch.manual_seed(0)
    LandformCNNForImageClassification(LandformConfig(image_size=16, hidden_sizes=[4, 8])).save_pretrained(folder)
    TerrainImageProcessor(normalization="patch", spacing_m=50.0, patch_size=16).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def landform(landform_dir):
    """The tiny landform classifier of `landform_dir` behind `pipeline("landform-classification")`."""
    from transformers import pipeline

    import geohub  # noqa: F401  (registers the pipelines)

    return pipeline("landform-classification", model=str(landform_dir))


@pytest.fixture(scope="module")
def picker_dir(tmp_path_factory) -> Path:
    """A tiny untrained phase picker (hidden sizes 4/8/12, 1000-sample windows) saved with its feature extractor."""
    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    folder = tmp_path_factory.mktemp("picker")
    torch.manual_seed(0)
    config = SeismicPickerConfig(hidden_sizes=[4, 8, 12], window_length=1000)
    SeismicPickerForPhasePicking(config).save_pretrained(folder)
    SeismicFeatureExtractor(sampling_rate=config.sampling_rate, window_length=config.window_length).save_pretrained(
        folder
    )
    return folder


@pytest.fixture(scope="module")
def picker(picker_dir):
    """`picker_dir` behind `pipeline("seismic-phase-picking")`."""
    from transformers import pipeline

    import geohub  # noqa: F401  (registers the pipelines)

    return pipeline("seismic-phase-picking", model=str(picker_dir))
