"""Literature task `summarization`: an abstract -> its one-sentence summary, full or LoRA fine-tuning.

    geohub train recipes/summarization/config_extractive.yaml --config_file recipes/accelerate_configs/cpu.yaml

Architectures: any `AutoModelForSeq2SeqLM` checkpoint (`architecture: seq2seq`), an `EncoderDecoderModel`
warm-started from MiniLM on both sides (`architecture: bert2bert`, Rothe et al. 2020), or geohub's extractive
summarizer on MiniLM sentence embeddings (`architecture: extractive`); ROUGE with the offline rouge module.
With `use_lora: true` the encoder trains through peft LoRA adapters, as for `knowledge_extraction`
(`geohub.training.text`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, Seq2SeqTrainingArguments, set_seed

from ..data.corpus import (
    held_out,
    load_geo_corpus,
    load_scitldr,
    load_text_corpus,
    sentence_spans,
)
from ..errors import ConfigError
from ..models.extractive_summarizer.processing_extractive_summarizer import (
    collate_documents,
    compress_sentences,
    encode_documents,
    encode_words,
    select_sentence_indices,
    select_sentences,
    word_features,
)
from ..runtime import loop_step
from ..utils import get_logger
from .supervised import GeoSeq2SeqTrainer, GeoTrainer, with_device_defaults
from .tasks import Task
from .text import MINILM, LoraArguments, resolve_model_path, train_and_save

logger = get_logger(__name__)

__all__ = [
    "SummarizationModelArguments",
    "SummarizationDataArguments",
    "SUMMARIZATION",
    "encode_documents",
    "oracle_labels",
]

ARCHITECTURES = ("extractive", "bert2bert", "seq2seq")


@dataclass
class SummarizationModelArguments(LoraArguments):
    model_name_or_path: str = field(
        default=MINILM,
        metadata={"help": "'minilm' (offline all-MiniLM-L6-v2) or a checkpoint (seq2seq: any AutoModelForSeq2SeqLM)"},
    )
    architecture: str = field(
        default="extractive",
        metadata={"help": "extractive (sentence scorer on the encoder), bert2bert (EncoderDecoderModel warm-started "
                  "from the encoder on both sides) or seq2seq (model_name_or_path is an AutoModelForSeq2SeqLM)"},
    )  # fmt: skip
    freeze_encoder: bool = field(default=True, metadata={"help": "extractive: keep the sentence encoder fixed"})
    max_sentences: int = field(
        default=32, metadata={"help": "extractive: learned sentence positions (later sentences share the last)"}
    )
    use_features: bool = field(
        default=True,
        metadata={"help": "extractive: document features of each sentence (position, similarity to the document "
                  "and title, TF-IDF centroid similarity, title overlap, length)"},
    )  # fmt: skip
    num_sentence_layers: int = field(
        default=1, metadata={"help": "extractive: self-attention layers across sentences (0: none)"}
    )
    extractive_loss: str = field(default="listwise", metadata={"help": "extractive: listwise or bce"})
    embedding_scorer: bool = field(
        default=True,
        metadata={"help": "extractive: score the sentence embeddings after the sentence layers (deep part); false: "
                  "only the linear score of the features (transfers better from few training documents)"},
    )  # fmt: skip
    dropout: float = field(default=0.1, metadata={"help": "extractive: dropout in the sentence layers"})
    compression: bool = field(
        default=False,
        metadata={"help": "extractive: also fit a keep/drop head over the frozen encoder's token states that deletes "
                  "words of the chosen sentence (labels: the word occurs in the reference; order kept)"},
    )  # fmt: skip
    compression_threshold: float = field(
        default=0.5, metadata={"help": "extractive compression: words with a lower keep probability are deleted"}
    )
    compression_min_words: int = field(
        default=8, metadata={"help": "extractive compression: words a compressed sentence keeps at least"}
    )
    compression_min_run: int = field(
        default=1, metadata={"help": "extractive compression: words are deleted only in runs of at least this many"}
    )
    compression_epochs: int = field(default=20, metadata={"help": "extractive compression: epochs of the head"})

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {self.architecture!r}", field="architecture", expected=f"one of {ARCHITECTURES}"
            )


@dataclass
class SummarizationDataArguments:
    dataset: str = field(
        default="geo_corpus",
        metadata={
            "help": "'geo_corpus' (embedded), 'scitldr' (needs dataset_dir) or a JSONL/CSV/Parquet file or repo id"
        },
    )
    dataset_dir: str | None = field(
        default=None, metadata={"help": "folder of SciTLDR-A, e.g. ../shared/data/scitldr-a"}
    )
    eval_split: str = field(default="test", metadata={"help": "SciTLDR split evaluated during training (dev or test)"})
    source_prefix: str = field(
        default="", metadata={"help": "prepended to every source text (e.g. 'summarize: ' for T5)"}
    )
    max_source_length: int = field(
        default=256, metadata={"help": "seq2seq: source sub-word tokens (longer are truncated)"}
    )
    max_target_length: int = field(default=64, metadata={"help": "seq2seq: summary sub-word tokens"})
    max_sentence_length: int = field(default=64, metadata={"help": "extractive: sub-word tokens per sentence"})
    summary_sentences: int = field(default=1, metadata={"help": "extractive: sentences selected per summary"})
    label_sharpness: float = field(
        default=4.0,
        metadata={"help": "extractive: soft oracle labels (ROUGE-1+2 of each sentence / the best) ** sharpness; "
                  "0: hard labels (the summary_sentences best sentences)"},
    )  # fmt: skip
    title_dropout: float = field(
        default=0.3, metadata={"help": "extractive: fraction of training documents shown without their title"}
    )
    extra_train_dataset: str | None = field(
        default=None,
        metadata={"help": "a second training set mixed in ('geo_corpus', 'scitldr' or a file; its training split), "
                  "e.g. the geophysics corpus beside SciTLDR-A so that the scorer also fits geophysics abstracts"},
    )  # fmt: skip
    extra_train_repeats: int = field(default=1, metadata={"help": "times the extra training set is repeated"})
    embedding_cache_dir: str | None = field(
        default=None,
        metadata={"help": "extractive: folder keeping the frozen encoder's sentence embeddings between runs"},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training documents"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N evaluation documents"})


def _limit(dataset, count: int | None):
    return dataset.select(range(min(count, len(dataset)))) if count else dataset


def load_summarization_splits(data_args: SummarizationDataArguments):
    """(train, eval) datasets with `text`, `summary`, `sentences` and `references` columns."""
    if data_args.dataset == "scitldr":
        if not data_args.dataset_dir:
            raise ConfigError(
                "dataset 'scitldr' needs dataset_dir", field="dataset_dir", expected="../shared/data/scitldr-a"
            )
        train, test = (
            _with_titles(load_scitldr(data_args.dataset_dir, "train"), data_args.dataset_dir, "train"),
            _with_titles(
                load_scitldr(data_args.dataset_dir, data_args.eval_split), data_args.dataset_dir, data_args.eval_split
            ),
        )
    else:
        if data_args.dataset == "geo_corpus":
            splits = load_geo_corpus()
            train, test = splits["train"], splits["test"]
        else:
            corpus = load_text_corpus(data_args.dataset)
            if any(not s for s in corpus["summary"]):
                raise ConfigError(
                    "every record needs a summary to train a summarizer", path=data_args.dataset, field="summary"
                )
            train = corpus.filter(lambda row: not held_out(row["id"]))
            test = corpus.filter(lambda row: held_out(row["id"]))

        def add(row: dict) -> dict:
            return {
                "sentences": [row["text"][a:b] for a, b in sentence_spans(row["text"])],
                "references": [row["summary"]],
                "title": row.get("title") or "",
            }

        train, test = train.map(add), test.map(add)
    train = _limit(train, data_args.max_train_samples)
    if data_args.extra_train_dataset:
        train = _with_extra_training(train, data_args)
    return train, _limit(test, data_args.max_eval_samples)


def _with_extra_training(train, data_args: SummarizationDataArguments):
    """`train` followed by `extra_train_repeats` copies of the training split of `extra_train_dataset` (the
    `sentences`, `references` and `title` columns of both)."""
    from datasets import concatenate_datasets

    if data_args.extra_train_repeats < 1:
        raise ConfigError("extra_train_repeats must be >= 1", field="extra_train_repeats", expected="an integer >= 1")
    extra_args = dataclasses.replace(data_args, dataset=data_args.extra_train_dataset, extra_train_dataset=None,
                                     max_train_samples=None, max_eval_samples=1)  # fmt: skip
    extra, _ = load_summarization_splits(extra_args)
    parts = []
    for part in [train] + [extra] * data_args.extra_train_repeats:
        if "title" not in part.column_names:
            part = part.add_column("title", [""] * len(part))
        parts.append(part.select_columns(["sentences", "references", "title"]))
    return concatenate_datasets(parts)


def scitldr_titles(root: str | os.PathLike, split: str) -> list[str]:
    """The `title` of each record of SciTLDR-A's `<root>/<split>.jsonl`, in `load_scitldr`'s order."""
    import json

    with (Path(root) / f"{split}.jsonl").open(encoding="utf-8") as handle:
        return [str(json.loads(line).get("title") or "") for line in handle if line.strip()]


def _with_titles(dataset, root, split: str):
    titles = scitldr_titles(root, split)
    return dataset.add_column("title", titles) if len(titles) == len(dataset) else dataset


def oracle_scores(sentences: list[str], references: list[str]) -> list[float]:
    """ROUGE-1 + ROUGE-2 F (stemmed) of each sentence against its best reference."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    scores = []
    for sentence in sentences:
        best = 0.0
        for reference in references:
            score = scorer.score(reference, sentence)
            best = max(best, score["rouge1"].fmeasure + score["rouge2"].fmeasure)
        scores.append(best)
    return scores


