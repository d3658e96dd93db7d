"""Run a function once a module has been imported: how `import geohub` registers its families with transformers'
Auto classes and pipelines without importing them (`geohub.auto.register_all`).

    when_imported("transformers.pipelines", register_pipelines)   # now if already imported, else on first import

A hook runs when the import of its module has *finished* and no other import is still under way (in any thread),
so a hook that imports further modules never meets a half-initialised one: `from transformers import BertModel`
imports `transformers.models.auto.modeling_auto` from inside `modeling_bert`, and a geohub model that itself
imports `BertModel` is only imported once `modeling_bert` is complete.

How: a finder first in `sys.meta_path` hands back the normal spec of a watched module, but of a `ModuleSpec`
subclass that notices when the import system sets `spec._initializing = False` (the last step of every import,
`importlib._bootstrap._load_unlocked`). Until every pending hook has run, the specs of modules still being
imported are watched the same way, so the hooks run when the outermost import finishes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from types import ModuleType

__all__ = ["when_imported"]

_lock = threading.RLock()
_waiting: dict[str, list[Callable[[ModuleType], None]]] = {}  # module not imported yet -> its hooks
_due: list[tuple[str, Callable[[ModuleType], None]]] = []  # imported, waiting for the other imports to finish
_running = False


def when_imported(name: str, hook: Callable[[ModuleType], None]) -> None:
    """Call `hook(module)` once module `name` is imported: now if it already is (and no import is under way)."""
    with _lock:
        if name in sys.modules:
            _due.append((name, hook))
        else:
            _waiting.setdefault(name, []).append(hook)
            if not any(isinstance(f, _Finder) for f in sys.meta_path):
                sys.meta_path.insert(0, _Finder())
    _run_due()


class _WatchedSpec(importlib.machinery.ModuleSpec):
    """A `ModuleSpec` that runs the due hooks when the import system marks its module's import as finished."""

    @property
    def _initializing(self) -> bool:
        return self.__dict__.get("_geohub_initializing", False)

    @_initializing.setter
    def _initializing(self, value: bool) -> None:
        self.__dict__["_geohub_initializing"] = value
        if not value:
            with _lock:  # a failed import leaves its hooks waiting for the next attempt
                hooks = _waiting.pop(self.name, []) if self.name in sys.modules else []
                _due.extend((self.name, hook) for hook in hooks)
            _run_due()


def _watch(spec) -> None:
    if type(spec) is importlib.machinery.ModuleSpec:
        initializing = getattr(spec, "_initializing", False)
        spec.__class__ = _WatchedSpec
        spec.__dict__["_geohub_initializing"] = initializing


def _imports_under_way() -> list:
    """The specs of the modules being imported now (in any thread)."""
    found = []
    for module in list(sys.modules.values()):
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "_initializing", False):
            found.append(spec)
    return found


def _run_due() -> None:
    global _running
    with _lock:
        if _running or not _due:
            return
        under_way = _imports_under_way()
        if under_way:  # run when the last of these finishes, so that no hook meets a half-imported module
            for spec in under_way:
                _watch(spec)
            return
        _running = True
    try:
        while True:
            with _lock:
                if not _due:
                    break
                name, hook = _due.pop(0)
            hook(sys.modules[name])
    finally:
        with _lock:
            _running = False


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: gives a watched module the spec the other finders give, as a `_WatchedSpec`."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                _watch(spec)
                return spec
        return None
