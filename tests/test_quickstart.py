"""`geohub quickstart --no-serve` end to end through the CLI on a small subset, and the reuse on a second run."""

from __future__ import annotations

import json

import pytest

from geohub.quickstart import (
    build_task_arguments,
    model_is_saved,
    parse_overrides,
    quickstart_recipes,
    smoke_overrides,
)
from geohub.training.tasks import get_task

TASKS = ("landform", "seismic_magnitude")


def _set_flags(tasks) -> list[str]:
    flags = []
    for task in tasks:
        for name, value in smoke_overrides()[task].items():
            flags += ["--set", f"{task}.{name}={value}"]
    return flags


def test_every_family_has_quickstart_recipes_that_parse():
    """Each declared quickstart recipe parses into its task's dataclasses, or names a convertible model."""
    from geohub.auto import quickstart_families
    from geohub.convert import convertible

    recipes = quickstart_recipes()
    expected = {"seismic_picking", "seismic_magnitude", "terrain_gan", "landform", "summarization",
                "knowledge_extraction"}  # fmt: skip
    assert expected <= set(recipes)
    for family in quickstart_families():
        recipe = dict(family.quickstart)
        if "convert" in recipe:
            assert recipe["convert"] in convertible(), family.name
            continue
        task = get_task(family.task)
        arguments = build_task_arguments(task, recipe, "/tmp/unused-quickstart-dir")
        assert [type(a) for a in arguments] == list(task.argument_types)
        assert arguments[-1].output_dir == "/tmp/unused-quickstart-dir"


def test_overrides_parse_yaml_scalars_and_reject_bad_items():
    assert parse_overrides(["landform.max_steps=2", "landform.augment=false", "x.y=1e-3"]) == {
        "landform": {"max_steps": 2, "augment": False}, "x": {"y": 1e-3}
    }  # fmt: skip
    from geohub.errors import ConfigError

    with pytest.raises(ConfigError, match="TASK.FIELD=VALUE"):
        parse_overrides(["max_steps=2"])


