"""geohub's training backbone: recipe parsing, Trainer glue, the adversarial Accelerate loop, task registry."""

from .arguments import parse_recipe, read_recipe
from .tasks import Task, get_task, task_names

__all__ = ["parse_recipe", "read_recipe", "Task", "get_task", "task_names"]
