"""`geohub.import_hooks.when_imported`: how `import geohub` registers the families with transformers lazily."""

from __future__ import annotations

import importlib
import sys

import pytest

from geohub.import_hooks import when_imported


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A folder on sys.path for throw-away modules; they leave sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        importlib.invalidate_caches()

    yield write
    for name in set(sys.modules) - before:
        if name.startswith("h5probe"):
            del sys.modules[name]


def test_a_hook_runs_at_once_for_an_imported_module_and_on_import_otherwise(modules):
    calls = []
    when_imported("json", lambda module: calls.append(module.__name__))
    assert calls == ["json"]
    modules("h5probe_plain", "X = 1\n")
    when_imported("h5probe_plain", lambda module: calls.append(module.X))
    assert calls == ["json"]
    importlib.import_module("h5probe_plain")
    assert calls == ["json", 1]


def test_a_hook_waits_for_the_outermost_import_to_finish(modules):
    """Like `from transformers import BertModel`, whose module imports the Auto classes while it is half done."""
    modules("h5probe_log", "events = []\n")
    modules("h5probe_inner", "VALUE = 2\n")
    modules("h5probe_outer", "import h5probe_inner\nimport h5probe_log\nh5probe_log.events.append('outer done')\n")
    log = importlib.import_module("h5probe_log")
    when_imported("h5probe_inner", lambda module: log.events.append("hook"))
    importlib.import_module("h5probe_outer")
    assert log.events == ["outer done", "hook"]


def test_a_failed_import_keeps_the_hook_for_the_next_attempt(modules):
    calls = []
    modules("h5probe_flaky", "raise RuntimeError('not yet')\n")
    when_imported("h5probe_flaky", lambda module: calls.append(module.__name__))
    with pytest.raises(RuntimeError, match="not yet"):
        importlib.import_module("h5probe_flaky")
    assert calls == []
    modules("h5probe_flaky", "OK = True\n")
    sys.modules.pop("h5probe_flaky", None)
    importlib.import_module("h5probe_flaky")
    assert calls == ["h5probe_flaky"]
