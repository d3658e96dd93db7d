"""Text side of the extractive summarizer: sentence tokenization into `(documents, sentences, tokens)` batches,
the lexical sentence features (TF-IDF similarity to the document, word overlap with the title, length), and the
choice of sentences from scores (with trigram blocking).

The text is never rewritten: a document is a list of sentences (pre-split by the caller, or cut once from the
text by the caller's splitter), and every summary is made of those sentences; a model with a compression head
may then delete words of a chosen sentence (`encode_words`, `word_features`, `compress_words`: only deletions,
word order kept, every kept word exactly as written).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import torch

try:  # inside geohub: a training task's thread adaptation times these batches (geohub/runtime.py)
    from geohub.runtime import loop_step
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise

    def loop_step(kind: str = "inference") -> None:
        """No training task to tell outside geohub."""

__all__ = [
    "LEXICAL_FEATURES",
    "lexical_features",
    "tfidf_centroid_scores",
    "encode_documents",
    "collate_documents",
    "select_sentence_indices",
    "select_sentences",
    "WORD_FEATURES",
    "word_features",
    "encode_words",
    "compress_words",
    "compress_sentences",
]

# names of the columns of `lexical_features`, in order (saved in the config as `lexical_features`)
LEXICAL_FEATURES = (
    "tfidf_centroid",
    "tfidf_centroid_z",
    "tfidf_centroid_best",
    "title_overlap",
    "log_words",
    "contribution_cue",
)  # a model reads the first `config.num_lexical_features` of them

# a sentence that states the paper's contribution ("we propose ...", "in this paper ...", "our results ...")
_CUE = re.compile(
    r"\b(we (propose|present|introduce|show|develop|describe|demonstrate|find|study|investigate|report|use|apply"
    r"|analy[sz]e)|this (paper|work|study|article)|in this (paper|work|study)|here,? we|our (method|approach|model"
    r"|results))\b",
    re.IGNORECASE,
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    "a an the of and or in on for to with by from is are was were be been being this that these those we our it its "
    "as at which can than into using use used also has have had not but such their there then thus here".split()
)


def _content_words(sentence: str) -> list[str]:
    return [w for w in _WORD.findall(sentence.lower()) if w not in _STOP]


def tfidf_centroid_scores(sentences: Sequence[str]) -> np.ndarray:
    """Cosine of each sentence's TF-IDF vector with the document's mean TF-IDF vector `(S,)` (IDF over the
    document's own sentences, smoothed: log((1 + S) / (1 + df)) + 1; stop words dropped). The TF-IDF centroid
    baseline picks the highest."""
    words = [_content_words(s) for s in sentences]
    vocabulary: dict[str, int] = {}
    for row in words:
        for word in row:
            vocabulary.setdefault(word, len(vocabulary))
    matrix = np.zeros((len(sentences), max(len(vocabulary), 1)))
    for i, row in enumerate(words):
        for word in row:
            matrix[i, vocabulary[word]] += 1.0
    document_frequency = (matrix > 0).sum(0)
    matrix *= np.log((1.0 + len(sentences)) / (1.0 + document_frequency)) + 1.0
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-9
    centroid = matrix.mean(0)
    return matrix @ (centroid / (np.linalg.norm(centroid) + 1e-9))


def lexical_features(sentences: Sequence[str], title: str | None = None) -> list[list[float]]:
    """Per-sentence lexical features `[S][len(LEXICAL_FEATURES)]`: TF-IDF centroid similarity (raw, z-scored in
    the document, 1 for the best sentence), the fraction of the title's content words in the sentence (0 without
    a title), log(1 + content words) / 3 and 1 when the sentence states a contribution ("we propose", "in this
    paper", "our results", ...)."""
    tfidf = tfidf_centroid_scores(sentences)
    z = (tfidf - tfidf.mean()) / (tfidf.std() + 1e-6)
    best = np.zeros(len(sentences))
    best[int(np.argmax(tfidf))] = 1.0
    title_words = set(_content_words(title)) if title else set()
    rows = []
    for i, sentence in enumerate(sentences):
        words = _content_words(sentence)
        overlap = len(title_words & set(words)) / len(title_words) if title_words else 0.0
        rows.append([float(tfidf[i]), float(z[i]), float(best[i]), overlap, math.log1p(len(words)) / 3.0,
                     float(bool(_CUE.search(sentence)))])  # fmt: skip
    return rows


def encode_documents(
    tokenizer,
    documents: Sequence[Sequence[str]],
    max_sentence_length: int,
    titles: Sequence[str | None] | None = None,
    max_sentences: int | None = None,
) -> dict[str, list]:
    """Tokenize each document's sentences (unpadded nested lists `[doc][sentence][token]`) and compute its
    lexical features; `title_input_ids`/`title_attention_mask` hold the tokenized title (`[CLS] [SEP]` and
    `title_mask` 0 when there is none). `max_sentences` keeps only the first sentences of each document."""
    titles = list(titles) if titles is not None else [None] * len(documents)
    out: dict[str, list] = {key: [] for key in ("input_ids", "attention_mask", "sentence_features")}
    out.update({"title_input_ids": [], "title_attention_mask": [], "title_mask": []})
    for sentences, title in zip(documents, titles):
        sentences = list(sentences[:max_sentences] if max_sentences else sentences) or [""]
        encoded = tokenizer(sentences, truncation=True, max_length=max_sentence_length)
        out["input_ids"].append(encoded["input_ids"])
        out["attention_mask"].append(encoded["attention_mask"])
        out["sentence_features"].append(lexical_features(sentences, title))
        title_encoded = tokenizer(title or "", truncation=True, max_length=max_sentence_length)
        out["title_input_ids"].append(title_encoded["input_ids"])
        out["title_attention_mask"].append(title_encoded["attention_mask"])
        out["title_mask"].append(int(bool(title and title.strip())))
    return out


def _pad_rows(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    length = max(len(row) for row in rows)
    tensor = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        tensor[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return tensor


def collate_documents(features: list[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad documents into a batch: `input_ids`/`attention_mask` `(B, S, L)` (or precomputed
    `sentence_embeddings` `(B, S, H)` with `sentence_mask` `(B, S)`), `sentence_features` `(B, S, F)`, titles as
    `title_input_ids`/`title_attention_mask` `(B, Lt)` or `title_embeddings` `(B, H)`, `title_mask` `(B,)`, and
    `labels` `(B, S)` when present. Keys absent from the features are absent from the batch."""
    first = features[0]
    key = "sentence_embeddings" if "sentence_embeddings" in first else "input_ids"
    counts = [len(f[key]) for f in features]
    batch, sentences = len(features), max(counts)
    out: dict[str, torch.Tensor] = {}
    if key == "sentence_embeddings":
        size = len(first["sentence_embeddings"][0])
        out["sentence_embeddings"] = torch.zeros(batch, sentences, size)
        out["sentence_mask"] = torch.zeros(batch, sentences, dtype=torch.long)
        for b, feature in enumerate(features):
            out["sentence_embeddings"][b, : counts[b]] = torch.as_tensor(feature["sentence_embeddings"])
            out["sentence_mask"][b, : counts[b]] = 1
    else:
        length = max(len(ids) for f in features for ids in f["input_ids"])
        out["input_ids"] = torch.full((batch, sentences, length), pad_token_id, dtype=torch.long)
        out["attention_mask"] = torch.zeros(batch, sentences, length, dtype=torch.long)
        for b, feature in enumerate(features):
            for s, ids in enumerate(feature["input_ids"]):
                out["input_ids"][b, s, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                out["attention_mask"][b, s, : len(ids)] = 1
    if "sentence_features" in first:
        size = len(first["sentence_features"][0])
        out["sentence_features"] = torch.zeros(batch, sentences, size)
        for b, feature in enumerate(features):
            out["sentence_features"][b, : counts[b]] = torch.as_tensor(feature["sentence_features"], dtype=torch.float)
    if "title_embeddings" in first:
        out["title_embeddings"] = torch.stack([torch.as_tensor(f["title_embeddings"]) for f in features]).float()
    elif "title_input_ids" in first:
        out["title_input_ids"] = _pad_rows([f["title_input_ids"] for f in features], pad_token_id)
        out["title_attention_mask"] = _pad_rows([f["title_attention_mask"] for f in features], 0)
    if "title_mask" in first:
        out["title_mask"] = torch.tensor([int(f["title_mask"]) for f in features], dtype=torch.long)
    if "labels" in first:
        out["labels"] = torch.zeros(batch, sentences)
        for b, feature in enumerate(features):
            out["labels"][b, : len(feature["labels"])] = torch.as_tensor(feature["labels"], dtype=torch.float)
    return out


def _trigrams(sentence: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(sentence.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def select_sentence_indices(
    scores: Sequence[float], sentences: Sequence[str], count: int, *, block_trigrams: bool = True
) -> list[int]:
    """Indices (in document order) of the `count` best-scored sentences; with `block_trigrams`, a sentence that
    shares a word trigram with one already chosen is skipped (Paulus et al. 2018) unless nothing else is left."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    scores = np.asarray(scores, dtype=float)[: len(sentences)]
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-scores, kind="stable").tolist()
    chosen, seen, skipped = [], set(), []
    for index in order:
        if len(chosen) == count:
            break
        grams = _trigrams(sentences[index]) if block_trigrams else set()
        if grams & seen:
            skipped.append(index)
            continue
        chosen.append(index)
        seen |= grams
    chosen += skipped[: count - len(chosen)]
    return sorted(chosen)


def select_sentences(
    scores: Sequence[float], sentences: Sequence[str], count: int, block_trigrams: bool = True
) -> str:
    """The chosen sentences (see `select_sentence_indices`) joined by a space."""
    return " ".join(
        sentences[i] for i in select_sentence_indices(scores, sentences, count, block_trigrams=block_trigrams)
    )


# --- sentence compression (word deletion) -----------------------------------------------------------------------
# names of the columns of `word_features`, in order (the compression head sees them beside each word's token state)
WORD_FEATURES = ("in_title", "in_other_sentences", "in_parentheses", "relative_position")


def word_features(sentences: Sequence[str], index: int, title: str | None = None) -> list[list[float]]:
    """Per-word features `[W][len(WORD_FEATURES)]` of the whitespace words of `sentences[index]`: 1 if the word
    (any of its letters/digits runs, lower-cased) is in the title / in another sentence of the document, 1 inside
    parentheses, and the word's relative position in the sentence."""
    title_words = set(_WORD.findall(title.lower())) if title else set()
    other = {w for j, s in enumerate(sentences) if j != index for w in _WORD.findall(s.lower())}
    words = sentences[index].split()
    rows, depth = [], 0
    for i, word in enumerate(words):
        tokens = _WORD.findall(word.lower())
        depth += word.count("(")
        rows.append([float(any(t in title_words for t in tokens)), float(any(t in other for t in tokens)),
                     float(depth > 0), i / max(len(words) - 1, 1)])  # fmt: skip
        depth = max(0, depth - word.count(")"))
    return rows


def encode_words(tokenizer, sentences: Sequence[str], max_length: int = 128) -> dict[str, torch.Tensor]:
    """The whitespace words of each sentence as sub-word batches: `input_ids`/`attention_mask` `(N, L)` and
    `first_token` `(N, W)`, the position of each word's first sub-word (-1 for a word cut off by `max_length` or
    padding; such words are always kept)."""
    words = [sentence.split() or [""] for sentence in sentences]
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length, padding=True,
                        return_tensors="pt")  # fmt: skip
    first = torch.full((len(words), max(len(w) for w in words)), -1, dtype=torch.long)
    for row in range(len(words)):
        for position, word in enumerate(encoded.word_ids(row)):
            if word is not None and first[row, word] < 0:
                first[row, word] = position
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "first_token": first}


_NEGATIONS = frozenset("not no never without cannot nor neither none".split())


def _is_negation(word: str) -> bool:
    runs = _WORD.findall(word.lower())
    return any(run in _NEGATIONS for run in runs) or word.lower().rstrip(".,;:)").endswith("n't")


def _is_quantity(words: Sequence[str]) -> np.ndarray:
    """Words that carry a number ("12-15", "M5.2", "2011") and a short unit word right after one ("km", "Hz",
    "Ma", "m/s"): a summary must not turn "at 12-15 km depth" into "at km depth"."""
    numbers = np.array([any(ch.isdigit() for ch in word) for word in words], dtype=bool)
    units = np.zeros_like(numbers)
    for i in range(1, len(words)):
        core = words[i].rstrip(".,;:)")
        units[i] = numbers[i - 1] and 0 < len(core) <= 4 and not numbers[i] and core.lower() not in _NEGATIONS
    return numbers | units


def compress_words(sentence: str, keep: Sequence[float], threshold: float, min_words: int, min_run: int = 1) -> str:
    """`sentence` without the words whose keep probability (`keep`, one per whitespace word) is below
    `threshold`, deleted only in runs of at least `min_run` consecutive words (shorter runs stay: fewer broken
    word pairs); negations ("not", "no", "never", "without", "cannot", "...n't"), numbers and the short unit word
    after a number are never deleted; when fewer
    than `min_words` words would remain, the `min_words` most probable are kept (all of a shorter sentence). Kept
    words stay exactly as written, in their order."""
    words = sentence.split()
    if len(words) <= min_words:
        return " ".join(words)
    probabilities = np.ones(len(words))  # words without a probability (cut off by the tokenizer) are kept
    given = np.asarray(keep, dtype=float)[: len(words)]
    probabilities[: len(given)] = given
    kept = probabilities >= threshold
    negations = np.array([_is_negation(word) for word in words]) | _is_quantity(words)
    kept |= negations  # a deleted "not" would reverse the sentence, a deleted number or unit change a value
    start = 0
    while start < len(kept):  # restore runs of deleted words shorter than min_run
        end = start
        while end < len(kept) and not kept[end]:
            end += 1
        if 0 < end - start < min_run:
            kept[start:end] = True
        start = max(end, start + 1)
    if kept.sum() < min_words:
        kept = np.zeros(len(words), dtype=bool)
        kept[np.argsort(-probabilities, kind="stable")[:min_words]] = True
        kept |= negations
    return " ".join(word for word, keep_it in zip(words, kept) if keep_it)


@torch.no_grad()
def compress_sentences(items, model, tokenizer, batch_size: int = 16, lock=None) -> list[str]:
    """Each `(sentences, index, title)` item's sentence `sentences[index]` without the words that `model`'s
    compression head (`compression_logits`) gives a keep probability below `config.compression_threshold` (at
    least `config.compression_min_words` words kept). `lock`: a context-manager factory held while tokenizing."""
    from contextlib import nullcontext

    out = []
    for begin in range(0, len(items), batch_size):
        chunk = items[begin : begin + batch_size]
        sentences = [document[index] for document, index, _ in chunk]
        with lock() if lock is not None else nullcontext():
            encoded = encode_words(tokenizer, sentences)
        features = torch.zeros(*encoded["first_token"].shape, len(WORD_FEATURES))
        for row, (document, index, title) in enumerate(chunk):
            values = word_features(document, index, title)
            if values:
                features[row, : len(values)] = torch.tensor(values)
        device = next(model.parameters()).device
        encoded = {key: value.to(device) for key, value in encoded.items()}
        logits = model.compression_logits(**encoded, word_features=features.to(device))
        keep = torch.sigmoid(logits.float()).cpu().numpy()
        config = model.config
        out += [
            compress_words(
                sentence,
                keep[row],
                config.compression_threshold,
                config.compression_min_words,
                getattr(config, "compression_min_run", 1),
            )
            for row, sentence in enumerate(sentences)
        ]
        loop_step("compress")  # inside a training task (its evaluation), lets the thread adaptation act; else nothing
    return out
