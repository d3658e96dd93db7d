"""The registry of trainable tasks: recipe `task:` name -> argument dataclasses and run function.

Each entry points at a module-level `Task` object by import path, so that launching one task does not import
the others. A family adds its task here with one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Task", "TASKS", "get_task"]


@dataclass(frozen=True)
class Task:
    """A trainable task.

    Args:
        name: the recipe's `task:` value.
        argument_types: the dataclasses whose fields are the recipe's keys, e.g. (ModelArgs, DataArgs, TrainArgs).
        run: called as `run(*arguments)` inside each process started by `accelerate launch`; returns a dict of
            final metrics (also written to `<output_dir>/all_results.json`).
        description: one line for `geohub train --help`.
    """

    name: str
    argument_types: tuple[type, ...]
    run: Callable[..., dict]
    description: str = ""


# task name -> "module:attribute" of its Task object
TASKS: dict[str, str] = {
    "knowledge_extraction": "geohub.training.text:KNOWLEDGE_EXTRACTION",
    "seismic_picking": "geohub.training.seismic:SEISMIC_PICKING",
    "seismic_magnitude": "geohub.training.seismic:SEISMIC_MAGNITUDE",
    "summarization": "geohub.training.text:SUMMARIZATION",
    "landform": "geohub.training.terrain:LANDFORM",
    "terrain_gan": "geohub.training.terrain:TERRAIN_GAN",
}


def get_task(name: str, *, path=None, line: int | None = None) -> Task:
    """Resolve a task by name; an unknown name is a `ConfigError` listing the known ones."""
    if name not in TASKS:
        known = ", ".join(sorted(TASKS)) or "(none registered)"
        raise ConfigError(f"unknown task '{name}'", path=path, line=line, field="task", expected=f"one of {known}")
    module_name, attribute = TASKS[name].split(":")
    task = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(task, Task):
        raise TypeError(f"{TASKS[name]} is not a geohub.training.Task")
    return task
