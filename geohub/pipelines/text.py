"""`transformers.pipeline` tasks for literature models (registered in `geohub/auto.py`):

    pipeline("geo-summarization", model="path/to/seq2seq")            # any AutoModelForSeq2SeqLM
    pipeline("extractive-summarization", model="path/to/extractive")  # geohub's extractive summarizer
    pipeline("knowledge-extraction", model="path/to/tagger")          # BIO tagger (+ relation_model=...)

Each takes one text or a list of texts; summarization returns `{"summary_text": str}` per text, knowledge
extraction `{"entities": [...], "relations": [...]}` (with offsets and confidences) per text. The work is done by
`geohub.inference.text`, so pipelines and `summarize`/`extract` give the same answers.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from ..inference.text import _relation_function, check_texts, predict_entities, summarize
from ..knowledge import KnowledgeGraph

__all__ = ["GeoSummarizationPipeline", "KnowledgeExtractionPipeline"]


class GeoSummarizationPipeline(Pipeline):
    """Abstract -> short summary, for seq2seq models and geohub's extractive summarizer."""

    def _sanitize_parameters(self, num_sentences=None, max_new_tokens=None, num_beams=None, **kwargs):
        forward = {}
        for key, value in (
            ("num_sentences", num_sentences),
            ("max_new_tokens", max_new_tokens),
            ("num_beams", num_beams),
        ):
            if value is not None:
                forward[key] = value
        return {}, forward, {}

    def preprocess(self, text: str) -> dict[str, Any]:
        return {"text": check_texts([text])[0]}

    def _forward(self, inputs: dict[str, Any], **options) -> dict[str, Any]:
        return {"summary_text": summarize([inputs["text"]], model=self.model, tokenizer=self.tokenizer, **options)[0]}

    def postprocess(self, outputs: dict[str, Any]) -> dict[str, str]:
        return outputs


class KnowledgeExtractionPipeline(Pipeline):
    """Abstract -> entities (BIO tagger) and relations with provenance: from a relation classifier when
    `relation_model=` names one (a folder or a loaded model; `geohub quickstart`'s is used when present), else
    from the typed rules (`relation_model="rules"`)."""

    def _sanitize_parameters(self, min_confidence=None, relation_model=None, **kwargs):
        postprocess = {"min_confidence": min_confidence} if min_confidence is not None else {}
        if relation_model is not None:
            postprocess["relation_model"] = relation_model
        return {}, {}, postprocess

    def preprocess(self, text: str) -> dict[str, Any]:
        return {"text": check_texts([text])[0]}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"text": inputs["text"], "mentions": predict_entities([inputs["text"]], self.model, self.tokenizer)[0]}

    def _relations(self, relation_model: Any):
        cache = self.__dict__.setdefault("_geohub_relation_functions", {})
        key = relation_model if isinstance(relation_model, (str, type(None))) else id(relation_model)
        if key not in cache:
            cache[key] = _relation_function(relation_model)
        return cache[key]

    def postprocess(self, outputs: dict[str, Any], min_confidence: float = 0.0, relation_model: Any = None):
        mentions = [m for m in outputs["mentions"] if m.confidence >= min_confidence]
        graph = KnowledgeGraph()
        graph.add_document("input", outputs["text"], mentions, self._relations(relation_model)(outputs["text"], mentions))
        entities = [
            {"text": m.text, "label": m.label, "start": m.start, "end": m.end, "score": m.confidence} for m in mentions
        ]
        relations = [{k: t[k] for k in ("head", "relation", "tail", "confidence")} for t in graph.triples()]
        return {"entities": entities, "relations": relations}
