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

import torch
from transformers import Pipeline

from ..inference.text import _relation_function, check_texts, predict_entities, summarize
from ..knowledge import KnowledgeGraph

__all__ = ["GeoSummarizationPipeline", "KnowledgeExtractionPipeline"]


class GeoSummarizationPipeline(Pipeline):
    """Abstract -> short summary, for seq2seq models and geohub's extractive summarizer.

    An input is a text (split once into sentences), a list of its sentences (kept as given), or a dict with
    `text` (or `sentences`) and an optional `title`; a list of such inputs gives one result per input, batched
    with `batch_size`. Options: `num_sentences` (extractive, >= 1), `title` (extractive, for a single input),
    `max_new_tokens`/`num_beams` (seq2seq). Extractive summaries are exact sentences of the input.
    """

    max_sentence_length = 64  # sub-word tokens per sentence (as in training)

    def _sanitize_parameters(self, num_sentences=None, max_new_tokens=None, num_beams=None, title=None, **kwargs):
        from ..inference.text import _check_num_sentences

        preprocess = {"title": title} if title is not None else {}
        forward = {k: v for k, v in (("max_new_tokens", max_new_tokens), ("num_beams", num_beams)) if v is not None}
        postprocess = {}
        if num_sentences is not None:
            postprocess["num_sentences"] = _check_num_sentences(num_sentences)
            forward["num_sentences"] = postprocess["num_sentences"]
        return preprocess, forward, postprocess

    @property
    def _extractive(self) -> bool:
        return getattr(self.model.config, "model_type", "") == "geohub_extractive_summarizer"

    def preprocess(self, inputs: Any, title: str | None = None) -> dict[str, Any]:
        from ..inference.text import check_documents
        from ..models.extractive_summarizer.processing_extractive_summarizer import (
            collate_documents,
            encode_documents,
        )

        if isinstance(inputs, dict):
            title = inputs.get("title", title)
            inputs = inputs.get("sentences", inputs.get("text"))
        sentences = check_documents([inputs])[0]
        meta = {"sentences": sentences}
        if not self._extractive:
            return {"meta": meta}
        encoded = encode_documents(self.tokenizer, [sentences], self.max_sentence_length, titles=[title])
        batch = collate_documents([dict(zip(encoded, values)) for values in zip(*encoded.values())],
                                  self.tokenizer.pad_token_id or 0)  # fmt: skip
        # fixed token width, so that documents are batched by padding the sentence dimension only
        for key, value in (("input_ids", self.tokenizer.pad_token_id or 0), ("attention_mask", 0)):
            padded = torch.full((*batch[key].shape[:2], self.max_sentence_length), value, dtype=torch.long)
            padded[..., : batch[key].shape[-1]] = batch[key]
            batch[key] = padded
        for key in ("title_input_ids", "title_attention_mask"):
            padded = torch.zeros(1, self.max_sentence_length, dtype=torch.long)
            padded[:, : batch[key].shape[-1]] = batch[key]
            batch[key] = padded
        return {**batch, "meta": meta}

    def _forward(self, inputs: dict[str, Any], num_sentences: int = 1, **options) -> dict[str, Any]:
        meta = inputs.pop("meta")
        if self._extractive:
            return {"logits": self.model(**inputs).logits, "meta": meta}
        metas = meta if isinstance(meta, list) else [meta]  # a list when the pipeline batches
        summaries = summarize([m["sentences"] for m in metas], model=self.model, tokenizer=self.tokenizer,
                              num_sentences=num_sentences, **options)  # fmt: skip
        return {"summary_text": summaries if isinstance(meta, list) else summaries[0]}

    def postprocess(self, outputs: dict[str, Any], num_sentences: int = 1) -> dict[str, str]:
        from ..models.extractive_summarizer.processing_extractive_summarizer import select_sentences

        if "summary_text" in outputs:
            return {"summary_text": outputs["summary_text"]}
        sentences = outputs["meta"]["sentences"]
        scores = outputs["logits"].reshape(-1)[: len(sentences)].float().cpu().numpy()
        return {"summary_text": select_sentences(scores, sentences, num_sentences)}


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
        # with `batch_size` > 1 transformers hands over a list of texts (and unrolls the lists it gets back)
        batched = isinstance(inputs["text"], list)
        texts = inputs["text"] if batched else [inputs["text"]]
        mentions = predict_entities(texts, self.model, self.tokenizer)
        return {"text": texts if batched else texts[0], "mentions": mentions if batched else mentions[0]}

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
