"""Explanations of texts: a tagged entity, a knowledge-graph mention, an extractive summary."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..inference.tokenizing import tokenize
from .core import Explanation, explain, explain_hook

__all__ = ["token_entities", "explain_entity", "explain_mention", "explain_summary"]


def token_entities(labels: list[str], special: list[bool]) -> list[tuple[int, int, str]]:
    """Entity spans `(first token, last token, type)` of BIO(-like) token labels (special tokens skipped)."""
    spans: list[list] = []
    for i, (tag, skip) in enumerate(zip(labels, special)):
        if skip or tag == "O":
            continue
        kind = tag.split("-", 1)[-1]
        continuing = spans and spans[-1][1] == i - 1 and spans[-1][2] == kind and not tag.startswith("B-")
        if continuing:
            spans[-1][1] = i
        else:
            spans.append([i, i, kind])
    return [tuple(span) for span in spans]


def explain_entity(model: nn.Module, tokenizer: Any, text: str, *, entity: int = 1, max_tokens: int = 128,
                   **kwargs) -> Explanation:  # fmt: skip
    """The tagger's logit of the label of entity number `entity` (1-based, in text order) at its first token, per
    token of the text's first `max_tokens` tokens. `extra`: `offsets` (character span per token), `special` (per
    token), `entity`, `num_entities`, `phrase`, `kind`, `first_token`, `last_token`."""
    from ..errors import CorpusError

    encoded = tokenize(tokenizer, text, truncation=True, max_length=max_tokens, return_offsets_mapping=True,
                       return_special_tokens_mask=True, return_tensors="pt")  # fmt: skip
    offsets = encoded.pop("offset_mapping")[0].tolist()
    special = encoded.pop("special_tokens_mask")[0].bool().tolist()
    batch = {k: v.to(model.device) for k, v in encoded.items()}
    with torch.no_grad():
        predicted = model(**batch).logits[0].argmax(-1).tolist()
    spans = token_entities([model.config.id2label[i] for i in predicted], special)
    if not spans:
        raise CorpusError(f"the tagger finds no entity in the text's first {max_tokens} tokens, so there is nothing "
                          "to explain", field="text",
                          expected="a text naming rocks, minerals, places, periods, methods...")  # fmt: skip
    number = int(entity or 1)
    if not 1 <= number <= len(spans):
        raise CorpusError(f"entity {number} asked, the tagger finds {len(spans)}", field="entity",
                          expected=f"a number from 1 to {len(spans)}")  # fmt: skip
    first, last, kind = spans[number - 1]
    explanation = explain(model, batch, target=(first, predicted[first]), tokenizer=tokenizer, **kwargs)
    explanation.extra.update(offsets=[tuple(o) for o in offsets], special=special, entity=number,
                             num_entities=len(spans), phrase=text[offsets[first][0] : offsets[last][1]], kind=kind,
                             first_token=first, last_token=last)  # fmt: skip
    return explanation


def explain_mention(model: nn.Module, tokenizer: Any, text: str, mention, *, max_length: int = 256,
                    **kwargs) -> Explanation:  # fmt: skip
    """The tagger's logit of its label at the first sub-word of an entity `mention` (a `geohub.knowledge.Mention`
    of `extract`/the knowledge-extraction pipeline), per token of the mention's sentence, tokenized as
    `geohub.inference.text.predict_entities` does (words of that sentence window, case token types when the model
    uses them). `extra`: `offsets` (character span in `text` of each token's word, None for special tokens)."""
    from ..data.corpus import sentence_spans, word_spans
    from ..inference.text import word_windows
    from ..models.entity_tagger.gazetteer import TokenTypes

    max_length = min(max_length, getattr(model.config, "max_position_embeddings", max_length) or max_length)
    sentences = sentence_spans(text) or [(0, len(text))]
    begin, end = sentences[min(int(mention.sentence), len(sentences) - 1)]
    spans = [(begin + x, begin + y) for x, y in word_spans(text[begin:end])]
    windows = word_windows(spans, text, tokenizer, max_length - 2) or [[(mention.start, mention.end)]]
    window = next((w for w in windows if any(a <= mention.start < b for a, b in w)), windows[0])
    word = next((i for i, (a, b) in enumerate(window) if a <= mention.start < b), 0)
    words = [text[a:b] for a, b in window]
    encoded = tokenize(tokenizer, [words], is_split_into_words=True, truncation=True, max_length=max_length,
                       return_tensors="pt")  # fmt: skip
    word_ids = encoded.word_ids(0)
    batch = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    token_types = TokenTypes(model.config)  # case feature and/or gazetteer matches, as in predict_word_tags
    if token_types.active:
        batch["token_type_ids"] = torch.tensor([token_types(word_ids, words)], dtype=torch.long)
    token = word_ids.index(word) if word in word_ids else 1
    with torch.no_grad():
        label = int(model(**batch).logits[0, token].argmax())
    explanation = explain(model, batch, target=(token, label), tokenizer=tokenizer, **kwargs)
    explanation.extra["offsets"] = [None if w is None else window[w] for w in word_ids]
    return explanation


def explain_summary(model: nn.Module, tokenizer: Any, text: str, *, title: str | None = None,
                    max_sentence_length: int = 64, **kwargs) -> Explanation:  # fmt: skip
    """The extractive summarizer's score of its best sentence of `text` (split into sentences as the
    extractive-summarization pipeline does), per sentence `(S,)`. `extra`: `sentences`."""
    from ..inference.text import check_documents

    sentences = check_documents([text])[0]
    batch = explain_hook(model).document_batch(tokenizer, sentences, max_sentence_length, title)  # the family's
    explanation = explain(model, batch, **kwargs)
    explanation.extra["sentences"] = sentences
    return explanation
