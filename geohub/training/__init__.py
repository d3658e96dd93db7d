"""geohub's training backbone: recipe parsing, Trainer glue, the adversarial Accelerate loop, task registry."""

from .arguments import parse_recipe, read_recipe
from .tasks import TASKS, Task, get_task

__all__ = ["parse_recipe", "read_recipe", "TASKS", "Task", "get_task"]
