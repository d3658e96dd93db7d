"""Paths of geohub's offline text metrics: `evaluate.load(rouge_path())`, `evaluate.load(seqeval_path())`."""

from __future__ import annotations

from pathlib import Path

__all__ = ["rouge_path", "seqeval_path", "load_rouge", "load_seqeval"]

_HERE = Path(__file__).resolve().parent


def rouge_path() -> str:
    """Folder of the offline ROUGE `evaluate` module."""
    return str(_HERE / "rouge")


def seqeval_path() -> str:
    """Folder of the offline seqeval `evaluate` module."""
    return str(_HERE / "seqeval")


def load_rouge():
    import evaluate

    return evaluate.load(rouge_path())


def load_seqeval():
    import evaluate

    return evaluate.load(seqeval_path())