def oracle_labels(sentences: list[str], references: list[str], count: int = 1, sharpness: float = 0.0) -> list[float]:
    """1 for the `count` sentences with the highest ROUGE-1 + ROUGE-2 F against the best reference, else 0; with
    `sharpness` > 0 soft labels instead: (score / best score) ** sharpness."""
    scores = np.asarray(oracle_scores(sentences, references))
    if sharpness > 0:
        return ((scores / max(scores.max(), 1e-9)) ** sharpness).round(4).tolist()
    chosen = set(np.argsort(-scores, kind="stable")[:count].tolist())
    return [int(i in chosen) for i in range(len(sentences))]


def encoder_fingerprint(model) -> str:
    """SHA-1 of the encoder's weights: names the embedding cache of one frozen encoder."""
    import hashlib

    digest = hashlib.sha1()
    for name, tensor in sorted(model.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _cache_key(ids: list[int]) -> str:
    import hashlib

    return hashlib.sha1(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()


def _load_cache(path: Path | None) -> dict[str, np.ndarray]:
    if path is None or not path.is_file():
        return {}
    with np.load(path) as stored:
        return dict(zip(stored["keys"].tolist(), stored["vectors"]))


def _save_cache(path: Path, cache: dict[str, np.ndarray]) -> None:
    import io

    from ..utils import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez(buffer, keys=np.array(list(cache)), vectors=np.stack(list(cache.values())).astype(np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


@torch.no_grad()
def precompute_sentence_embeddings(model, dataset, pad_token_id: int, batch_size: int = 64, cache_dir=None):
    """Replace `input_ids`/`attention_mask` (and the title's) by the frozen encoder's `sentence_embeddings`
    `[doc][sentence][H]` and `title_embeddings` `[doc][H]`: every distinct sentence is embedded once, in batches
    of similar length (little padding). With `cache_dir`, embeddings are kept in
    `<cache_dir>/<encoder fingerprint>.npz` (keyed by the sentence's token ids) and reused by later runs."""
    path = Path(cache_dir) / f"{encoder_fingerprint(model)}.npz" if cache_dir else None
    cache = _load_cache(path)
    known = len(cache)
    every = [ids for doc in dataset["input_ids"] for ids in doc] + list(dataset["title_input_ids"])
    needed = {_cache_key(ids): ids for ids in every}
    pending = {key: ids for key, ids in needed.items() if key not in cache}
    rows = sorted(pending.items(), key=lambda row: len(row[1]))
    for begin in range(0, len(rows), batch_size):
        chunk = rows[begin : begin + batch_size]
        padded = collate_documents([{"input_ids": [ids]} for _, ids in chunk], pad_token_id)
        embedded = model.embed_sentences(padded["input_ids"].transpose(0, 1), padded["attention_mask"].transpose(0, 1))
        for (key, _), vector in zip(chunk, embedded[0].numpy()):
            cache[key] = vector
        loop_step("embed-sentences")  # a training task's thread adaptation reads the load and times batches here
    if path is not None and len(cache) > known:
        _save_cache(path, cache)
    logger.info("sentence embeddings: %d computed, %d from the cache", len(rows), len(needed) - len(rows))
    sentences = [[cache[_cache_key(ids)].tolist() for ids in doc] for doc in dataset["input_ids"]]
    titles = [cache[_cache_key(ids)].tolist() for ids in dataset["title_input_ids"]]
    dataset = dataset.remove_columns(["input_ids", "attention_mask", "title_input_ids", "title_attention_mask"])
    return dataset.add_column("sentence_embeddings", sentences).add_column("title_embeddings", titles)


def rouge_metrics(references: list[list[str]]):
    from ..metrics.text import load_rouge

    metric = load_rouge()

    def compute(predictions: list[str]) -> dict[str, float]:
        scores = metric.compute(predictions=predictions, references=references[: len(predictions)])
        return {k: round(100 * v, 3) for k, v in scores.items()}

    return compute


def _load_extractive(model_args):
    from ..models.extractive_summarizer import ExtractiveSummarizerConfig, ExtractiveSummarizerForSentenceExtraction

    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    config_path = Path(path) / "config.json"
    if config_path.is_file() and ExtractiveSummarizerConfig.model_type in config_path.read_text():
        return ExtractiveSummarizerForSentenceExtraction.from_pretrained(path), tokenizer
    options = {"max_sentences": model_args.max_sentences, "freeze_encoder": model_args.freeze_encoder,
               "use_features": model_args.use_features, "num_sentence_layers": model_args.num_sentence_layers,
               "loss": model_args.extractive_loss, "dropout": model_args.dropout,
               "embedding_scorer": model_args.embedding_scorer, "compression": model_args.compression,
               "compression_threshold": model_args.compression_threshold,
               "compression_min_words": model_args.compression_min_words,
               "compression_min_run": model_args.compression_min_run}  # fmt: skip
    try:
        return ExtractiveSummarizerForSentenceExtraction.from_encoder(path, **options), tokenizer
    except ValueError as err:
        raise ConfigError(str(err), field="extractive_loss / dropout / num_sentence_layers") from None


def _extractive_encoder(tokenizer, data_args, seed: int, title_dropout: float):
    """Batched map function: sentences, title and (soft) oracle labels of each document; a seeded fraction
    `title_dropout` of the documents is shown without its title (the model must also work on text alone)."""

    def encode(batch, indices):
        titles = [
            title if np.random.default_rng([seed, index]).random() >= title_dropout else None
            for title, index in zip(batch.get("title") or [None] * len(indices), indices)
        ]
        out = encode_documents(tokenizer, batch["sentences"], data_args.max_sentence_length, titles=titles)
        out["labels"] = [
            oracle_labels(s, r, data_args.summary_sentences, data_args.label_sharpness)
            for s, r in zip(batch["sentences"], batch["references"])
        ]
        return out

    return encode


def _build_extractive(model_args, data_args, training_args, train, test):
    if data_args.summary_sentences < 1:
        raise ConfigError("summary_sentences must be >= 1", field="summary_sentences", expected="an integer >= 1")
    model, tokenizer = _load_extractive(model_args)
    seed = training_args.seed
    with training_args.main_process_first(desc="tokenize"):
        train_set = train.map(_extractive_encoder(tokenizer, data_args, seed, data_args.title_dropout),
                              batched=True, with_indices=True, remove_columns=train.column_names)  # fmt: skip
        eval_set = test.map(_extractive_encoder(tokenizer, data_args, seed, 0.0),
                            batched=True, with_indices=True, remove_columns=test.column_names)  # fmt: skip
    if model_args.compression:
        if not model.config.freeze_encoder or model_args.use_lora:
            raise ConfigError("compression needs the frozen encoder", field="compression",
                              expected="freeze_encoder: true and use_lora: false")  # fmt: skip
        fit_compression_head(model, tokenizer, train, train_set["labels"], model_args, seed)
    if model.config.freeze_encoder and not model_args.use_lora:
        # the encoder never changes: embed every sentence once instead of at every step of every epoch
        pad, cache = tokenizer.pad_token_id or 0, data_args.embedding_cache_dir
        train_set = precompute_sentence_embeddings(model, train_set, pad, cache_dir=cache)
        eval_set = precompute_sentence_embeddings(model, eval_set, pad, cache_dir=cache)
    rouge = rouge_metrics(list(test["references"]))
    documents = list(test["sentences"])

    titles = list(test["title"]) if "title" in test.column_names else [None] * len(test)

    def compute(prediction) -> dict[str, float]:
        logits = prediction.predictions
        if not model.config.compression:
            return rouge(
                [select_sentences(row, doc, data_args.summary_sentences) for row, doc in zip(logits, documents)]
            )
        chosen = [
            select_sentence_indices(row, doc, data_args.summary_sentences) for row, doc in zip(logits, documents)
        ]
        items = [(doc, i, title) for doc, indices, title in zip(documents, chosen, titles) for i in indices]
        shortened = iter(compress_sentences(items, model, tokenizer))
        return rouge([" ".join(next(shortened) for _ in indices) for indices in chosen])

    if model_args.use_lora:
        from peft import get_peft_model

        trained = ["sentence_position", "layers", "norm", "scorer"] if model.config.embedding_scorer else []
        trained += ["feature_scorer"] if model.config.use_features else []
        trained += ["feature_projection"] if model.config.use_features and model.config.embedding_scorer else []
        model = get_peft_model(model, model_args.lora_config(None, modules_to_save=trained))
    collator = lambda features: collate_documents(features, tokenizer.pad_token_id or 0)  # noqa: E731
    trainer = GeoTrainer(
        model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set,
        data_collator=collator, processing_class=tokenizer, compute_metrics=compute,
    )  # fmt: skip
    return trainer, tokenizer


def word_keep_labels(sentence: str, references: list[str]) -> list[float]:
    """1.0 for each whitespace word of `sentence` whose letter/digit runs all occur (Porter-stemmed, as ROUGE
    compares them) in one of the `references`, else 0.0."""
    import re

    from nltk.stem.porter import PorterStemmer

    stem, runs = PorterStemmer().stem, re.compile(r"[^\W_]+")
    vocabulary = {stem(w) for reference in references for w in runs.findall(reference.lower())}
    labels = []
    for word in sentence.split():
        stems = [stem(w) for w in runs.findall(word.lower())]
        labels.append(float(bool(stems) and all(s in vocabulary for s in stems)))
    return labels


@torch.no_grad()
def _compression_examples(model, tokenizer, train, labels, per_document: int = 2, batch_size: int = 32):
    """(token state + word features, keep label) of every word of each training document's `per_document` best
    oracle sentences (`labels`: the soft oracle labels), each distinct sentence once."""
    items, seen = [], set()
    for row, scores in zip(train, labels):
        for index in np.argsort(-np.asarray(scores[: len(row["sentences"])]), kind="stable")[:per_document].tolist():
            key = (row["sentences"][index], row.get("title") or "")
            if key not in seen:
                seen.add(key)
                items.append((row["sentences"], index, row.get("title") or None, row["references"]))
    model.encoder.eval()
    inputs, targets = [], []
    for begin in range(0, len(items), batch_size):
        chunk = items[begin : begin + batch_size]
        encoded = encode_words(tokenizer, [d[i] for d, i, _, _ in chunk])
        hidden = model.encoder(
            input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
        ).last_hidden_state
        for row, (document, index, title, references) in enumerate(chunk):
            first = encoded["first_token"][row]
            words = (first >= 0).nonzero().squeeze(-1)
            features = torch.tensor(word_features(document, index, title), dtype=hidden.dtype)[words]
            inputs.append(torch.cat([hidden[row, first[words]], features], dim=-1))
            targets.append(torch.tensor(word_keep_labels(document[index], references))[words])
        loop_step("encode-words")  # the task's thread adaptation (geohub.training.threads) covers this loop too
    return torch.cat(inputs), torch.cat(targets)


def fit_compression_head(model, tokenizer, train, labels, model_args, seed: int) -> None:
    """Fit the summarizer's compression head (logistic regression over the frozen encoder's token state of each
    word's first sub-word and its word features) on the words of the training documents' best oracle sentences,
    then freeze it (the sentence scorer trains next)."""
    inputs, targets = _compression_examples(model, tokenizer, train, labels)
    logger.info("compression head: %d words, %.3f kept in the references", len(targets), float(targets.mean()))
    head = model.compression_head
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(model_args.compression_epochs):
        order = torch.randperm(len(targets), generator=generator)
        for begin in range(0, len(order), 512):
            batch = order[begin : begin + 512]
            logits = head(inputs[batch].to(head.weight.dtype)).squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[batch].to(logits.dtype))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    head.requires_grad_(False)


def warm_started_encoder_decoder(path: str, tokenizer):
    """`EncoderDecoderModel` with encoder and decoder initialised from the same BERT checkpoint (Rothe et al. 2020)."""
    from transformers import EncoderDecoderModel

    model = EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
    model.config.decoder_start_token_id = tokenizer.cls_token_id
    model.config.eos_token_id = tokenizer.sep_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.vocab_size = model.config.decoder.vocab_size
    model.config.geohub_family = "abstractive_summarizer"  # the model card and the loaders find the family by it
    generation = model.generation_config
    generation.decoder_start_token_id = tokenizer.cls_token_id
    generation.bos_token_id = tokenizer.cls_token_id
    generation.eos_token_id = tokenizer.sep_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    return model


def _build_seq2seq(model_args, data_args, training_args, train, test):
    from transformers import AutoModelForSeq2SeqLM, DataCollatorForSeq2Seq

    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if model_args.architecture == "bert2bert" and "encoder_decoder" not in (Path(path) / "config.json").read_text():
        model = warm_started_encoder_decoder(path, tokenizer)
    else:
        model = AutoModelForSeq2SeqLM.from_pretrained(path)

    def encode(batch):
        sources = [data_args.source_prefix + text for text in batch["text"]]
        out = tokenizer(sources, max_length=data_args.max_source_length, truncation=True)
        out["labels"] = tokenizer(
            text_target=batch["summary"], max_length=data_args.max_target_length, truncation=True
        )["input_ids"]
        return out

    with training_args.main_process_first(desc="tokenize"):
        train_set = train.map(encode, batched=True, remove_columns=train.column_names)
        eval_set = test.map(encode, batched=True, remove_columns=test.column_names)
    rouge = rouge_metrics(list(test["references"]))

    def compute(prediction) -> dict[str, float]:
        ids = np.where(prediction.predictions < 0, tokenizer.pad_token_id, prediction.predictions)
        texts = [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return rouge(texts)

    if model_args.use_lora:
        from peft import get_peft_model

        model = get_peft_model(model, model_args.lora_config("SEQ_2_SEQ_LM"))
    if training_args.generation_max_length is None:
        training_args = dataclasses.replace(training_args, generation_max_length=data_args.max_target_length)
    trainer = GeoSeq2SeqTrainer(
        model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100), processing_class=tokenizer,
        compute_metrics=compute if training_args.predict_with_generate else None,
    )  # fmt: skip
    return trainer, tokenizer


def run_summarization(
    model_args: SummarizationModelArguments,
    data_args: SummarizationDataArguments,
    training_args: Seq2SeqTrainingArguments,
) -> dict[str, float]:
    """Train a summarizer; returns the final metrics (`eval_rouge1/2/L` in percent)."""
    training_args = with_device_defaults(training_args)
    set_seed(training_args.seed)
    train, test = load_summarization_splits(data_args)
    build = _build_extractive if model_args.architecture == "extractive" else _build_seq2seq
    trainer, tokenizer = build(model_args, data_args, training_args, train, test)
    return train_and_save(trainer, tokenizer, use_lora=model_args.use_lora)


SUMMARIZATION = Task(
    name="summarization",
    argument_types=(SummarizationModelArguments, SummarizationDataArguments, Seq2SeqTrainingArguments),
    run=run_summarization,
    description="abstract -> one-sentence summary: extractive on MiniLM, warm-started bert2bert, or any seq2seq model",
)
