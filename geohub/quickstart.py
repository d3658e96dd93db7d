"""`geohub quickstart`: train every family's embedded default model, print their metrics, then serve the demo.

    geohub quickstart                      # train what is missing into $GEOHUB_HOME (./geohub-quickstart), serve
    geohub quickstart --no-serve           # stop after training and the metrics table
    geohub quickstart --tasks landform,seismic_picking --retrain

Each family's training module exports `QUICKSTART_RECIPES` (task name -> recipe dict of dataclass fields, without
`output_dir`). For every selected task the recipe is parsed with `HfArgumentParser.parse_dict` into the task's
argument dataclasses, `output_dir` is set to `<output>/<task>`, and `task.run(...)` trains in this process (with
the Trainer's progress bars). A task whose folder already holds a finished model (`config.json`, safetensors
weights and `all_results.json`, the last file every task writes) is not retrained: its metrics are read back.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .utils import get_logger

logger = get_logger(__name__)

__all__ = [
    "FAMILY_TRAINING_MODULES",
    "QuickstartResult",
    "quickstart_recipes",
    "build_task_arguments",
    "model_is_saved",
    "run_quickstart",
    "format_metrics_table",
    "parse_overrides",
    "SMOKE_OVERRIDES",
    "smoke_overrides",
]

# the training modules whose QUICKSTART_RECIPES the quickstart runs, in this order (fast, small models first)
FAMILY_TRAINING_MODULES = ("geohub.training.seismic", "geohub.training.terrain", "geohub.training.text")

# metrics shown in the table, per task, when present (others are kept in all_results.json)
_HEADLINE = ("accuracy", "macro_f1", "f1", "precision", "recall", "rouge1", "rouge2", "rougeL", "detection_f1",
             "p_mae_s", "s_mae_s", "p_f1", "s_f1", "magnitude_mae", "magnitude_residual_std")  # fmt: skip


@dataclass
class QuickstartResult:
    """What happened to one task: `status` is "trained" or "reused"; `metrics` as written in all_results.json."""

    task: str
    output_dir: Path
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def quickstart_recipes() -> dict[str, dict[str, Any]]:
    """Every family's `QUICKSTART_RECIPES`, merged (task name -> recipe dict)."""
    recipes: dict[str, dict[str, Any]] = {}
    for module_name in FAMILY_TRAINING_MODULES:
        module = importlib.import_module(module_name)
        for name, recipe in getattr(module, "QUICKSTART_RECIPES", {}).items():
            recipes[name] = dict(recipe)
    return recipes


def parse_overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """`["landform.max_steps=2", "seismic_picking.num_train_windows=64"]` -> {task: {field: value}}.

    Values are read as YAML scalars (so `2` is an int, `false` a bool, `1e-3` a float)."""
    import yaml

    overrides: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        task, dot, name = key.partition(".")
        if not sep or not dot or not task or not name:
            raise ConfigError(f"cannot parse override {item!r}", field="--set", expected="TASK.FIELD=VALUE")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads "1e-3" as text; the CLI user meant a number
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        overrides.setdefault(task.strip(), {})[name.strip()] = parsed
    return overrides


def build_task_arguments(task, recipe: dict[str, Any], output_dir: str | os.PathLike) -> tuple:
    """The task's argument dataclasses from a recipe dict (`HfArgumentParser.parse_dict`), with `output_dir` set.

    An unknown key is a `ConfigError` naming it (the same check as recipe files)."""
    from transformers import HfArgumentParser

    from .training.arguments import RECIPE_TASK_KEY, check_keys

    data = {k: v for k, v in recipe.items() if k != RECIPE_TASK_KEY}
    data["output_dir"] = os.fspath(output_dir)
    check_keys(data, task.argument_types, path=f"QUICKSTART_RECIPES[{task.name!r}]")
    try:
        return tuple(HfArgumentParser(task.argument_types).parse_dict(data, allow_extra_keys=False))
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"invalid quickstart recipe: {err}", path=f"QUICKSTART_RECIPES[{task.name!r}]") from None


def model_is_saved(folder: str | os.PathLike) -> bool:
    """True when `folder` holds a finished model: config.json, safetensors weights and all_results.json."""
    folder = Path(folder)
    has_weights = any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()
    return (folder / "config.json").is_file() and has_weights and (folder / "all_results.json").is_file()


