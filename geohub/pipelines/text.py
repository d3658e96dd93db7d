"""`transformers.pipeline` tasks for literature models (registered in `geohub/auto.py`):

    pipeline("geo-summarization", model="path/to/seq2seq")            # any AutoModelForSeq2SeqLM
    pipeline("extractive-summarization", model="path/to/extractive")  # geohub's extractive summarizer
    pipeline("knowledge-extraction", model="path/to/tagger")          # BIO tagger (+ relation_model=...)

Each takes one text or a list of texts; summarization returns `{"summary_text": str}` per text, knowledge
extraction `{"entities": [...], "relations": [...]}` (with offsets and confidences) per text. A list is checked
before any work; `errors="return"` gives a bad item `{"index", "input", "error", "error_type"}` in its place
instead of raising (`geohub.pipelines.items`). The work is done by
`geohub.inference.text`, so pipelines and `summarize`/`extract` give the same answers.

Explanations (`geohub.explain`): `explain=True` (integrated gradients; or `"saliency"` / `"input_x_gradient"`, with
`explain_steps=` / `explain_max_steps=`). The extractive summarizer adds `"explanation"`: one entry per chosen
sentence (in summary order; `sentence` index, `text`), the sentence's score attributed per sentence of the input
`(S,)` (sentence embeddings summed; zero-embedding baseline). Knowledge extraction adds `"explanation"`: one entry
for each of the first `explain_entities` (default 5) entities of `"entities"` (in text order; `entity` is the index
there), the tagger's logit of the predicted label at the entity's first sub-word, attributed per token `(L,)` of its
sentence (`tokens`, `offsets`: character span of each token's word, None for special tokens). Entries hold
`attributions` (numpy), `method`, `target`, `output`, `baseline_output`, `completeness_gap`,
`relative_completeness_gap`, `n_steps` (`geohub.explain.explanation_entry`). Seq2seq summarizers are not
explained (a clear error). Without `explain` the results are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Pipeline

from ..explain import ExplainError, explain_mention, explanation_entry, pipeline_settings
from ..explain import explain as explain_model

# geohub.inference.text and geohub.knowledge (datasets, pandas, networkx) are imported where they are used, so that
# registering the pipelines (`geohub.auto`) stays light

__all__ = ["GeoSummarizationPipeline", "KnowledgeExtractionPipeline"]


class GeoSummarizationPipeline(Pipeline):
    """Abstract -> short summary, for seq2seq models and geohub's extractive summarizer.

    An input is a text (split once into sentences), a list of its sentences (kept as given), or a dict with
    `text` (or `sentences`) and an optional `title`; a list of such inputs gives one result per input, batched
    with `batch_size`. Options: `num_sentences` (extractive, >= 1), `title` (extractive, for a single input),
    `max_new_tokens`/`num_beams` (seq2seq). Extractive summaries are exact sentences of the input.
    """

    max_sentence_length = 64  # sub-word tokens per sentence (as in training)

    def _sanitize_parameters(self, num_sentences=None, max_new_tokens=None, num_beams=None, title=None, explain=None,
                             explain_steps=None, explain_max_steps=None, **kwargs):  # fmt: skip
        from ..inference.text import check_num_sentences

        if explain not in (None, False) and not self._extractive:
            raise ExplainError("explanations of seq2seq summaries are not supported", field="explain",
                               expected="explain=False, or geohub's extractive summarizer")  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        preprocess = {"title": title} if title is not None else {}
        forward = {k: v for k, v in (("max_new_tokens", max_new_tokens), ("num_beams", num_beams)) if v is not None}
        postprocess = {"explain": settings}
        if num_sentences is not None:
            postprocess["num_sentences"] = check_num_sentences(num_sentences)
            forward["num_sentences"] = postprocess["num_sentences"]
        return preprocess, forward, postprocess

    @property
    def _extractive(self) -> bool:
        from ..inference.text import is_extractive

        return is_extractive(self.model)

    def __call__(self, inputs, *args, errors: str = "raise", **kwargs):
        """A list is checked item by item before any work: with `errors="raise"` (default) a bad item is a
        `CorpusError` naming `inputs[i]`; with `errors="return"` its result is its error (`geohub.pipelines.items`)
        and the other items get their summaries."""
        return _call_checked(self, super().__call__, inputs, _check_document, errors, args, kwargs)

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
        meta = {"sentences": sentences, "title": title}
        if not self._extractive:
            return {"meta": meta}
        from ..inference.tokenizing import tokenizer_lock

        with tokenizer_lock(self.tokenizer):  # a pipeline may serve several threads (issue 20)
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
        if self._extractive:  # the model inputs travel on for explanations (batched: sliced per document)
            return {"logits": self.model(**inputs).logits, "meta": meta, **inputs}
        from ..inference.text import summarize

        metas = meta if isinstance(meta, list) else [meta]  # a list when the pipeline batches
        summaries = summarize([m["sentences"] for m in metas], model=self.model, tokenizer=self.tokenizer,
                              num_sentences=num_sentences, **options)  # fmt: skip
        return {"summary_text": summaries if isinstance(meta, list) else summaries[0]}

    def postprocess(self, outputs: dict[str, Any], num_sentences: int = 1, explain: dict | None = None) -> dict:
        from ..models.extractive_summarizer.processing_extractive_summarizer import (
            select_sentence_indices,
            select_sentences,
        )

        if "summary_text" in outputs:
            return {"summary_text": outputs["summary_text"]}
        sentences = outputs["meta"]["sentences"]
        scores = outputs["logits"].reshape(-1)[: len(sentences)].float().cpu().numpy()
        result = {"summary_text": select_sentences(scores, sentences, num_sentences)}
        if getattr(self.model.config, "compression", False):  # words of the chosen sentences deleted, order kept
            from ..inference.text import compress_sentences

            title = outputs["meta"].get("title")
            chosen = select_sentence_indices(scores, sentences, num_sentences)
            shortened = compress_sentences([(sentences, i, title) for i in chosen], self.model, self.tokenizer)
            result = {"summary_text": " ".join(shortened), "sentences": result["summary_text"]}
        if explain is not None:
            inputs = {k: v for k, v in outputs.items() if isinstance(v, torch.Tensor) and k != "logits"}
            chosen = select_sentence_indices(scores, sentences, num_sentences)
            result["explanation"] = [self._explain_sentence(inputs, int(i), sentences, explain) for i in chosen]
        return result

    def _explain_sentence(self, inputs: dict, index: int, sentences: list[str], settings: dict) -> dict:
        e = explain_model(self.model, inputs, target=index, **settings)
        return explanation_entry(e, e.attributions[: len(sentences)], sentence=index, text=sentences[index])


class KnowledgeExtractionPipeline(Pipeline):
    """Abstract -> entities (BIO tagger) and relations with provenance: from a relation classifier when
    `relation_model=` names one (a folder or a loaded model; `geohub quickstart`'s is used when present), else
    from the typed rules (`relation_model="rules"`)."""

    def _sanitize_parameters(self, min_confidence=None, relation_model=None, explain=None, explain_steps=None,
                             explain_max_steps=None, explain_entities=None, **kwargs):  # fmt: skip
        settings = pipeline_settings(explain, explain_steps, explain_max_steps, self.model)
        postprocess = {"min_confidence": min_confidence} if min_confidence is not None else {}
        if relation_model is not None:
            postprocess["relation_model"] = relation_model
        if explain_entities is not None:
            if isinstance(explain_entities, bool) or not isinstance(explain_entities, int) or explain_entities < 1:
                raise ExplainError(f"explain_entities={explain_entities!r}", field="explain_entities",
                                   expected="a whole number >= 1 (the first N entities are explained)")  # fmt: skip
            postprocess["explain_entities"] = explain_entities
        return {}, {}, {**postprocess, "explain": settings}

    def __call__(self, inputs, *args, errors: str = "raise", **kwargs):
        """A list is checked item by item before any work: with `errors="raise"` (default) a bad item is a
        `CorpusError` naming `inputs[i]`; with `errors="return"` its result is its error (`geohub.pipelines.items`)
        and the other texts get their entities."""
        return _call_checked(self, super().__call__, inputs, _check_text, errors, args, kwargs)

    def preprocess(self, text: str) -> dict[str, Any]:
        from ..inference.text import check_texts

        return {"text": check_texts([text])[0]}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # with `batch_size` > 1 transformers hands over a list of texts (and unrolls the lists it gets back)
        batched = isinstance(inputs["text"], list)
        texts = inputs["text"] if batched else [inputs["text"]]
        from ..inference.text import predict_entities

        mentions = predict_entities(texts, self.model, self.tokenizer)
        return {"text": texts if batched else texts[0], "mentions": mentions if batched else mentions[0]}

    def _relations(self, relation_model: Any):
        cache = self.__dict__.setdefault("_geohub_relation_functions", {})
        key = relation_model if isinstance(relation_model, (str, type(None))) else id(relation_model)
        if key not in cache:
            from ..inference.text import relation_function

            cache[key] = relation_function(relation_model)
        return cache[key]

    def postprocess(self, outputs: dict[str, Any], min_confidence: float = 0.0, relation_model: Any = None,
                    explain: dict | None = None, explain_entities: int = 5):  # fmt: skip
        from ..knowledge import KnowledgeGraph

        mentions = [m for m in outputs["mentions"] if m.confidence >= min_confidence]
        graph = KnowledgeGraph()
        graph.add_document(
            "input", outputs["text"], mentions, self._relations(relation_model)(outputs["text"], mentions)
        )
        entities = [
            {"text": m.text, "label": m.label, "start": m.start, "end": m.end, "score": m.confidence} for m in mentions
        ]
        relations = [{k: t[k] for k in ("head", "relation", "tail", "confidence")} for t in graph.triples()]
        result = {"entities": entities, "relations": relations}
        if explain is not None:
            result["explanation"] = [self._explain_mention(outputs["text"], i, m, explain)
                                     for i, m in enumerate(mentions[:explain_entities])]  # fmt: skip
        return result

    def _explain_mention(self, text: str, index: int, mention, settings: dict) -> dict:
        e = explain_mention(self.model, self.tokenizer, text, mention, **settings)
        return explanation_entry(e, entity=index, text=mention.text, label=mention.label, offsets=e.extra["offsets"])


def _item_error(check, field: str) -> None:
    """Run `check()`; its `GeohubError` is raised again naming the list item (`inputs[i]`)."""
    from ..errors import CorpusError, GeohubError

    try:
        check()
    except GeohubError as err:
        raise CorpusError(f"{field}: {err.message}", field=field, expected=err.expected) from None


def _check_document(item, field: str) -> None:
    from ..inference.text import check_documents

    document = item.get("sentences", item.get("text")) if isinstance(item, dict) else item
    _item_error(lambda: check_documents([document]), field)


def _check_text(item, field: str) -> None:
    from ..inference.text import check_texts

    _item_error(lambda: check_texts([item]), field)


def _call_checked(pipe, call, inputs, check, errors: str, args: tuple, kwargs: dict):
    """`errors="raise"`: a list's items checked before any work, then `call`; `errors="return"`: per-item results
    or errors (`geohub.pipelines.items.run_items`). A single input is checked by the pipeline's preprocess."""
    from .items import check_errors_mode, run_items

    if check_errors_mode(errors) == "return":
        return run_items(inputs, check, lambda items: call(items, *args, **kwargs),
                         lambda item: call(item, *args, **kwargs))  # fmt: skip
    if isinstance(inputs, list):
        for index, item in enumerate(inputs):
            check(item, f"inputs[{index}]")
    return call(inputs, *args, **kwargs)
