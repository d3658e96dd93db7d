"""Entry point run in every process by `accelerate launch`: read a recipe, build its arguments, run its task.

    accelerate launch --config_file recipes/accelerate_configs/cpu.yaml -m geohub.training.launch \
        --config recipes/seismic_picking/config_synthetic.yaml [--field value ...]

`geohub train RECIPE` prints and runs exactly this line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import ConfigError, GeohubError
from .arguments import RECIPE_TASK_KEY, parse_recipe, read_recipe
from .output_dir import OVERWRITE_FLAGS, missing_root, prepare_output_dir, release_output_dir, run_output_dir
from .tasks import get_task


def run_recipe(recipe: str, overrides: list[str] | None = None, *, overwrite_output_dir: bool = False) -> dict:
    """Parse `recipe` (+ overrides) and run its task in this process. Returns the task's metrics.

    The main process first checks the run's `output_dir` (`geohub.training.output_dir`): a non-empty folder that
    is not this task's run is refused unless `overwrite_output_dir`."""
    data, lines = read_recipe(recipe)
    if RECIPE_TASK_KEY not in data:
        raise ConfigError("missing the key 'task'", path=recipe, field="task", expected="task: <registered task>")
    task = get_task(str(data[RECIPE_TASK_KEY]), path=recipe, line=lines.get(RECIPE_TASK_KEY))
    arguments = parse_recipe(task.argument_types, recipe, overrides)
    output_dir = run_output_dir(arguments)
    is_main = output_dir is not None and os.environ.get("RANK", "0") == "0"
    created = missing_root(output_dir) if is_main else None
    if is_main:
        prepare_output_dir(output_dir, task.name, overwrite=overwrite_output_dir)
    try:
        return task.run(*arguments)
    except BaseException:
        if is_main:  # a run that wrote nothing leaves no folder behind
            release_output_dir(output_dir, created=created)
        raise


def _debug() -> bool:
    return os.environ.get("GEOHUB_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _report(err: Exception) -> int:
    """One line on stderr for a failed run (the traceback only with GEOHUB_DEBUG=1 / `geohub --debug train`).

    With several processes each names its rank. Returns the exit status: 2 for bad input (`GeohubError`), 1 for
    anything else.
    """
    if _debug():
        raise err
    if isinstance(err, GeohubError):
        message = str(err)
    else:
        message = (f"training failed: {err.__class__.__name__}: {err} (GEOHUB_DEBUG=1 or `geohub --debug train` "
                   "shows the traceback)")  # fmt: skip
    rank = f"[rank {os.environ.get('RANK', '0')}] " if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 else ""
    print(f"geohub: error: {rank}{' '.join(message.split())}", file=sys.stderr, flush=True)
    return 2 if isinstance(err, GeohubError) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)  # fmt: skip
    parser.add_argument("--config", required=True, help="recipe YAML (keys are dataclass fields)")
    parser.add_argument(*OVERWRITE_FLAGS, dest="overwrite", action="store_true",
                        help="train into a non-empty output_dir that is not this task's run")  # fmt: skip
    args, overrides = parser.parse_known_args(argv)
    import geohub  # noqa: F401  (registers the Auto classes in every launched process)

    try:
        metrics = run_recipe(args.config, overrides, overwrite_output_dir=args.overwrite)
    except Exception as err:
        return _report(err)
    if os.environ.get("RANK", "0") == "0" and metrics:
        print("geohub: final metrics " + json.dumps(metrics, sort_keys=True, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
