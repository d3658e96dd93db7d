"""Path of geohub's offline terrain-realism metric: `evaluate.load(terrain_realism_path())`."""

from __future__ import annotations

from pathlib import Path

__all__ = ["terrain_realism_path", "load_terrain_realism"]

_HERE = Path(__file__).resolve().parent


def terrain_realism_path() -> str:
    """Folder of the offline terrain-realism `evaluate` module."""
    return str(_HERE / "terrain_realism")


def load_terrain_realism():
    """`evaluate.load` of the terrain-realism module (no network)."""
    import evaluate

    return evaluate.load(terrain_realism_path())
