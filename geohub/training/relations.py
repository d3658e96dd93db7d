"""Task `relation_classification`: geohub's relation classifier (typed entity markers on all-MiniLM-L6-v2) over
the mention pairs of each sentence, trained on the relations annotated in the corpus.

    geohub train recipes/knowledge_extraction/config_relations.yaml --config_file recipes/accelerate_configs/cpu.yaml

Each document is read once with entity markers around its gold mentions; every ordered pair of its entities
(mentions merged by text) whose types can be related (the type pairs of the training relations), in the same
sentence or not, is one example: its class is the annotated relation, else "no_relation". With
`freeze_encoder: true` (default) the pair features are computed once and only the classifier trains (a minute
on a CPU); adding `trainable_layers: k` trains the top k encoder layers too, over the states of the bottom layers
computed once per document (one batch item = one document), with `encoder_learning_rate` for those layers;
`freeze_encoder: false` fine-tunes the whole encoder (one batch = documents).
Metrics: micro precision / recall / F1 over the typed relations (pair level).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, EvalPrediction, TrainingArguments, set_seed

from ..data.corpus import ENTITY_TYPES, RELATION_TYPES, load_geo_corpus, sentence_spans
from ..errors import ConfigError
from ..metrics.scores import precision_recall_f1
from ..utils import get_logger, progress_output
from .supervised import GeoTrainer, add_results, train_and_evaluate, with_device_defaults
from .tasks import Task
from .text import MINILM, resolve_model_path

logger = get_logger(__name__)

__all__ = [
    "RelationModelArguments",
    "RelationDataArguments",
    "RELATION_CLASSIFICATION",
    "gold_documents",
    "relation_type_pairs",
    "collate_pairs",
]


@dataclass
class RelationModelArguments:
    model_name_or_path: str = field(
        default=MINILM, metadata={"help": "'minilm' (offline all-MiniLM-L6-v2), a BERT encoder or a saved classifier"}
    )
    freeze_encoder: bool = field(default=True, metadata={"help": "train only the classifier on fixed features"})
    trainable_layers: int = field(
        default=0,
        metadata={"help": "with freeze_encoder: the top encoder layers that still train (bottom layers' states are "
                  "computed once per document and cached; one batch item = one document)"},
    )  # fmt: skip
    encoder_learning_rate: float | None = field(
        default=None, metadata={"help": "learning rate of the trainable encoder layers (default: learning_rate)"}
    )
    classifier_dropout: float = field(default=0.1, metadata={"help": "dropout before the classifier layers"})
    no_relation_weight: float = field(
        default=1.0, metadata={"help": "loss weight of the no_relation class (< 1 favours recall)"}
    )
    no_relation_scale: float = field(
        default=1.0,
        metadata={"help": "decision threshold: no_relation's probability is multiplied by it (< 1: recall)"},
    )
    rule_features: bool = field(
        default=False, metadata={"help": "add which typed rule (geohub.knowledge) relates each pair, both directions"}
    )
    context_features: bool = field(
        default=False, metadata={"help": "add the mean encoder state between the closest head and tail mentions"}
    )
    num_heads: int = field(default=1, metadata={"help": "classifier heads trained side by side (an ensemble)"})


@dataclass
class RelationDataArguments:
    dataset: str = field(
        default="geo_corpus", metadata={"help": "'geo_corpus' (embedded) or a corpus JSONL in geohub's schema"}
    )
    max_length: int = field(default=512, metadata={"help": "sub-word tokens per marked document"})
    scale_validation_fraction: float = field(
        default=0.0,
        metadata={"help": "> 0: hold out this last fraction of the training documents, train on the rest, choose "
                  "no_relation_scale by validation F1, then train on all documents with it (frozen encoder)"},
    )  # fmt: skip
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training documents"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N test documents"})


def _mentions(row: dict[str, Any]) -> list[tuple[int, int, str, int]]:
    """(start, end, label, sentence index) of each entity occurrence of a corpus row."""
    spans = sentence_spans(row["text"]) or [(0, len(row["text"]))]
    out = []
    for entity in row["entities"]:
        label = entity["label"] if isinstance(entity["label"], str) else ENTITY_TYPES[entity["label"]]
        sentence = next((i for i, (a, b) in enumerate(spans) if a <= entity["start"] < b), 0)
        out.append((entity["start"], entity["end"], label, sentence))
    return out


def _gold(row: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(head text, tail text) -> relation name of a corpus row's annotated relations (the first per pair)."""
    names = {}
    for relation in row["relations"]:
        kind = relation["relation"]
        names.setdefault((relation["head"], relation["tail"]), kind if isinstance(kind, str) else RELATION_TYPES[kind])
    return names


