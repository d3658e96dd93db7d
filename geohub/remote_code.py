"""The remote-code export: a saved geohub model folder made loadable with `trust_remote_code=True` where geohub
is not installed.

`export_remote_code(folder)` ships the family folder's configuration/modeling/processing files as they are: each
imports only torch/transformers/numpy/scipy/stdlib and its own folder's modules, and takes geohub's model base
class (`geohub.modeling_utils.GeoPreTrainedModel`: atomic saves, checksum-verified loading) inside a `try`, falling
back to transformers' `PreTrainedModel` where geohub is not installed. `auto_map` is written through transformers'
own `register_for_auto_class` + `save_pretrained`. `geohub.hub.push` calls it on the staged folder.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import secrets
import shutil
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


_ALLOWED_TOP_LEVEL = {"torch", "transformers", "numpy", "scipy", "__future__", "safetensors", "huggingface_hub"}


def _check_imports(source: str, path: Path, local_modules: set[str]) -> None:
    """The rule that lets a family folder ship as it is: outside `try` blocks (optional imports, which transformers'
    own remote-code check skips too), a file imports only torch/transformers/numpy/scipy/stdlib and same-folder
    modules (`from .configuration_x import ...`)."""

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try):
            return
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1 or (node.module or "") not in local_modules:
                raise HubError(f"line {node.lineno}: relative import outside the family folder (remote code ships "
                               "the folder as it is)", path=path)  # fmt: skip
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top not in _ALLOWED_TOP_LEVEL and top not in sys.stdlib_module_names:
                    raise HubError(f"line {node.lineno}: imports '{name}' (remote code allows torch/transformers/"
                                   "numpy/scipy/stdlib only, other imports inside try/except)", path=path)  # fmt: skip
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))


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
    """Copy the family's code files (and `extra` ones) into `target` byte for byte, after checking their imports."""
    family_dir = Path(importlib.import_module(family.package).__file__).parent
    target.mkdir(parents=True)
    (target / "__init__.py").write_text("")
    files = [src for pattern in ("configuration_*.py", "modeling_*.py", "processing_*.py")
             for src in sorted(family_dir.glob(pattern))]  # fmt: skip
    files += [p for p in extra if p not in files]
    local = {src.stem for src in files}
    for src in files:
        text = src.read_text(encoding="utf-8")
        _check_imports(text, src, local)
        shutil.copyfile(src, target / src.name)


def export_remote_code(folder: str | os.PathLike) -> dict[str, str]:
    """Make the saved model in `folder` loadable with `trust_remote_code=True` where geohub is not installed.

    The family's code files are copied into a throw-away package, imported, registered with
    `register_for_auto_class`, and the model is re-saved from it, so transformers itself copies the code files
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
