"""Recipe parsing: a YAML file whose keys are dataclass fields, plus `--key value` CLI overrides.

A recipe names its task with the top-level key `task`; every other key must be a field of one of that task's
argument dataclasses (model, data, training). A misspelt or unknown key is a `ConfigError` naming the key, the
file and the line, and suggesting the closest valid field, instead of being silently ignored. So is a key given
twice, a file that is not UTF-8, and a value of the wrong type for its field (checked against the dataclasses'
annotations here, before `--dry-run` returns and before any model or data is loaded).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

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
        if key in lines:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first given on line {lines[key]}; keep one)", key_node.start_mark
            )
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
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{raw[err.start]:02x} at line {line})",
            path=path,
            line=line,
            expected="a UTF-8 encoded YAML file: re-save it as UTF-8",
        ) from None
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


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if tp is type(None):
        return "null"
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}
    if tp in names:
        return names[tp]
    if origin in (list, tuple, set) or tp in (list, tuple, set):
        return f"a list of {_type_name(args[0])}" if args else "a list"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(whether `value` fits the annotation `tp`, the value converted as HfArgumentParser would: "3e-4" -> 3e-4)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return True, value
    if origin in (Union, types.UnionType):
        if value is None:
            return type(None) in args, None
        members = [a for a in args if a is not type(None)]
        exact = [a for a in members if isinstance(a, type) and type(value) is a]  # no conversion when one fits as is
        for member in exact + members:
            ok, converted = _coerce(value, member)
            if ok:
                return True, converted
        return False, value
    if value is None or tp is type(None):
        return value is None and tp is type(None), value
    if tp is bool:
        if isinstance(value, bool):
            return True, value
        text = str(value).strip().lower() if isinstance(value, str) else None
        return (text in _TRUE + _FALSE), text in _TRUE
    if tp in (int, float):
        if isinstance(value, bool):
            return False, value
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            return False, value
        if not isinstance(number, (int, float)):
            return False, value
        if tp is int:
            ok = isinstance(number, int) or float(number).is_integer()
            return ok, int(number) if ok else value
        return True, float(number)
    if tp is str:
        return (isinstance(value, (str, int, float)) and not isinstance(value, bool)), str(value)
    if origin is Literal:
        return value in args, value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return value in {m.value for m in tp} | {m.name for m in tp} or isinstance(value, tp), value
    if origin in (list, tuple, set) or tp in (list, tuple, set):
        if not isinstance(value, (list, tuple)):
            return False, value
        item = args[0] if args else Any
        converted = [_coerce(v, item) for v in value]
        return all(ok for ok, _ in converted), [v for _, v in converted]
    if origin is dict or tp is dict:
        return isinstance(value, dict), value
    return True, value  # an annotation this check does not know: left to the dataclass


def _field_types(dtype: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(dtype)
    except Exception:  # noqa: BLE001 - an unresolvable forward reference: check only the plain annotations
        return {f.name: f.type for f in dataclasses.fields(dtype) if not isinstance(f.type, str)}


def check_types(data: dict[str, Any], types_, *, path=None, lines: dict[str, int] | None = None) -> dict[str, Any]:
    """Check every value of `data` against its dataclass field's annotation; returns the converted values.

    Raises `ConfigError` naming the file, line and field, the value given and the type expected.
    """
    fields = {f.name: (dtype, f) for dtype in types_ for f in dataclasses.fields(dtype) if f.init}
    hints = {dtype: _field_types(dtype) for dtype in types_}
    out = dict(data)
    for key, value in data.items():
        dtype, field = fields[key]
        if key not in hints[dtype]:
            continue
        if value is None and field.default is None:
            continue  # "no value", as the field's own default
        ok, converted = _coerce(value, hints[dtype][key])
        if not ok:
            raise ConfigError(
                f"wrong type for '{key}': got {type(value).__name__} {value!r}",
                path=path,
                line=(lines or {}).get(key),
                field=str(key),
                expected=_type_name(hints[dtype][key]),
            )
        out[key] = converted
    return out


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
        data = check_types(data, types, path=recipe, lines=lines)
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
    _check_finite(instances, recipe, lines)
    return tuple(instances)


def _check_finite(instances, recipe, lines: dict[str, int]) -> None:
    """A float field set to NaN or infinity (`learning_rate: .nan`) is refused at parsing, not at launch; a field
    whose own default is not finite is left alone."""
    import math

    for instance in instances:
        for field in dataclasses.fields(instance):
            value = getattr(instance, field.name, None)
            default_finite = not (isinstance(field.default, float) and not math.isfinite(field.default))
            if isinstance(value, float) and not math.isfinite(value) and default_finite:
                raise ConfigError(f"'{field.name}' is {value}", path=recipe, line=lines.get(field.name),
                                  field=field.name, expected="a finite number")  # fmt: skip