def relation_type_pairs(rows) -> list[list[str]]:
    """The (head type, tail type) pairs of the annotated relations of `rows`."""
    pairs = set()
    for row in rows:
        labels = {}
        for start, end, label, _ in _mentions(row):
            labels.setdefault(row["text"][start:end], label)
        for head, tail in _gold(row):
            if head in labels and tail in labels:
                pairs.add((labels[head], labels[tail]))
    return [list(p) for p in sorted(pairs)]


def rule_relations(text: str, mentions: list[tuple[int, int, str, int]]) -> list[tuple]:
    """(head mention, relation, tail mention) tuples that the typed rules of `geohub.knowledge` find."""
    from ..knowledge import Mention, extract_relations

    objects = [Mention(text[s:e], label, s, e, 1.0, sentence) for s, e, label, sentence in mentions]
    as_tuple = lambda m: (m.start, m.end, m.label, m.sentence)  # noqa: E731
    return [(as_tuple(r.head), r.relation, as_tuple(r.tail)) for r in extract_relations(text, objects)]


def gold_documents(rows, config) -> list[dict[str, Any]]:
    """`prepare_document` of each row on its gold mentions, with `labels` (class id per candidate pair)."""
    from ..models.relation_classifier.processing_relation_classifier import entity_key, prepare_document

    documents = []
    for row in rows:
        mentions = _mentions(row)
        rules = rule_relations(row["text"], mentions) if config.rule_features else None
        prepared = prepare_document(row["text"], mentions, config, rules=rules)
        gold = {(entity_key(h, ""), entity_key(t, "")): kind for (h, t), kind in _gold(row).items()}
        labels = []
        for h, t in prepared["pairs"]:
            key = ((prepared["entities"][h][0][0], ""), (prepared["entities"][t][0][0], ""))
            labels.append(config.label2id[gold[key]] if key in gold else 0)
        documents.append({**prepared, "labels": labels})
    return documents


