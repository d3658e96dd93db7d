"""Layers only import downward: data -> models -> training, and models -> inference -> pipelines -> demo / CLI.

Every import statement of the package (module level and inside functions) is read with `ast` and resolved to the
geohub module it names; `import geohub` itself is run in a fresh interpreter and must load neither the training
stack nor gradio.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geohub"

# layer -> the geohub layers it must never import (upward or sideways-up imports)
FORBIDDEN = {
    "data": ("models", "training", "inference", "pipelines", "demo", "quickstart", "cli"),
    "models": ("training", "inference", "pipelines", "demo", "quickstart", "cli"),
    "training": ("inference", "pipelines", "demo", "quickstart", "cli"),
    "inference": ("training", "pipelines", "demo", "quickstart", "cli"),
    "pipelines": ("training", "demo", "quickstart", "cli"),
    "demo": ("training", "cli"),
    "metrics": ("training", "inference", "pipelines", "demo", "quickstart", "cli"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "geohub" else None


def test_no_module_imports_a_layer_above_it():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(_module_name(path))
        if layer not in FORBIDDEN:
            continue
        for line, name in _imports(path):
            target = _layer(name)
            if target in FORBIDDEN[layer]:
                violations.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({layer}) imports {name}")
    assert not violations, "upward imports:\n" + "\n".join(sorted(set(violations)))


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    """The walker must catch `from ..training import x` inside a function (what a careless edit would add)."""
    fake = PACKAGE / "inference" / "_layering_probe.py"
    fake.write_text("def f():\n    from ..training.tasks import get_task\n    return get_task\n", encoding="utf-8")
    try:
        assert (2, "geohub.training.tasks") in _imports(fake)
    finally:
        fake.unlink()


@pytest.mark.slow
def test_import_geohub_loads_neither_training_nor_gradio():
    code = "import json, sys, geohub; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert not [m for m in modules if m.startswith("geohub.training")], "import geohub loaded geohub.training"
    assert not [m for m in modules if m == "gradio" or m.startswith("gradio.")], "import geohub loaded gradio"
    assert "geohub.demo" not in modules and "geohub.quickstart" not in modules
