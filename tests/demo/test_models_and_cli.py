"""Where the demo's models come from (flag > environment variable > quickstart folder > shipped default), and
`geohub demo`."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from geohub.demo import MODEL_SPECS, DemoModels, free_port
from geohub.demo.models import resolve_source
from geohub.errors import HubError


def test_explicit_source_beats_environment_variable_beats_models_dir(demo_models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOHUB_LANDFORM_MODEL", str(tmp_path / "from-env"))
    models = DemoModels({"landform": str(demo_models_dir / "landform")}, models_dir=tmp_path)
    assert models.sources["landform"] == str(demo_models_dir / "landform")
    assert models.origins["seismic_picking"] == "default"  # nothing in models_dir: the shipped default
    assert DemoModels(models_dir=tmp_path).sources["landform"] == str(tmp_path / "from-env")
    model, processor = models.get("landform")
    assert model.config.model_type == "geohub_landform" and processor.normalization == "patch"


def test_missing_model_is_a_clear_error_and_others_still_load(demo_models_dir, tmp_path, monkeypatch):
    def no_default(task):
        raise HubError(f"no shipped default for {task}")

    monkeypatch.setattr("geohub.demo.models._shipped_default", no_default)
    models = DemoModels({"seismic_picking": str(demo_models_dir / "seismic_picking")}, models_dir=tmp_path)
    with pytest.raises(
        HubError, match=r"landform classifier is not available.*GEOHUB_LANDFORM_MODEL / --landform-model"
    ):
        models.get("landform")
    status = models.load_all()
    assert status["seismic_picking"] == "ok"
    assert all(status[task] != "ok" for task in MODEL_SPECS if task != "seismic_picking")
    assert "unavailable" in models.status_markdown()


def test_hub_repo_id_is_downloaded_and_offline_failure_is_a_hub_error(monkeypatch):
    with pytest.raises(HubError, match=r"cannot download 'nobody/no-such-geohub-model'"):
        resolve_source("nobody/no-such-geohub-model")
    with pytest.raises(HubError, match="model folder not found"):
        resolve_source("./no/such/folder")
    with pytest.raises(ValueError, match="unknown demo model"):
        DemoModels({"picker": "x"})


def test_geohub_demo_command_serves_the_saved_models(demo_models_dir):
    port = free_port()
    command = [sys.executable, "-m", "geohub.cli", "demo", "--models-dir", str(demo_models_dir), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 120, ""
        while time.monotonic() < deadline and not page:
            assert process.poll() is None, process.stdout.read()[-3000:]
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(1.0)
        assert "geohub demo" in page
        from gradio_client import Client

        answer = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            None, "ridge tile (Jacksboro, held-out rows, 93 m cells)", None, api_name="/classify_landform"
        )
        assert len(answer["confidences"]) == 3  # ridge, hillside, valley
    finally:
        process.terminate()
        process.wait(timeout=30)
