"""Recipe parsing: a YAML file whose keys are dataclass fields, plus `--key value` CLI overrides.

A recipe names its task with the top-level key `task`; every other key must be a field of one of that task's
argument dataclasses (model, data, training). A misspelt or unknown key is a `ConfigError` naming the key, the
file and the line, and suggesting the closest valid field, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

from ..errors import ConfigError

__all__ = ["read_recipe", "parse_recipe", "RECIPE_TASK_KEY"]

RECIPE_TASK_KEY = "task"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the 1-based line of each top-level key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False):
    mapping = {}
    lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    if node.start_mark.line == 0 or not hasattr(loader, "_geohub_lines"):
        loader._geohub_lines = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_recipe(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a recipe YAML into (mapping, line of each top-level key). Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("recipe file not found", path=path, expected="a YAML file")
    text = path.read_text(encoding="utf-8")
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path=path, line=line) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a recipe must be a mapping of field: value", path=path, expected="key: value lines")
    lines = getattr(loader, "_geohub_lines", {})
    return data, lines


def _field_names(types) -> dict[str, type]:
    names = {}
    for dtype in types:
        for f in dataclasses.fields(dtype):
            if f.init:
                names[f.name] = dtype
    return names


def check_keys(data: dict[str, Any], types, *, path=None, lines: dict[str, int] | None = None) -> None:
    """Raise `ConfigError` for the first key of `data` that is not a field of `types`."""
    valid = _field_names(types)
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), list(valid), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"unknown key '{key}'{hint}",
                path=path,
                line=(lines or {}).get(key),
                field=str(key),
                expected="a field of " + ", ".join(sorted({t.__name__ for t in types})),
            )


def parse_recipe(
    types,
    recipe: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    *,
    drop_keys: tuple[str, ...] = (RECIPE_TASK_KEY,),
):
    """Build the dataclasses `types` from a recipe YAML and CLI overrides (`--field value`, CLI wins).

    Returns a tuple with one instance per type, in order.
    """
    types = list(types)
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if recipe is not None:
        data, lines = read_recipe(recipe)
        data = {k: v for k, v in data.items() if k not in drop_keys}
        check_keys(data, types, path=recipe, lines=lines)
    parser = HfArgumentParser(types)
    # YAML values become parser defaults; argparse then applies the CLI on top with the fields' own types.
    defaults = {}
    for key, value in data.items():
        defaults[key] = value
    parser.set_defaults(**defaults)
    for action in parser._actions:
        if action.dest in defaults and action.required:
            action.required = False
    overrides = list(overrides or [])
    try:
        outputs = parser.parse_args_into_dataclasses(args=overrides, return_remaining_strings=True)
    except SystemExit as exit_:
        raise ConfigError(
            f"could not parse the command-line overrides {overrides}", path=recipe, expected="--field value pairs"
        ) from exit_
    *instances, remaining = outputs
    if remaining:
        key = remaining[0].lstrip("-").split("=")[0]
        close = difflib.get_close_matches(key, list(_field_names(types)), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown command-line option '{remaining[0]}'{hint}", field=key)
    return tuple(instances)
