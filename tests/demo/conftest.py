"""Session fixtures of the demo tests: tiny trained models of every family (once), and the app on 127.0.0.1.

The models come from the quickstart code path (`geohub.quickstart.run_quickstart` with `smoke_overrides()`: the
declared recipes of every family with seconds-long data and model sizes), so every tab serves a model trained
and saved exactly as `geohub quickstart` does it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geohub.demo import DemoModels, launch_demo
from geohub.quickstart import model_is_saved, quickstart_recipes, run_quickstart, smoke_overrides


@pytest.fixture(scope="session")
def demo_models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-models")
    run_quickstart(folder, tasks=list(quickstart_recipes()), overrides=smoke_overrides(), echo=lambda *_: None)
    for task in ("summarization", "knowledge_extraction", "seismic_picking", "seismic_magnitude", "terrain_gan",
                 "landform"):  # fmt: skip
        assert model_is_saved(folder / task), f"no {task} model in {folder}"
    return folder


@pytest.fixture(scope="session")
def demo_url(demo_models_dir):
    """URL of the demo serving the tiny models, launched once on a free port of 127.0.0.1."""
    models = DemoModels(models_dir=demo_models_dir)
    demo, url = launch_demo(models, host="127.0.0.1", port=0, prevent_thread_lock=True)
    assert url.startswith("http://127.0.0.1:")
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(demo_url):
    from gradio_client import Client

    return Client(demo_url, verbose=False)
