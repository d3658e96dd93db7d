"""What `geohub.explain` explains for the extractive summarizer (declared as `explain=` in this family's `family.py`;
the hook's contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the score of sentence `s`
(default: the best one), per sentence `(S,)` (embedding dimensions summed)."""

from __future__ import annotations

import torch

from ...errors import ExplainError

FILE_READER = "summary"  # `document_batch` below prepares a text file's sentences
_EXTRAS = ("sentence_features", "title_input_ids", "title_attention_mask", "title_embeddings", "title_mask")


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    input_ids, mask = batch["input_ids"], batch["attention_mask"]
    extra = {k: batch[k] for k in _EXTRAS if batch.get(k) is not None}  # title, lexical features
    with torch.no_grad():
        embeddings = model.embed_sentences(input_ids, mask).float()
        present = mask.any(dim=-1)
        logits = model(sentence_embeddings=embeddings, sentence_mask=present, **extra).logits
    sentence = int(logits[0].argmax()) if target is None else int(target)
    if not bool(present[0, sentence]):
        raise ExplainError(f"sentence {sentence} is padding", field="target", expected="a present sentence")

    def score(v):
        expanded = {k: t.expand(v.shape[0], *t.shape[1:]) for k, t in extra.items()}
        return model(sentence_embeddings=v, sentence_mask=present.expand(v.shape[0], -1), **expanded).logits[
            :, sentence
        ]

    # baseline: zero sentence embeddings; with document features, the document shrunk 1000-fold towards them (the
    # cosine and z-score features are discontinuous at exactly zero, so the path from zero would not add up)
    baseline = embeddings * 1e-3 if getattr(model, "num_features", 0) else torch.zeros_like(embeddings)
    return {"forward": score, "inputs": embeddings, "baseline": baseline, "target": f"score of sentence {sentence}",
            "target_index": sentence, "reduce": lambda a: a.sum(axis=-1)[0]}  # fmt: skip


def document_batch(tokenizer, sentences: list[str], max_sentence_length: int, title: str | None = None) -> dict:
    """The model inputs of one document's `sentences` (and title), as the extractive-summarization pipeline
    prepares them (`geohub.explain.explain_summary` explains them)."""
    from .processing_extractive_summarizer import collate_documents, encode_documents

    encoded = encode_documents(tokenizer, [sentences], max_sentence_length, titles=[title])
    return collate_documents([dict(zip(encoded, values)) for values in zip(*encoded.values())],
                             tokenizer.pad_token_id or 0)  # fmt: skip
