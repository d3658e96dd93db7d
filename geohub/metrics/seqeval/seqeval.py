"""Entity-level precision, recall and F1 for BIO-tagged sequences (seqeval), as an `evaluate` module that loads
offline: `evaluate.load(geohub.metrics.seqeval_path())` or `evaluate.load("geohub/metrics/seqeval")`.

Inputs: `predictions`, `references`: lists of tag sequences (`["B-STRAT", "I-STRAT", "O"]`).
Outputs: `overall_precision`, `overall_recall`, `overall_f1`, `overall_accuracy` (token accuracy) and, per entity
type `X`, a dict `X = {precision, recall, f1, number}` (`number` = reference entities of that type).
Options: `mode=None` (conlleval-style: an `I-` after `O` opens an entity) or `"strict"` (IOB2 schemes only),
`scheme="IOB2"`, `zero_division=0`.
"""

from __future__ import annotations

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report

_CITATION = """@misc{seqeval, title={seqeval: A Python framework for sequence labeling evaluation},
author={Hiroki Nakayama}, year={2018}, url={https://github.com/chakki-works/seqeval}}"""


class Seqeval(evaluate.Metric):
    """seqeval's entity-level scores over BIO sequences."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description="predictions, references: list[list[str]] of BIO tags",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references, mode=None, scheme="IOB2", zero_division=0):
        kwargs = {"zero_division": zero_division, "output_dict": True}
        if mode == "strict":
            from seqeval import scheme as schemes

            kwargs.update(mode="strict", scheme=getattr(schemes, scheme))
        report = classification_report(y_true=references, y_pred=predictions, **kwargs)
        report.pop("macro avg", None)
        report.pop("weighted avg", None)
        overall = report.pop("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
        scores = {
            kind: {
                "precision": float(values["precision"]),
                "recall": float(values["recall"]),
                "f1": float(values["f1-score"]),
                "number": int(values["support"]),
            }
            for kind, values in report.items()
        }
        scores.update(
            overall_precision=float(overall["precision"]),
            overall_recall=float(overall["recall"]),
            overall_f1=float(overall["f1-score"]),
            overall_accuracy=float(accuracy_score(y_true=references, y_pred=predictions)),
        )
        return scores
