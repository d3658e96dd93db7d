"""Lazy package exports (PEP 562), as transformers' `_LazyModule` does for its model folders: a family package
(`geohub/models/<family>/__init__.py`) names what it exports and from which of its modules, and a name is imported
on first access. So reading a family's declaration (`geohub.models.<family>.family`, which imports its package
first) imports neither torch nor the family's model, processor or transformers' model stack.

    __getattr__, __dir__ = lazy_exports(__name__, {".configuration_gpd": ["GPDConfig"], ...})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, list[str]]) -> tuple[Callable, Callable]:
    """The module-level `__getattr__` and `__dir__` of `package` that import each name of `exports` (module path,
    relative to the package -> names) from its module on first access, and keep it."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
