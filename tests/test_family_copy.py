"""A new family is its folder: a copy of `geohub/models/seismic_picker` under a new name, in a package outside geohub
(`$GEOHUB_FAMILY_PACKAGES`), gets a working pipeline, explanation, export and demo slot with no other file touched.

The copy is what a contributor would write: the folder with its files renamed (`*_seismic_picker.py` ->
`*_copied_picker.py`), the names in them rewritten (classes, model type, task, demo slot, flag, environment variable,
picker label), and geohub's shared modules imported absolutely (`from geohub.family import ...`) since the folder is
not inside `geohub/models/`. Everything runs in a fresh interpreter, so geohub discovers the family at import."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geohub.models.seismic_picker as source_family

REPO = Path(__file__).resolve().parents[1]
NEW = "copied_picker"
RENAMES = [
    ("SeismicFeatureExtractor", "CopiedPickerFeatureExtractor"),
    ("SeismicPicker", "CopiedPicker"),
    ("seismic_picker", NEW),
    ("seismic_picking", "copied_picking"),
    ("--picker-model", "--copied-picker-model"),
    ("GEOHUB_PICKER_MODEL", "GEOHUB_COPIED_PICKER_MODEL"),
    ('choice="geohub U-Net"', 'choice="copied U-Net"'),
    ("preference=2", "preference=None"),
    ("from ...", "from geohub."),
]

SCRIPT = r"""
import json, sys
from pathlib import Path

import numpy as np
import obspy
from transformers import pipeline

import geohub
from geohub.auto import get_family
from geohub.demo.app import declared_tabs
from geohub.demo.examples import REAL_SEISMIC_EXAMPLE
from geohub.demo.handlers import DemoLimits, annotate_seismic, seismic_pickers
from geohub.demo.models import DemoModels, model_specs
from geohub.explain import explain_file
from geohub.export import ExportError, export_model
from geohub.inference.waveform import WaveformModel

out = Path(sys.argv[1])
family = get_family("copied_picker")
model = family.tiny_model()
model.save_pretrained(out / "model")
family.module(family.waveform).default_feature_extractor(model).save_pretrained(out / "model")
stream = obspy.read()
stream.write(str(out / "record.mseed"), format="MSEED")

picker = pipeline("seismic-phase-picking", model=str(out / "model"))
picked = picker(stream, p_threshold=0.0, s_threshold=0.0)
explained = explain_file(out / "model", out / "record.mseed", n_steps=4, max_steps=8)
export_model(out / "model", "onnx", out / "onnx")
exported = WaveformModel.from_pretrained(out / "onnx").annotate(stream)
reference = WaveformModel.from_pretrained(out / "model").annotate(stream)
try:
    export_model(out / "model", "int8", out / "int8")
    int8 = "exported"
except ExportError as err:
    int8 = str(err)
slot = family.demo.slot
models = DemoModels({slot: str(out / "model")}, models_dir=out / "none")
_, _, _, summary = annotate_seismic(models, DemoLimits(), None, REAL_SEISMIC_EXAMPLE, "copied U-Net")
print(json.dumps({
    "package": family.package,
    "model_class": type(picker.model).__module__,
    "picks": len(picked["picks"]),
    "explained": explained["kind"], "explained_shape": explained["shape"], "model_type": explained["model_type"],
    "export_difference": max(float(np.abs(a.data - b.data).max()) for a, b in zip(exported, reference)),
    "int8": int8,
    "slot_in_specs": slot in model_specs(), "flag": model_specs()[slot].flag,
    "choices": list(seismic_pickers()), "tabs": declared_tabs(), "summary": summary,
}))
"""


def _copy_family(target: Path) -> Path:
    package = target / "geohub_copyfam"
    folder = package / NEW
    folder.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Families developed outside geohub."""\n')
    for path in Path(source_family.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for old, new in RENAMES:
            text = text.replace(old, new)
        text = "".join(line for line in text.splitlines(keepends=True) if "shipped_default=" not in line)  # no weights
        (folder / path.name.replace("seismic_picker", NEW)).write_text(text, encoding="utf-8")
    return package


def test_a_copied_family_folder_gets_pipeline_explanation_export_and_demo_slot(tmp_path):
    package = _copy_family(tmp_path / "ext")
    assert sorted(p.name for p in (package / NEW).iterdir()) == sorted(
        p.name.replace("seismic_picker", NEW) for p in Path(source_family.__file__).parent.glob("*.py")
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {**os.environ, "GEOHUB_FAMILY_PACKAGES": "geohub_copyfam", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "ext"), str(REPO), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    result = subprocess.run([sys.executable, str(tmp_path / "script.py"), str(tmp_path / "run")], env=env,
                            capture_output=True, text=True, timeout=900, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["package"] == "geohub_copyfam.copied_picker"
    assert report["model_class"] == "geohub_copyfam.copied_picker.modeling_copied_picker"  # the copy's own class
    assert report["picks"] > 0  # thresholds 0: every probability peak is a pick, by the copy's own pick rule
    assert report["explained"] == "seismic" and report["model_type"] == "geohub_copied_picker"
    assert report["explained_shape"] == [3, 1000]  # the tiny config's window, three components
    assert report["export_difference"] < 1e-3
    assert "copied_picker family does not export to int8" in report["int8"]  # its copied ExportDecl
    assert report["slot_in_specs"] and report["flag"] == "--copied-picker-model"
    assert "copied U-Net" in report["choices"] and "seismic" in report["tabs"]
    assert "copied U-Net" in report["summary"]


def test_without_the_environment_variable_the_copy_is_not_a_family(tmp_path):
    _copy_family(tmp_path / "ext")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "ext"), str(REPO)])}
    env.pop("GEOHUB_FAMILY_PACKAGES", None)
    code = "import geohub.auto as a; print('copied_picker' in a.families())"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
    shutil.rmtree(tmp_path / "ext")