def test_quickstart_trains_saves_prints_metrics_then_reuses(geohub_cli, tmp_path):
    out = tmp_path / "models"
    args = ["quickstart", "--no-serve", "--output-dir", str(out), "--tasks", ",".join(TASKS), *_set_flags(TASKS)]
    first = geohub_cli(*args, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    for task in TASKS:
        assert f"{task}: trained in" in first.stdout
        assert model_is_saved(out / task)
    # quiet: a progress bar per model on the terminal; load reports and log dictionaries only in the log file
    log = (out / "quickstart.log").read_text()
    assert str(out / "quickstart.log") in first.stdout and "'loss'" not in first.stdout + first.stderr
    assert "landform" in first.stderr and "eval_accuracy" in log
    assert "eval_accuracy" in first.stdout and "eval_magnitude_mae" in first.stdout  # the metrics table
    table_accuracy = json.loads((out / "landform" / "all_results.json").read_text())["eval_accuracy"]
    assert f"{table_accuracy:.4g}" in first.stdout
    weights = {task: (out / task / "model.safetensors").stat().st_mtime_ns for task in TASKS}

    from transformers import AutoModelForImageClassification

    import geohub  # noqa: F401

    model = AutoModelForImageClassification.from_pretrained(out / "landform")
    assert model.config.model_type == "geohub_landform"

    second = geohub_cli(*args, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    for task in TASKS:
        assert f"{task}: reusing the model saved in" in second.stdout
        assert (out / task / "model.safetensors").stat().st_mtime_ns == weights[task]
    assert f"{table_accuracy:.4g}" in second.stdout  # metrics read back for the table


def test_quickstart_rejects_an_unknown_task(geohub_cli, tmp_path):
    result = geohub_cli("quickstart", "--no-serve", "--output-dir", str(tmp_path), "--tasks", "landfrom")
    assert result.returncode == 2
    assert "unknown quickstart task 'landfrom'" in result.stderr


def test_quickstart_names_a_misspelt_override_field(tmp_path):
    from geohub.errors import ConfigError
    from geohub.quickstart import run_quickstart

    with pytest.raises(ConfigError, match=r"unknown key 'train_strides'; did you mean 'train_stride'\?"):
        run_quickstart(tmp_path, tasks=["landform"], overrides=parse_overrides(["landform.train_strides=8"]))
    assert not model_is_saved(tmp_path / "landform")


def test_metrics_table_keeps_columns_apart_for_long_task_names():
    from pathlib import Path

    from geohub.quickstart import QuickstartResult, format_metrics_table

    results = [QuickstartResult("relation_classification", Path("."), "trained", {"eval_f1": 0.37}, 82.0),
               QuickstartResult("gpd", Path("."), "converted", {}, 0.0)]  # fmt: skip
    lines = format_metrics_table(results).splitlines()
    assert lines[2].split()[:2] == ["relation_classification", "trained"]
    assert lines[0].index("status") == lines[2].index("trained") == lines[3].index("converted")


def test_quickstart_without_flags_serves_the_shipped_defaults_with_their_card_metrics(geohub_cli, tmp_path):
    """No training: the shipped defaults are read in place (a text default assembled once), the table shows the
    metrics their cards state, and a second run finds the assembled one ready."""
    from geohub.defaults import default_metrics

    out = tmp_path / "models"
    env = {"GEOHUB_HOME": str(tmp_path / "home")}
    args = ["quickstart", "--no-serve", "--output-dir", str(out), "--tasks", "landform,seismic_picking,summarization"]
    first = geohub_cli(*args, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "landform: the shipped default" in first.stdout and "seismic_picking: the shipped default" in first.stdout
    assert "summarization: assembling it from the offline MiniLM (once) ..." in first.stdout
    assert "summarization: default assembled into" in first.stdout
    assert "trained" not in first.stdout and not (out / "landform").exists()
    assert f"{default_metrics('landform')['eval_accuracy']:.4g}" in first.stdout
    assert f"{default_metrics('seismic_picking')['eval_p_f1']:.4g}" in first.stdout
    second = geohub_cli(*args, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "summarization: the default prepared earlier" in second.stdout and "assembling" not in second.stdout


def test_retrain_refuses_up_front_when_a_named_recipe_reads_absent_data(geohub_cli, tmp_path):
    """`--retrain --tasks landform,summarization` where summarization's SciTLDR-A folder (the recipe's
    ../shared/data/scitldr-a, relative to where geohub runs) is absent, or pointed at an empty folder: one line
    naming the path and what to do, no traceback, and nothing trained (not even landform, first in the list)."""
    from tests.conftest import REPO_ROOT

    work, out, empty = tmp_path / "work", tmp_path / "models", tmp_path / "empty"
    work.mkdir()
    empty.mkdir()
    env = {"GEOHUB_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT)}
    args = ["quickstart", "--no-serve", "--retrain", "--output-dir", str(out), "--tasks", "landform,summarization",
            *_set_flags(["landform"])]  # fmt: skip
    for extra, path, what in (([], "../shared/data/scitldr-a", "does not exist"),
                              (["--set", f"summarization.dataset_dir={empty}"], str(empty), "is an empty folder")):  # fmt: skip
        result = geohub_cli(*args, *extra, cwd=work, env=env, timeout=300)
        assert result.returncode == 2, result.stderr[-3000:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("geohub: error: "), result.stderr[-3000:]
        assert f"dataset_dir '{path}'" in lines[0] and what in lines[0], lines[0]
        assert "--set summarization.dataset_dir=" in lines[0] and "left out of --tasks" in lines[0], lines[0]
        assert "trained" not in result.stdout and not (out / "landform").exists(), result.stdout


def test_retrain_of_the_default_selection_keeps_the_default_of_a_recipe_without_its_data(tmp_path, monkeypatch):
    """Without --tasks, --retrain retrains what it can: a recipe whose data is absent keeps the family's default
    (said in one line), as a conversion whose weights are absent is left out."""
    import geohub.quickstart as quickstart

    monkeypatch.chdir(tmp_path)  # ../shared/data is not beside it
    monkeypatch.setenv("GEOHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(quickstart, "default_quickstart_tasks", lambda retrain=False: ["summarization"])
    lines = []
    results = quickstart.run_quickstart(tmp_path / "models", retrain=True, echo=lines.append)
    assert [(r.task, r.status) for r in results] == [("summarization", "assembled")]
    said = next(line for line in lines if "not retrained" in line)
    assert "dataset_dir '../shared/data/scitldr-a'" in said and "--set summarization.dataset_dir=" in said
