"""ROUGE-1/2/L/Lsum F-measures (Google's `rouge_score`), as an `evaluate` module that loads offline:
`evaluate.load(geohub.metrics.rouge_path())` or `evaluate.load("geohub/metrics/rouge")`.

Inputs: `predictions`: list of summaries; `references`: list of reference summaries, or list of lists (several
references per prediction: the best-scoring one counts, as in SciTLDR).
Outputs: `rouge1`, `rouge2`, `rougeL`, `rougeLsum` in [0, 1], averaged over predictions (`use_aggregator=False`
gives per-prediction lists). Options: `rouge_types`, `use_stemmer=True` (Porter stemming).
`rougeLsum` splits summaries into sentences on newlines.
"""

from __future__ import annotations

import datasets
import evaluate
from rouge_score import rouge_scorer

_CITATION = """@inproceedings{lin-2004-rouge, title={ROUGE: A Package for Automatic Evaluation of Summaries},
author={Lin, Chin-Yew}, booktitle={Text Summarization Branches Out}, year={2004}, pages={74--81}}"""
_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


class Rouge(evaluate.Metric):
    """ROUGE F-measures on `rouge_score`."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description="predictions: list[str]; references: list[str] or list[list[str]]",
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string"),
                        "references": datasets.Sequence(datasets.Value("string")),
                    }
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=True):
        rouge_types = list(rouge_types or _TYPES)
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer)
        per_type = {kind: [] for kind in rouge_types}
        for prediction, reference in zip(predictions, references):
            options = [reference] if isinstance(reference, str) else list(reference)
            best = None
            for option in options:
                score = scorer.score(option, prediction)
                if best is None or score[rouge_types[0]].fmeasure > best[rouge_types[0]].fmeasure:
                    best = score
            for kind in rouge_types:
                per_type[kind].append(float(best[kind].fmeasure) if best else 0.0)
        if not use_aggregator:
            return per_type
        return {kind: (sum(values) / len(values) if values else 0.0) for kind, values in per_type.items()}
