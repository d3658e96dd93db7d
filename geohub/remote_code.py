"""The remote-code export: a saved geohub model folder made loadable with `trust_remote_code=True` where geohub
is not installed.

`export_remote_code(folder)` copies the family's configuration/modeling/processing code, with
`geohub.modeling_utils`, `geohub.modeling_outputs`, `geohub.utils` and `geohub.atomic` bundled beside it (their
`from ...x import` lines pointed at the bundled copies), and writes `auto_map` through transformers' own
`register_for_auto_class` + `save_pretrained`. `geohub.hub.push` calls it on the staged folder.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from .errors import HubError

__all__ = ["export_remote_code", "read_json"]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as err:
        raise HubError(f"not valid JSON: {err}", path=path) from err


_BUNDLED = {
    "modeling_utils": "geohub_modeling_utils",
    "modeling_outputs": "geohub_modeling_outputs",
    "utils": "geohub_utils",
    "atomic": "geohub_atomic",  # imported by utils (atomic writes, stdlib only)
}
_ALLOWED_TOP_LEVEL = {"torch", "transformers", "numpy", "scipy", "__future__", "safetensors", "huggingface_hub"}


def _rewrite_family_source(source: str, path: Path) -> str:
    """`from ...modeling_utils import X` -> `from .geohub_modeling_utils import X` (and the same for the others)."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in _BUNDLED:
            raise HubError(f"imports geohub.{name}, which remote code cannot bundle (remote-code rule)", path=path)
        return f"from .{_BUNDLED[name]} import"

    return re.sub(r"from \.\.\.(\w+) import", replace, source)


def _check_imports(source: str, path: Path, local_modules: set[str]) -> None:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1 or (node.module or "") not in local_modules:
                raise HubError(f"line {node.lineno}: relative import not bundled with the remote code", path=path)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top not in _ALLOWED_TOP_LEVEL and top not in sys.stdlib_module_names:
                    raise HubError(f"line {node.lineno}: imports '{name}' (remote code allows torch/transformers/"
                                   "numpy/scipy/stdlib only)", path=path)  # fmt: skip


def _processor_source(family, folder: Path) -> tuple[str, Path, str] | None:
    """(class name, source file, Auto class) of the family's feature extractor saved in `folder`, if any.

    The processor may live in another family's folder (the magnitude model uses the picker's extractor).
    Image processors are not exported: `pipeline()` probes AutoVideoProcessor, and that probe turns an image
    processor's auto_map into a trust_remote_code prompt even where geohub is installed.
    """
    if family.processor is None or family.processor_auto != "AutoFeatureExtractor":
        return None
    if not (folder / "preprocessor_config.json").is_file():
        return None
    cls = family.processor_class()
    return cls.__name__, Path(sys.modules[cls.__module__].__file__), "AutoFeatureExtractor"


def _write_remote_package(family, target: Path, extra: list[Path] = ()) -> None:
    """Write the family's code files (and `extra` ones), rewritten, plus the bundled geohub modules, into `target`."""
    import geohub

    family_dir = Path(importlib.import_module(family.package).__file__).parent
    target.mkdir(parents=True)
    (target / "__init__.py").write_text("")
    sources: dict[str, str] = {}
    files = [src for pattern in ("configuration_*.py", "modeling_*.py", "processing_*.py")
             for src in sorted(family_dir.glob(pattern))]  # fmt: skip
    for src in files + [p for p in extra if p not in files]:
        sources[src.stem] = _rewrite_family_source(src.read_text(encoding="utf-8"), src)
    package_dir = Path(geohub.__file__).parent
    for name, new_name in _BUNDLED.items():
        text = (package_dir / f"{name}.py").read_text(encoding="utf-8")
        sources[new_name] = re.sub(
            r"from \.(\w+) import", lambda m: f"from .{_BUNDLED.get(m.group(1), m.group(1))} import", text
        )
    for stem, text in sources.items():
        _check_imports(text, family_dir / f"{stem}.py", set(sources))
        (target / f"{stem}.py").write_text(text, encoding="utf-8")


def export_remote_code(folder: str | os.PathLike) -> dict[str, str]:
    """Make the saved model in `folder` loadable with `trust_remote_code=True` where geohub is not installed.

    The family's code is rewritten into a throw-away package, imported, registered with
    `register_for_auto_class`, and the model is re-saved from it, so transformers itself copies the code files
    (and the bundled `geohub_modeling_utils.py` / `geohub_modeling_outputs.py` / `geohub_utils.py` they import)
    and writes `auto_map` into config.json; a geohub feature extractor saved beside the model
    (preprocessor_config.json) gets the same treatment (`AutoFeatureExtractor`). Returns the model's `auto_map`;
    `{}` for stock transformers models.
    """
    from .auto import family_for_config

    folder = Path(folder)
    config = read_json(folder / "config.json")
    family = family_for_config(config)
    architecture = (config.get("architectures") or [""])[0]
    auto_name = family.auto_class_of(architecture) if family is not None and family.config else None
    if auto_name is None:
        return {}
    processor = _processor_source(family, folder)
    package = f"geohub_remote_{secrets.token_hex(6)}"
    with tempfile.TemporaryDirectory(prefix="geohub-remote-") as tmp:
        _write_remote_package(family, Path(tmp) / package, [processor[1]] if processor else [])
        sys.path.insert(0, tmp)
        try:
            modules = [importlib.import_module(f"{package}.{p.stem}")
                       for p in sorted((Path(tmp) / package).glob("*.py")) if p.stem != "__init__"]  # fmt: skip

            def remote(name: str):
                return next(getattr(m, name) for m in modules if hasattr(m, name))

            remote(family.config.rpartition(":")[2]).register_for_auto_class()
            model_class = remote(architecture)
            model_class.register_for_auto_class(auto_name)
            model_class.from_pretrained(folder, use_safetensors=True).save_pretrained(folder)
            if processor is not None:
                processor_class = remote(processor[0])
                processor_class.register_for_auto_class(processor[2])
                processor_class.from_pretrained(folder).save_pretrained(folder)
        finally:
            sys.path.remove(tmp)
            for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
                del sys.modules[name]
    return read_json(folder / "config.json").get("auto_map", {})
