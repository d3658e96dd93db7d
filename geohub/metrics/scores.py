"""The counting scores every geohub metric and benchmark shares: precision / recall / F1 and residual statistics.

precision_recall_f1(tp, fp, fn) -> (precision, recall, f1)      # 0 where a ratio is undefined
macro_f1(predicted, labels) -> (accuracy, macro F1)             # over the classes present in either
residual_stats(residuals) -> {"mae", "rmse", "mean", "std", "count"}   # NaN for an empty set
"""

from __future__ import annotations

import numpy as np

__all__ = ["precision_recall_f1", "macro_f1", "residual_stats"]


def precision_recall_f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """(precision, recall, F1) from counts of true positives, false positives and false negatives."""
    tp, fp, fn = float(tp), float(fp), float(fn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def macro_f1(predicted, labels) -> tuple[float, float]:
    """(accuracy, macro-averaged F1) of class predictions, over the classes present in labels or predictions."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    f1s = []
    for cls in np.union1d(np.unique(labels), np.unique(predicted)):
        tp = np.sum((predicted == cls) & (labels == cls))
        fp = np.sum((predicted == cls) & (labels != cls))
        fn = np.sum((predicted != cls) & (labels == cls))
        f1s.append(precision_recall_f1(tp, fp, fn)[2])
    accuracy = float(np.mean(predicted == labels)) if labels.size else float("nan")
    return accuracy, float(np.mean(f1s)) if f1s else float("nan")


def residual_stats(residuals) -> dict[str, float]:
    """Mean absolute error, RMSE, mean, standard deviation and count of residuals (NaN statistics when empty)."""
    values = np.asarray(residuals, dtype=np.float64).ravel()
    if values.size == 0:
        nan = float("nan")
        return {"mae": nan, "rmse": nan, "mean": nan, "std": nan, "count": 0}
    return {
        "mae": float(np.abs(values).mean()),
        "rmse": float(np.sqrt((values**2).mean())),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "count": int(values.size),
    }
