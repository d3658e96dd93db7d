"""Event detection and phase-pick scores, as an `evaluate` module that loads offline:
`evaluate.load("geohub/metrics/seismic_picking")`.

Inputs (one entry per window): `predicted_detection`, `reference_detection` (0/1); `predicted_p`, `reference_p`,
`predicted_s`, `reference_s` (pick sample indices, negative when absent). Option `sampling_rate` (Hz, default
100) and `tolerance_s` (default 0.5 s).

Outputs: `detection_precision`, `detection_recall`, `detection_f1`; for each phase X in (p, s): `X_precision`,
`X_recall`, `X_f1` (a predicted pick is a true positive when the window has a reference pick within
`tolerance_s`), and over those true positives `X_mae_s`, `X_rmse_s` (seconds) and `X_mean_residual_s`
(predicted minus reference); `X_count` true-positive picks. Scores with nothing to average are NaN.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from geohub.metrics.scores import precision_recall_f1, residual_stats

_CITATION = """@article{zhu2019phasenet, title={PhaseNet: a deep-neural-network-based seismic arrival-time picking
method}, author={Zhu, Weiqiang and Beroza, Gregory C}, journal={Geophysical Journal International}, volume={216},
number={1}, pages={261--273}, year={2019}}"""


def pick_scores(predicted, reference, sampling_rate: float, tolerance_s: float, prefix: str) -> dict[str, float]:
    """Precision/recall/F1 and residual statistics of one phase's picks (sample indices, negative = none)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    has_pred, has_ref = predicted >= 0, reference >= 0
    residual = (predicted - reference) / sampling_rate
    hit = has_pred & has_ref & (np.abs(residual) <= tolerance_s)
    tp = float(hit.sum())
    fp = float((has_pred & ~hit).sum())
    fn = float((has_ref & ~hit).sum())
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    good = residual_stats(residual[hit])
    return {
        f"{prefix}_precision": precision,
        f"{prefix}_recall": recall,
        f"{prefix}_f1": f1,
        f"{prefix}_mae_s": good["mae"],
        f"{prefix}_rmse_s": good["rmse"],
        f"{prefix}_mean_residual_s": good["mean"],
        f"{prefix}_count": int(tp),
    }


class SeismicPicking(evaluate.Metric):
    """Detection precision/recall/F1 and P/S pick precision/recall/F1, MAE and RMSE in seconds."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description="per-window detections (0/1) and pick sample indices (negative when absent)",
            features=datasets.Features(
                {
                    "predicted_detection": datasets.Value("int64"),
                    "reference_detection": datasets.Value("int64"),
                    "predicted_p": datasets.Value("float64"),
                    "reference_p": datasets.Value("float64"),
                    "predicted_s": datasets.Value("float64"),
                    "reference_s": datasets.Value("float64"),
                }
            ),
        )

    def _compute(self, predicted_detection, reference_detection, predicted_p, reference_p, predicted_s,
                 reference_s, sampling_rate: float = 100.0, tolerance_s: float = 0.5):  # fmt: skip
        pred = np.asarray(predicted_detection) > 0
        ref = np.asarray(reference_detection) > 0
        precision, recall, f1 = precision_recall_f1((pred & ref).sum(), (pred & ~ref).sum(), (~pred & ref).sum())
        scores = {"detection_precision": precision, "detection_recall": recall, "detection_f1": f1}
        scores.update(pick_scores(predicted_p, reference_p, sampling_rate, tolerance_s, "p"))
        scores.update(pick_scores(predicted_s, reference_s, sampling_rate, tolerance_s, "s"))
        return scores
