"""Layers only import downward: data -> models -> training, and models -> inference -> pipelines -> demo / CLI.

Every import statement of the package (module level and inside functions) is read with `ast` and resolved to the
geohub module it names. Module-level imports must form no cycle, and no module imports another module's private
(`_name`) names. `import geohub` itself is run in fresh interpreters: it loads none of the heavy stacks
(`FORBIDDEN_ON_IMPORT`), costs at most 1.5x `import torch, transformers`, and `geohub --help` answers within 1 s of
Python's own start-up.
"""

from __future__ import annotations

import ast
import json
import os
import statistics
import subprocess
import sys
import time
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


# what `import geohub` must not load (issue 25): data sets, dataframes, the demo, attributions, ONNX, training
FORBIDDEN_ON_IMPORT = ("datasets", "pandas", "gradio", "captum", "onnxruntime", "geohub.training", "geohub.explain",
                       "geohub.export", "geohub.demo", "geohub.quickstart")  # fmt: skip


def _fresh_modules(code: str) -> list[str]:
    code += "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_import_geohub_loads_none_of_the_heavy_stacks():
    modules = _fresh_modules("import geohub")
    loaded = [name for name in FORBIDDEN_ON_IMPORT if any(m == name or m.startswith(name + ".") for m in modules)]
    assert not loaded, f"import geohub loaded {loaded}"


REGISTRATION_CHECK = """
import geohub
from transformers import BertModel  # a stock model that imports the Auto classes while it is imported itself
from transformers import AutoFeatureExtractor, AutoModel
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING
from transformers.pipelines import PIPELINE_REGISTRY
from geohub.auto import families, pipeline_tasks
for family in families().values():
    config = family.config_class()
    if config is None:
        continue
    assert CONFIG_MAPPING[family.model_type] is config, family.name
    if "AutoModel" in family.models.values():
        assert config in AutoModel._model_mapping, family.name
    if family.processor_auto == "AutoFeatureExtractor":
        assert config in FEATURE_EXTRACTOR_MAPPING, family.name
missing = set(pipeline_tasks()) - set(PIPELINE_REGISTRY.get_supported_tasks())
assert not missing, missing
"""


@pytest.mark.slow
def test_families_register_when_transformers_imports_its_registries():
    """`import geohub` is light because each transformers registry learns the families when transformers imports
    it (`geohub.import_hooks`): every registry does, also when a stock model importing the Auto classes comes first."""
    modules = _fresh_modules(REGISTRATION_CHECK)
    assert "geohub.models.gpd.modeling_gpd" in modules
    # registering the pipelines imports their classes, not their heavy helpers (data sets, dataframes, graphs)
    assert not {"datasets", "pandas", "networkx", "geohub.training"} & set(modules)


def _median_seconds(commands: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    """(median wall time, median CPU time: user + system) of each command in fresh processes, run interleaved
    (a, b, c, a, b, c, ...) so that the load of a busy machine falls on all of them alike."""
    import resource

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, timeout=300, env=env)
            wall[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in commands}


@pytest.mark.slow
def test_import_geohub_and_geohub_help_are_fast():
    """`import geohub` <= 1.5x `import torch, transformers`; `geohub --help` < 1 s beyond `python -c pass`.

    On a shared machine every wall time stretches by the share of the CPU the process gets; the ratio of medians
    of interleaved runs cancels that, and the 1 s of `--help` is checked as CPU time and as wall time allowing the
    stretch measured on `import torch, transformers` in the same run (wall / CPU)."""
    python = sys.executable
    medians = _median_seconds(
        {
            "python": [python, "-c", "pass"],
            "torch, transformers": [python, "-c", "import torch, transformers"],
            "geohub": [python, "-c", "import geohub"],
            "geohub --help": [
                python,
                "-c",
                "import sys; from geohub.cli import main; sys.argv = ['geohub', '--help']; main()",
            ],  # fmt: skip
        },
        repeats=7,
    )
    report = ", ".join(f"{name} {w:.2f} s wall / {c:.2f} s CPU" for name, (w, c) in medians.items())
    assert medians["geohub"][0] <= 1.5 * medians["torch, transformers"][0], report
    assert medians["geohub"][1] <= 1.5 * medians["torch, transformers"][1], report
    assert medians["geohub --help"][1] - medians["python"][1] < 1.0, report
    stretch = max(1.0, medians["torch, transformers"][0] / max(medians["torch, transformers"][1], 1e-3))
    assert medians["geohub --help"][0] - medians["python"][0] < 1.0 * stretch, f"{report}; stretch {stretch:.1f}"


def _module_level_imports(path: Path) -> set[str]:
    """The geohub modules `path` imports when it is itself imported: imports outside functions, except those under
    `if TYPE_CHECKING:`."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            if isinstance(node, ast.ClassDef):
                visit(node.body)
            else:
                visit(ast.iter_child_nodes(node))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _import_graph() -> dict[str, set[str]]:
    """geohub module -> the geohub modules its module-level imports name (a name of a package's module counts as
    that module; importing a module imports its parent packages)."""
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in _module_level_imports(path):
            while name and name not in files:  # `from .x import Name` -> module .x
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_module_level_import_cycle():
    cycles = _cycles(_import_graph())
    assert not cycles, "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _private_imports(path: Path) -> list[str]:
    """`from other_module import _private` anywhere in the file (a geohub module other than the file itself)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
        if not base.startswith("geohub") or base == module:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {base}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in _private_imports(path)]
    assert not found, "imports of private names:\n" + "\n".join(found)
