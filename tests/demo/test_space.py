"""The Space folder: its README's YAML header, and `app.py` started as a Space starts it (no network, no model
settings) answering every endpoint from the models shipped with geohub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import gradio
import numpy as np
import pytest
import yaml

from geohub.demo import MODEL_SPECS, DemoModels
from geohub.demo.app import api_names
from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, REAL_SEISMIC_EXAMPLE, SEISMIC_EXAMPLES
from geohub.demo.handlers import SEISMIC_PICKERS
from geohub.errors import GeohubError, HubError
from geohub.utils import free_port

SPACE = Path(__file__).resolve().parents[2] / "spaces" / "geohub"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LANDFORMS = {"ridge", "hillside", "valley"}  # the shipped default's geomorphon classes (recipes/landform)


def _header() -> dict:
    text = (SPACE / "README.md").read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "spaces/geohub/README.md must start with a YAML header between --- lines"
    return yaml.safe_load(match.group(1))


def _is_png(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def test_space_header_requirements_and_settings():
    header = _header()
    assert header["sdk"] == "gradio" and header["sdk_version"] == gradio.__version__
    assert (SPACE / header["app_file"]).is_file()
    assert not header.get("models"), "the Space serves the shipped defaults; it names no Hub model repo"
    app_text = (SPACE / header["app_file"]).read_text(encoding="utf-8")
    assert "setdefault" not in app_text, "a model repo id must be an option (Space variable), not the default"
    readme = (SPACE / "README.md").read_text(encoding="utf-8")
    for spec in MODEL_SPECS.values():
        assert spec.env in readme and spec.env in app_text, f"{spec.env} is not documented for the Space"
    requirements = (SPACE / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^geohub\[[^\]]*offline[^\]]*\] @ ", requirements, re.M), "the Space needs geohub[offline]"
    assert f"gradio=={gradio.__version__}" in requirements


def _space_environment(port: int) -> dict[str, str]:
    """This environment without geohub's model settings (GEOHUB_*_MODEL, GEOHUB_MODELS_DIR, GEOHUB_HOME: the
    converted EQTransformer / GPD stay in the user's cache, ~/.cache/geohub/defaults), offline, on `port`."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("GEOHUB_") and k.endswith("_MODEL"))}
    env.pop("GEOHUB_MODELS_DIR", None)
    env.pop("GEOHUB_HOME", None)
    env.update(HF_HUB_OFFLINE="1", GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", OMP_NUM_THREADS="1")  # fmt: skip
    return env


@pytest.fixture(scope="module")
def space_client(tmp_path_factory):
    """gradio_client.Client of spaces/geohub/app.py run as a Space runs it, in a subprocess, offline."""
    from gradio_client import Client

    workdir = tmp_path_factory.mktemp("space")  # no ./geohub-quickstart here: only the shipped defaults
    port = free_port("127.0.0.1")
    log = open(workdir / "space.log", "w+", encoding="utf-8")  # noqa: SIM115 (read back on failure)
    process = subprocess.Popen([sys.executable, str(SPACE / "app.py")], cwd=workdir, stdout=log,
                               stderr=subprocess.STDOUT, env=_space_environment(port))  # fmt: skip
    try:
        deadline, page = time.monotonic() + 300, ""
        while not page:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the Space did not come up on port {port}:\n{log.read()[-4000:]}")
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(1.0)
        log.seek(0)
        startup = log.read()
        assert "unavailable" not in startup, startup[-4000:]
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# the endpoints the tests below call with chosen inputs; any other (a family's own tab) is called with its defaults
CALLED = {"summarize", "extract_knowledge", "explain_knowledge", "generate_terrain", "classify_landform",
          "explain_landform", "annotate_seismic", "explain_seismic"}  # fmt: skip


def test_space_serves_every_endpoint_from_the_shipped_defaults(space_client, tmp_path):
    client = space_client
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    served = {name.lstrip("/") for name in endpoints}
    assert served == set(api_names())
    for name in sorted(served - CALLED):  # every input has a default value in the tab: the answer must not fail
        assert all(p.get("parameter_has_default") for p in endpoints[f"/{name}"]["parameters"]), name
        assert client.predict(api_name=f"/{name}") is not None

    summary = client.predict(EXAMPLE_ABSTRACT, None, 2, api_name="/summarize")
    sentences = [s for s in re.split(r"(?<=\.)\s+", summary.strip()) if s]
    # sentences of the abstract shortened by the compression head: only deletions, word order kept
    abstract_words = iter(EXAMPLE_ABSTRACT.split())
    assert 1 <= len(sentences) <= 2 and all(word in abstract_words for word in summary.split())

    highlights, relations, picture, jsonld = client.predict(EXAMPLE_ABSTRACT, None, api_name="/extract_knowledge")
    assert "".join(part["token"] for part in highlights) == EXAMPLE_ABSTRACT
    assert any(part["class_or_confidence"] for part in highlights), "the default tagger found no entity"
    assert _is_png(picture) and os.path.getsize(jsonld) > 0

    attributions, text = client.predict(EXAMPLE_ABSTRACT, None, 1, api_name="/explain_knowledge")
    assert attributions and text.strip()

    shade, colour, dem, text = client.predict(3, 2, ".npy", api_name="/generate_terrain")
    assert _is_png(shade) and _is_png(colour)
    elevation = np.load(dem)
    assert elevation.ndim == 2 and np.isfinite(elevation).all() and elevation.std() > 0

    for example in DEM_EXAMPLES:
        answer = client.predict(None, example, None, api_name="/classify_landform")
        assert answer["label"] in LANDFORMS
        assert sum(c["confidence"] for c in answer["confidences"]) == pytest.approx(1.0, abs=1e-4)
    picture, text = client.predict(None, next(iter(DEM_EXAMPLES)), None, api_name="/explain_landform")
    assert _is_png(picture) and "class" in text


@pytest.mark.parametrize("picker", list(SEISMIC_PICKERS))
def test_space_picks_the_real_record_with_every_shipped_picker(space_client, picker):
    picture, picks, detections, summary = space_client.predict(
        None, REAL_SEISMIC_EXAMPLE, picker, api_name="/annotate_seismic"
    )
    assert _is_png(picture)
    phases = {row[1] for row in picks["data"]}
    assert phases, f"{picker} found no pick on RJOB: {summary}"
    if picker.startswith("EQTransformer"):  # the default picker
        assert "P" in phases, f"{picker} found no P pick on RJOB: {summary}"
    assert re.search(r"\d+ P\*\* and \*\*\d+ S\*\* picks", summary)


def test_space_denoises_estimates_magnitudes_and_explains_a_pick(space_client):
    synthetic = next(name for name in SEISMIC_EXAMPLES if name != REAL_SEISMIC_EXAMPLE)
    picture, picks, detections, summary = space_client.predict(
        None, synthetic, None, True, api_name="/annotate_seismic"
    )
    assert _is_png(picture) and "denois" in summary.lower()
    assert detections["data"], f"no detection on the synthetic event: {summary}"
    magnitudes = [row[detections["headers"].index("magnitude")] for row in detections["data"]]
    assert all(isinstance(m, (int, float)) and 0.0 < m < 9.0 for m in magnitudes), detections
    picture, text = space_client.predict(None, REAL_SEISMIC_EXAMPLE, None, api_name="/explain_seismic")
    assert _is_png(picture) and text.strip()


def test_a_missing_model_names_the_space_variable_not_quickstart(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOHUB_LANDFORM_MODEL", str(tmp_path / "no-such-model"))
    models = DemoModels(models_dir=tmp_path, space=True)
    with pytest.raises(HubError) as caught:
        models.get("landform")
    message = str(caught.value)
    assert "GEOHUB_LANDFORM_MODEL" in message and "Space variable" in message and "quickstart" not in message

    def unavailable(task):
        raise GeohubError(f"no shipped default for {task}", expected=f"geohub quickstart --retrain --tasks {task}")

    monkeypatch.setattr("geohub.demo.models._shipped_default", unavailable)
    models = DemoModels(models_dir=tmp_path, space=True)
    assert models.origins["terrain_gan"] == "default"
    with pytest.raises(HubError, match=r"shipped default is unavailable.*Space variable GEOHUB_TERRAIN_MODEL") as err:
        models.get("terrain_gan")
    assert "quickstart" not in str(err.value)
    assert "no shipped default for terrain_gan" in str(err.value)
    local = DemoModels(models_dir=tmp_path, space=False)
    with pytest.raises(
        HubError, match=r"--retrain --tasks terrain_gan.*quickstart`, or set GEOHUB_TERRAIN_MODEL / --terrain"
    ):
        local.get("terrain_gan")


def test_resolution_order_flag_env_quickstart_folder_shipped_default(tmp_path, monkeypatch):
    for spec in MODEL_SPECS.values():
        monkeypatch.delenv(spec.env, raising=False)
    (tmp_path / "landform").mkdir()
    (tmp_path / "landform" / "config.json").write_text("{}")
    (tmp_path / "terrain_gan").mkdir()  # a folder without a saved model is not a quickstart model
    monkeypatch.setenv("GEOHUB_GPD_MODEL", "user/gpd")
    models = DemoModels({"eqtransformer": "user/eqt"}, models_dir=tmp_path)
    assert (models.origins["eqtransformer"], models.sources["eqtransformer"]) == ("flag", "user/eqt")
    assert (models.origins["gpd"], models.sources["gpd"]) == ("env", "user/gpd")
    assert (models.origins["landform"], models.sources["landform"]) == ("quickstart", str(tmp_path / "landform"))
    assert models.origins["terrain_gan"] == "default"
    assert "shipped default" in models.status_markdown()