def _read_metrics(folder: Path) -> dict[str, float]:
    try:
        data = json.loads((folder / "all_results.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, (int, float))}


def run_quickstart(
    output_dir: str | os.PathLike | None = None,
    *,
    tasks: list[str] | None = None,
    retrain: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
    echo=print,
) -> list[QuickstartResult]:
    """Train (or reuse) each selected quickstart task into `<output_dir>/<task>`; returns one result per task.

    Args:
        output_dir: the models folder; default `geohub.environment.default_output_dir()`.
        tasks: task names to run (default: every family's QUICKSTART_RECIPES); unknown names are a ConfigError.
        retrain: train even when a finished model is already saved.
        overrides: {task: {field: value}} applied on top of the embedded recipes (e.g. smaller data for tests).
        echo: where progress lines go.
    """
    from .environment import default_output_dir
    from .training.tasks import get_task

    output = Path(output_dir) if output_dir is not None else default_output_dir()
    recipes = quickstart_recipes()
    selected = list(tasks) if tasks else list(recipes)
    for name in selected + list(overrides or {}):
        if name not in recipes:
            raise ConfigError(
                f"unknown quickstart task '{name}'", field="--tasks", expected=f"one of {sorted(recipes)}"
            )
    output.mkdir(parents=True, exist_ok=True)
    results = []
    for index, name in enumerate(selected, start=1):
        folder = output / name
        if not retrain and model_is_saved(folder):
            echo(f"[{index}/{len(selected)}] {name}: reusing the model saved in {folder}")
            results.append(QuickstartResult(name, folder, "reused", _read_metrics(folder)))
            continue
        task = get_task(name)
        recipe = {**recipes[name], **(overrides or {}).get(name, {})}
        arguments = build_task_arguments(task, recipe, folder)
        echo(f"[{index}/{len(selected)}] {name}: training ({task.description}) into {folder}")
        start = time.perf_counter()
        metrics = task.run(*arguments) or {}
        seconds = time.perf_counter() - start
        if not model_is_saved(folder):
            raise ConfigError(f"task {name} finished but left no saved model", path=folder)
        numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        results.append(QuickstartResult(name, folder, "trained", numeric or _read_metrics(folder), seconds))
        echo(f"[{index}/{len(selected)}] {name}: done in {seconds:.0f} s")
    return results


def _headline(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """The eval_/test_ metrics named in `_HEADLINE`; else every eval_/test_ metric; else everything."""
    scored = [
        (key, float(value))
        for key, value in sorted(metrics.items())
        if key.startswith(("eval_", "test_")) and not any(word in key for word in ("runtime", "per_second", "epoch"))
    ]
    preferred = [(key, value) for key, value in scored if key.split("_", 1)[1] in _HEADLINE]
    return preferred or scored or [(k, float(v)) for k, v in sorted(metrics.items()) if "runtime" not in k]


def format_metrics_table(results: list[QuickstartResult]) -> str:
    """A plain-text table: task, status, training time, and the headline metrics of each task."""
    lines = [f"{'task':<22}{'status':<9}{'time':>7}  {'metric':<32}{'value':>10}", "-" * 82]
    for result in results:
        rows = _headline(result.metrics) or [("(no metrics)", float("nan"))]
        seconds = f"{result.seconds:.0f} s" if result.status == "trained" else "-"
        for i, (key, value) in enumerate(rows):
            prefix = f"{result.task:<22}{result.status:<9}{seconds:>7}" if i == 0 else " " * 38
            lines.append(f"{prefix}  {key:<32}{value:>10.4g}")
    return "\n".join(lines)


# Seconds-long runs of every quickstart task (tiny data and models: not useful models). The demo tests and
# `benchmarks/demo_load.py` use these to check the whole path quickly: `run_quickstart(..., overrides=SMOKE_OVERRIDES)`.
SMOKE_OVERRIDES: dict[str, dict[str, Any]] = {
    "seismic_picking": {"num_train_windows": 32, "num_eval_windows": 16, "num_train_epochs": 1,
                        "hidden_sizes": "4,8,8", "per_device_train_batch_size": 16},
    "seismic_magnitude": {"num_train_windows": 32, "num_eval_windows": 16, "num_train_epochs": 1,
                          "conv_channels": "8,8", "lstm_hidden_size": 8, "per_device_train_batch_size": 16},
    "landform": {"num_train_samples": 64, "num_eval_samples": 16, "num_train_epochs": 1, "hidden_sizes": "8,16"},
    "summarization": {"max_train_samples": 8, "max_eval_samples": 4, "num_train_epochs": 1},
    "knowledge_extraction": {"max_train_samples": 16, "max_eval_samples": 8, "num_train_epochs": 1},
    "terrain_gan": {"dem": "synthetic", "num_synthetic_patches": 16, "image_size": 16, "latent_dim": 16,
                    "generator_channels": 16, "discriminator_channels": 8, "min_channels": 4, "max_steps": 2,
                    "per_device_train_batch_size": 8, "save_steps": 0, "report_to": "none", "disable_tqdm": True},
}  # fmt: skip


def smoke_overrides(tasks: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """`SMOKE_OVERRIDES` for the tasks that have a quickstart recipe (and, if given, are in `tasks`)."""
    recipes = quickstart_recipes()
    return {k: dict(v) for k, v in SMOKE_OVERRIDES.items() if k in recipes and (tasks is None or k in tasks)}
