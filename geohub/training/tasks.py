"""The registry of trainable tasks: recipe `task:` name -> argument dataclasses and run function.

The names and the `Task` objects they point at are declared by the families (`family.py`, fields `task` and
`task_object`; see `geohub.auto.training_tasks`). Each points at a module-level `Task` by import path, so that
launching one task does not import the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import ConfigError

__all__ = ["Task", "get_task", "task_names"]


@dataclass(frozen=True)
class Task:
    """A trainable task.

    Args:
        name: the recipe's `task:` value.
        argument_types: the dataclasses whose fields are the recipe's keys, e.g. (ModelArgs, DataArgs, TrainArgs).
        run: called as `run(*arguments)` inside each process started by `accelerate launch`; returns a dict of
            final metrics (also written to `<output_dir>/all_results.json`). `get_task` hands it out wrapped so
            that its CPU thread count follows the machine's load (`geohub.training.threads.adapting_threads`).
        description: one line for `geohub train --help`.
    """

    name: str
    argument_types: tuple[type, ...]
    run: Callable[..., dict]
    description: str = ""


def task_names() -> list[str]:
    """Every recipe `task:` name declared by a family."""
    from ..auto import training_tasks

    return sorted(training_tasks())


def get_task(name: str, *, path=None, line: int | None = None) -> Task:
    """Resolve a task by name; an unknown name is a `ConfigError` listing the known ones."""
    from ..auto import training_tasks
    from ..family import resolve

    tasks = training_tasks()
    if name not in tasks:
        known = ", ".join(sorted(tasks)) or "(none registered)"
        raise ConfigError(f"unknown task '{name}'", path=path, line=line, field="task", expected=f"one of {known}")
    task = resolve(tasks[name])
    if not isinstance(task, Task):
        raise TypeError(f"{tasks[name]} is not a geohub.training.Task")
    return replace(task, run=_adapting_threads(task.run))


def _adapting_threads(run: Callable[..., dict]) -> Callable[..., dict]:
    """`run` with its CPU thread count following the machine's load (`geohub.training.threads`, imported when
    the task runs: resolving a task stays light)."""

    def adapted(*args, **kwargs):
        from .threads import adapting_threads

        return adapting_threads(run)(*args, **kwargs)

    adapted.__wrapped__ = run
    return adapted
