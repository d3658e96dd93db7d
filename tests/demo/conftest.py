"""Session fixtures of the demo tests: tiny trained models of every family (once), and the app on 127.0.0.1.

The models come from the quickstart code path (`geohub.quickstart.run_quickstart` with `SMOKE_OVERRIDES`: the
embedded recipes with seconds-long data and model sizes); a family that has no quickstart recipe yet gets a tiny
untrained model built from its config and `save_pretrained`, so every tab has something to serve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geohub.demo import DemoModels, launch_demo
from geohub.quickstart import model_is_saved, quickstart_recipes, run_quickstart, smoke_overrides


def _tiny_terrain_gan(folder: Path) -> None:
    from geohub.models.terrain_gan import TerrainGAN, TerrainGANConfig

    config = TerrainGANConfig(image_size=16, latent_dim=8, generator_channels=16, discriminator_channels=8,
                              min_channels=4, elevation_mean=300.0, elevation_std=100.0, spacing_m=30.0)  # fmt: skip
    model = TerrainGAN(config)
    model.save_pretrained(folder)
    model.default_processor().save_pretrained(folder)
    (folder / "all_results.json").write_text(json.dumps({}))


@pytest.fixture(scope="session")
def demo_models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-models")
    recipes = quickstart_recipes()
    run_quickstart(folder, tasks=list(recipes), overrides=smoke_overrides(), echo=lambda *_: None)
    if "terrain_gan" not in recipes:
        _tiny_terrain_gan(folder / "terrain_gan")
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