def collate_pairs(features: list[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch precomputed pairs (`pair_features` `(P, F)`, `labels` `(P,)`), or documents: padded `input_ids` /
    `attention_mask` `(D, L)`, `mention_index` / `mention_entity` `(D, M)` (-1 padding) and the pairs of all
    documents flattened (`pair_document`, `pair_head`, `pair_tail` `(P,)`, `pair_extra` `(P, E)`, `labels`) and,
    when the documents carry them, their cached `bottom_states` `(D, L, H)` (zero padding)."""
    if "pair_features" in features[0]:
        batch = {"pair_features": torch.tensor([f["pair_features"] for f in features], dtype=torch.float)}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch
    length = max(len(f["input_ids"]) for f in features)
    mentions = max(1, max(len(f["mention_index"]) for f in features))
    ids = torch.full((len(features), length), pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    index = torch.zeros((len(features), mentions), dtype=torch.long)
    entity = torch.full((len(features), mentions), -1, dtype=torch.long)
    pairs: dict[str, list] = {"pair_document": [], "pair_head": [], "pair_tail": [], "pair_extra": [], "labels": [],
                              "pair_context": []}  # fmt: skip
    for row, feature in enumerate(features):
        ids[row, : len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
        mask[row, : len(feature["input_ids"])] = 1
        index[row, : len(feature["mention_index"])] = torch.tensor(feature["mention_index"], dtype=torch.long)
        entity[row, : len(feature["mention_entity"])] = torch.tensor(feature["mention_entity"], dtype=torch.long)
        for number, (h, t) in enumerate(feature["pairs"]):
            pairs["pair_document"].append(row), pairs["pair_head"].append(h), pairs["pair_tail"].append(t)
            pairs["pair_extra"].append(feature["extra"][number])
            pairs["pair_context"].append(feature["pair_context"][number] if "pair_context" in feature else [0, 0])
            pairs["labels"].append(feature["labels"][number] if "labels" in feature else 0)
    batch = {"input_ids": ids, "attention_mask": mask, "mention_index": index, "mention_entity": entity}
    if "bottom_states" in features[0]:  # cached states entering the trainable top layers, (D, L, H)
        states = features[0]["bottom_states"]
        batch["bottom_states"] = states.new_zeros((len(features), length, states.shape[-1]))
        for row, feature in enumerate(features):
            batch["bottom_states"][row, : feature["bottom_states"].shape[0]] = feature["bottom_states"]
    for key, values in pairs.items():
        if key == "labels" and "labels" not in features[0]:
            continue
        batch[key] = torch.tensor(values, dtype=torch.float if key == "pair_extra" else torch.long)
    return batch


def relation_metrics(prediction, no_relation_scale: float = 1.0) -> dict[str, float]:
    """Micro precision / recall / F1 over the typed relations (class 0, no_relation, is the negative class);
    the no_relation probability is multiplied by `no_relation_scale` before the best class is taken."""
    probabilities = torch.tensor(prediction.predictions).softmax(-1)
    probabilities[:, 0] *= no_relation_scale
    predicted = probabilities.argmax(-1).numpy()
    gold = prediction.label_ids
    tp = int(((predicted == gold) & (gold > 0)).sum())
    fp, fn = int((predicted > 0).sum()) - tp, int((gold > 0).sum()) - tp
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return {"precision": precision, "recall": recall, "f1": f1}


def _load_rows(data_args: RelationDataArguments):
    if data_args.dataset == "geo_corpus":
        splits = load_geo_corpus()
    elif Path(data_args.dataset).is_file():
        splits = load_geo_corpus(data_args.dataset)
    else:
        raise ConfigError(f"training data {data_args.dataset!r} not found", field="dataset",
                          expected="geo_corpus or a corpus JSONL file in geohub's schema")  # fmt: skip
    train, test = splits["train"], splits["test"]
    if data_args.max_train_samples:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if data_args.max_eval_samples:
        test = test.select(range(min(data_args.max_eval_samples, len(test))))
    if not any(row["relations"] for row in train):
        raise ConfigError("the training documents hold no relations", path=data_args.dataset, field="relations")
    return list(train), list(test)


def _build_model(model_args: RelationModelArguments, data_args: RelationDataArguments, type_pairs):
    from ..models.relation_classifier import RelationClassifierConfig, RelationClassifierForPairClassification

    path = resolve_model_path(model_args.model_name_or_path)
    config_path = Path(path) / "config.json"
    if config_path.is_file() and RelationClassifierConfig.model_type in config_path.read_text():
        return RelationClassifierForPairClassification.from_pretrained(path), path
    model = RelationClassifierForPairClassification.from_encoder(
        path, relation_types=list(RELATION_TYPES), entity_types=list(ENTITY_TYPES), type_pairs=type_pairs,
        classifier_dropout=model_args.classifier_dropout, freeze_encoder=model_args.freeze_encoder,
        trainable_layers=model_args.trainable_layers,
        max_document_length=data_args.max_length, rule_features=model_args.rule_features,
        context_features=model_args.context_features, num_heads=model_args.num_heads,
        no_relation_weight=model_args.no_relation_weight, no_relation_scale=model_args.no_relation_scale,
    )  # fmt: skip
    return model, path


@torch.no_grad()
def _pre_pass(documents: list[dict]):
    """`enumerate(documents)`, with a progress bar on the stream `geohub.utils.progress_output` names (the
    quickstart's terminal): the encoder pre-pass takes minutes on a CPU and would otherwise print nothing."""
    target = progress_output.get()
    if target is None:
        return enumerate(documents)
    from tqdm.auto import tqdm

    stream, description = target
    return enumerate(tqdm(documents, desc=f"{description}: encoder pre-pass", unit="doc", file=stream, leave=False))


def _precompute(model, documents: list[dict], encoded: dict[str, list], pad_token_id: int) -> list[dict]:
    """One `{"pair_features", "labels"}` example per candidate pair (frozen encoder: each document read once)."""
    out = []
    for number, document in _pre_pass(documents):
        if not document["pairs"]:
            continue
        feature = {k: encoded[k][number] for k in encoded} | {k: document[k] for k in ("pairs", "extra", "labels")}
        batch = collate_pairs([feature], pad_token_id)
        features = model.document_pair_features(
            batch["input_ids"], batch["attention_mask"], batch["mention_index"], batch["mention_entity"],
            batch["pair_document"], batch["pair_head"], batch["pair_tail"], batch["pair_extra"], batch["pair_context"],
        )  # fmt: skip
        out += [{"pair_features": v.tolist(), "labels": int(y)} for v, y in zip(features, batch["labels"])]
    return out


@torch.no_grad()
def _cache_bottom(model, documents: list[dict], encoded: dict[str, list], pad_token_id: int) -> list[dict]:
    """One example per document with pairs: its token, mention and pair fields plus `bottom_states` `(L, H)`,
    the states entering the trainable top layers (read once here; training runs only the top layers)."""
    out = []
    for number, document in _pre_pass(documents):
        if not document["pairs"]:
            continue
        feature = {k: encoded[k][number] for k in encoded} | {k: document[k] for k in ("pairs", "extra", "labels")}
        ids = torch.tensor([feature["input_ids"]])
        feature["bottom_states"] = model.encode_bottom(ids, torch.ones_like(ids))[0]
        out.append(feature)
    return out


def _features(model, documents: list[dict], encoded: dict[str, list], pad_token_id: int) -> list[dict]:
    """Training examples of `documents`: pairs of cached features (frozen encoder), documents with cached bottom
    states (`trainable_layers`) or whole documents (encoder fine-tuned)."""
    if model.config.freeze_encoder and model.config.trainable_layers:
        return _cache_bottom(model, documents, encoded, pad_token_id)
    if model.config.freeze_encoder:
        return _precompute(model, documents, encoded, pad_token_id)
    return [{k: encoded[k][i] for k in encoded} | {k: d[k] for k in ("pairs", "extra", "labels")}
            for i, d in enumerate(documents) if d["pairs"]]  # fmt: skip


def _trainer(model, args: TrainingArguments, encoder_learning_rate: float | None, **kwargs) -> GeoTrainer:
    """A `GeoTrainer` whose AdamW gives the trainable encoder parameters `encoder_learning_rate` (default: the
    heads' `learning_rate`); no weight decay on biases and LayerNorm weights."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            key = (name.startswith("encoder."), parameter.ndim < 2)
            groups.setdefault(key, []).append(parameter)
    encoder_lr = encoder_learning_rate or args.learning_rate
    optimizer = torch.optim.AdamW(
        [{"params": params, "lr": encoder_lr if in_encoder else args.learning_rate,
          "weight_decay": 0.0 if no_decay else args.weight_decay} for (in_encoder, no_decay), params in groups.items()],
        lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon,
    )  # fmt: skip
    args = dataclasses.replace(args, remove_unused_columns=False)  # documents carry `pairs`, `extra` to the collator
    return GeoTrainer(model=model, args=args, optimizers=(optimizer, None), **kwargs)


def run_relation_classification(
    model_args: RelationModelArguments, data_args: RelationDataArguments, training_args: TrainingArguments
) -> dict[str, float]:
    """Train the relation classifier; returns the final metrics (eval_f1 = micro F1 over typed relations)."""
    training_args = with_device_defaults(training_args)
    train_rows, test_rows = _load_rows(data_args)
    set_seed(training_args.seed)
    model, path = _build_model(model_args, data_args, relation_type_pairs(train_rows))
    tokenizer = AutoTokenizer.from_pretrained(path)
    from ..models.relation_classifier.processing_relation_classifier import encode_documents

    fraction = data_args.scale_validation_fraction
    if not 0.0 <= fraction < 1.0 or (fraction > 0 and not model.config.freeze_encoder):
        raise ConfigError(f"scale_validation_fraction must be in [0, 1) with freeze_encoder: true (trainable_layers "
                          f"allowed), got {fraction}", field="scale_validation_fraction",
                          expected="0 (off) or e.g. 0.25, freeze_encoder: true")  # fmt: skip
    cut = len(train_rows) - int(round(fraction * len(train_rows)))
    sets = {}
    for name, rows in (("train", train_rows[:cut]), ("validation", train_rows[cut:]), ("eval", test_rows)):
        if not rows:  # no validation share (scale_validation_fraction 0)
            sets[name] = []
            continue
        documents = gold_documents(rows, model.config)
        encoded = encode_documents(tokenizer, documents, model.config)
        sets[name] = _features(model, documents, encoded, tokenizer.pad_token_id or 0)
        positives = sum(y > 0 for d in documents for y in d["labels"])
        logger.info(f"relation {name}: {sum(len(d['pairs']) for d in documents)} candidate pairs, {positives} related")
    collator = lambda f: collate_pairs(f, tokenizer.pad_token_id or 0)  # noqa: E731
    tuning = {}
    if sets["validation"]:
        model.config.no_relation_scale, tuning["validation_f1"] = _tune_scale(
            model, training_args, sets, collator, model_args.encoder_learning_rate
        )
        sets["train"] = sets["train"] + sets["validation"]  # the final model trains on every training document
    scale = model.config.no_relation_scale
    trainer = _trainer(
        model, training_args, model_args.encoder_learning_rate, train_dataset=sets["train"],
        data_collator=collator, processing_class=tokenizer,
    )  # fmt: skip
    metrics = train_and_evaluate(trainer, processors=[tokenizer])
    extra = {"no_relation_scale": scale, **tuning}
    if sets["eval"]:
        prediction = predict_pairs(trainer.model, sets["eval"], collator, training_args.per_device_eval_batch_size)
        extra |= {f"eval_{k}": v for k, v in relation_metrics(prediction, scale).items()}
    add_results(trainer, extra)
    return metrics | extra


@torch.no_grad()
def predict_pairs(model, examples: list[dict], collator, batch_size: int) -> EvalPrediction:
    """Logits `(P, C)` and labels `(P,)` of every candidate pair of `examples` (pairs, or documents with all their
    pairs). `Trainer.predict` cannot be used for documents: it counts one sample per document and cuts the pairs
    of the last batch to that count."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    for start in range(0, len(examples), max(1, batch_size)):
        batch = collator(examples[start : start + batch_size])
        labels.append(batch.pop("labels"))
        logits.append(model(**{k: v.to(model.device) for k, v in batch.items()}).logits.float().cpu())
    model.train(was_training)
    return EvalPrediction(predictions=torch.cat(logits).numpy(), label_ids=torch.cat(labels).numpy())


SCALE_GRID = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)


def _tune_scale(
    model,
    training_args: TrainingArguments,
    sets: dict[str, list],
    collator,
    encoder_learning_rate: float | None = None,
) -> tuple[float, float]:
    """Train a copy of `model` on `sets["train"]`; return the `SCALE_GRID` value with the best pair-level F1 on
    `sets["validation"]` (ties: the larger scale, i.e. fewer relations) and that F1."""
    import copy

    args = dataclasses.replace(training_args, output_dir=str(Path(training_args.output_dir) / "scale_tuning"),
                               eval_strategy="no", save_strategy="no", load_best_model_at_end=False)  # fmt: skip
    trainer = _trainer(copy.deepcopy(model), args, encoder_learning_rate, train_dataset=sets["train"],
                       data_collator=collator)  # fmt: skip
    trainer.train()
    prediction = predict_pairs(trainer.model, sets["validation"], collator, args.per_device_eval_batch_size)
    scores = {scale: relation_metrics(prediction, scale)["f1"] for scale in SCALE_GRID}
    best = max(SCALE_GRID, key=lambda scale: (scores[scale], scale))
    logger.info(f"no_relation_scale on {len(sets['validation'])} validation pairs: F1 {scores} -> {best}")
    return best, scores[best]


RELATION_CLASSIFICATION = Task(
    name="relation_classification",
    argument_types=(RelationModelArguments, RelationDataArguments, TrainingArguments),
    run=run_relation_classification,
    description="relation classifier over entity pairs (typed entity markers on MiniLM) + no_relation",
)
