"""The Space folder: YAML header of its README, the models it names, and its thin app.py building the demo."""

from __future__ import annotations

import importlib.util
import re

import gradio
import yaml

from geohub.demo import MODEL_SPECS


def _header(repo_root) -> dict:
    text = (repo_root / "spaces" / "geohub" / "README.md").read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "spaces/geohub/README.md must start with a YAML header between --- lines"
    return yaml.safe_load(match.group(1))


def test_space_header_names_sdk_app_file_and_every_served_model(repo_root):
    header = _header(repo_root)
    assert header["sdk"] == "gradio" and header["sdk_version"] == gradio.__version__
    assert (repo_root / "spaces" / "geohub" / header["app_file"]).is_file()
    app_text = (repo_root / "spaces" / "geohub" / header["app_file"]).read_text(encoding="utf-8")
    defaults = dict(re.findall(r'os\.environ\.setdefault\("(GEOHUB_\w+)", "([^"]+)"\)', app_text))
    assert set(defaults) == {spec.env for spec in MODEL_SPECS.values()}
    assert sorted(header["models"]) == sorted(defaults.values())
    requirements = (repo_root / "spaces" / "geohub" / "requirements.txt").read_text(encoding="utf-8")
    assert "geohub" in requirements and f"gradio=={gradio.__version__}" in requirements


def test_space_app_builds_the_demo_from_the_environment(repo_root, demo_models_dir, monkeypatch):
    for task, spec in MODEL_SPECS.items():
        monkeypatch.setenv(spec.env, str(demo_models_dir / task))
    spec = importlib.util.spec_from_file_location("geohub_space_app", repo_root / "spaces" / "geohub" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.demo, gradio.Blocks)
    assert module.models.load_all() == dict.fromkeys(MODEL_SPECS, "ok")
