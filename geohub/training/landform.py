"""The `landform` task: the landform CNN on REAL DEM tiles labelled from their geomorphons (transformers Trainer).

    geohub train recipes/landform/config_jacksboro.yaml --config_file recipes/accelerate_configs/cpu.yaml

Data: a real DEM (`read_dem`, default matplotlib's Jacksboro 3-arc-second grid) resampled to square metre cells
and split by rows as the terrain GAN splits it (top 75 %: training, bottom 25 %: held out, no shared cell).
Geomorphons (`geohub.data.geomorphons`, whitebox-workflows) are computed on each part separately; every tile's
class (ridge / hillside / valley) comes from its element shares (`tile_landform`). Training tiles overlap
(`train_stride`) and get seeded flips / 90-degree rotations (the classes do not depend on orientation); the
held-out tiles are scored with accuracy, macro F1 and Cohen's kappa, beside the majority-class baseline (the
training set's most frequent class predicted everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import TrainingArguments, set_seed

from ..data.dem import flip_rotate, read_dem, split_dem
from ..data.geomorphons import LANDFORM_CLASSES, landform_tiles
from ..errors import ConfigError
from ..metrics.scores import macro_f1
from ..models.landform import LandformCNNForImageClassification, LandformConfig
from ..utils import get_logger
from .supervised import GeoTrainer, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = ["LandformModelArguments", "LandformDataArguments", "LANDFORM", "cohen_kappa", "real_landform_splits"]


@dataclass
class LandformModelArguments:
    """Shape of the landform CNN (see `LandformConfig`)."""

    hidden_sizes: str = field(default="16,32,64", metadata={"help": "comma-separated channels per stage"})
    layers_per_stage: int = field(default=2, metadata={"help": "3x3 convolutions per stage"})
    classifier_dropout: float = field(
        default=0.0, metadata={"help": "dropout before the classifier (0 keeps 1- and N-process runs identical)"}
    )
    elevation_scale: float = field(default=100.0, metadata={"help": "metres per unit of normalised relief"})


@dataclass
class LandformDataArguments:
    """Real DEM tiles labelled from geomorphons (see `geohub.data.geomorphons.tile_landform`)."""

    dem: str = field(default="jacksboro", metadata={"help": "read_dem source: a sample name or a raster path"})
    held_out_fraction: float = field(default=0.25, metadata={"help": "bottom share of rows held out"})
    patch_size: int = field(default=16, metadata={"help": "tile side in cells"})
    train_stride: int = field(default=4, metadata={"help": "cells between training tiles"})
    eval_stride: int = field(default=8, metadata={"help": "cells between held-out tiles"})
    context_cells: int = field(default=0, metadata={"help": "cells at each tile edge outside the labelled core"})
    search_cells: int = field(default=10, metadata={"help": "geomorphon search distance L (cells)"})
    flat_degrees: float = field(default=1.0, metadata={"help": "geomorphon flatness threshold t (degrees)"})
    margin: float = field(default=0.1, metadata={"help": "convex-concave share difference for ridge / valley"})
    augment_copies: int = field(default=2, metadata={"help": "seeded flipped/rotated copies of each training tile"})

    def __post_init__(self):
        if not 0.0 < self.held_out_fraction < 1.0:
            raise ConfigError(f"{self.held_out_fraction}", field="held_out_fraction", expected="a number in (0, 1)")
        if self.patch_size < 8:
            raise ConfigError(f"{self.patch_size}", field="patch_size", expected=">= 8 cells")
        for name in ("train_stride", "eval_stride", "search_cells"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{getattr(self, name)}", field=name, expected="an integer >= 1")
        if self.augment_copies < 0:
            raise ConfigError(f"{self.augment_copies}", field="augment_copies", expected="an integer >= 0")


def cohen_kappa(predicted, labels) -> float:
    """Cohen's kappa: (observed agreement - chance agreement) / (1 - chance agreement); 0 for a constant guess."""
    predicted, labels = np.asarray(predicted).ravel(), np.asarray(labels).ravel()
    if labels.size == 0:
        return float("nan")
    classes = np.union1d(predicted, labels)
    observed = float(np.mean(predicted == labels))
    chance = float(sum(np.mean(predicted == c) * np.mean(labels == c) for c in classes))
    return (observed - chance) / (1.0 - chance) if chance < 1.0 else 0.0


def real_landform_splits(data_args: LandformDataArguments):
    """((train tiles, labels), (held-out tiles, labels), spacing_m) of the DEM, split by rows."""
    dem = read_dem(data_args.dem).square_cells()
    train_dem, held_dem = split_dem(dem, data_args.held_out_fraction, "rows")
    spacing = float(dem.spacing_m[0])
    options = dict(size=data_args.patch_size, search_cells=data_args.search_cells,
                   flat_degrees=data_args.flat_degrees, margin=data_args.margin,
                   context_cells=data_args.context_cells)  # fmt: skip
    train = landform_tiles(train_dem.elevation, spacing, stride=data_args.train_stride, **options)[:2]
    held_out = landform_tiles(held_dem.elevation, spacing, stride=data_args.eval_stride, **options)[:2]
    return train, held_out, spacing


def _augment(tiles: np.ndarray, labels: np.ndarray, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The tiles plus `copies` seeded symmetries of each (drawn per (seed, copy, index): the same in every process)."""
    out = [tiles]
    for copy in range(copies):
        out.append(np.stack([flip_rotate(t, np.random.default_rng([seed, copy, i])) for i, t in enumerate(tiles)]))
    return np.ascontiguousarray(np.concatenate(out)), np.tile(labels, copies + 1)


def _dataset(tiles: np.ndarray, labels: np.ndarray):
    from datasets import Array2D, ClassLabel, Dataset, Features

    size = tiles.shape[-1]
    features = Features({"elevation": Array2D(shape=(size, size), dtype="float32"),
                         "label": ClassLabel(names=list(LANDFORM_CLASSES))})  # fmt: skip
    return Dataset.from_dict({"elevation": tiles, "label": labels}, features=features)


def _transform(processor):
    def transform(batch: dict) -> dict:
        patches = np.stack([np.asarray(e, dtype=np.float32) for e in batch["elevation"]])
        values = processor(patches, return_tensors="pt")["pixel_values"]
        return {"pixel_values": list(values), "labels": torch.as_tensor(batch["label"])}

    return transform


def _metrics(majority: int):
    def compute(prediction) -> dict[str, float]:
        logits, labels = prediction.predictions, prediction.label_ids
        logits = logits[0] if isinstance(logits, tuple) else logits
        predicted = np.argmax(logits, axis=-1)
        accuracy, f1 = macro_f1(predicted, labels)
        return {"accuracy": accuracy, "macro_f1": f1, "kappa": cohen_kappa(predicted, labels),
                "majority_accuracy": float(np.mean(labels == majority))}  # fmt: skip

    return compute


def run_landform(
    model_args: LandformModelArguments, data_args: LandformDataArguments, training_args: TrainingArguments
) -> dict[str, float]:
    """Train the landform CNN with the Trainer; returns final metrics (eval_accuracy, eval_kappa, ...)."""
    from ..models.landform.processing_landform import LandformImageProcessor

    training_args = with_device_defaults(training_args, remove_unused_columns=False)
    set_seed(training_args.seed)
    with training_args.main_process_first(desc="geomorphons and tiles of the real DEM"):
        (train_x, train_y), (held_x, held_y), spacing = real_landform_splits(data_args)
    majority = int(np.bincount(train_y, minlength=len(LANDFORM_CLASSES)).argmax())
    logger.info("landform tiles: %d training (classes %s), %d held out (classes %s)", len(train_y),
                np.bincount(train_y, minlength=3).tolist(), len(held_y), np.bincount(held_y, minlength=3).tolist())  # fmt: skip
    train_x, train_y = _augment(train_x, train_y, data_args.augment_copies, training_args.seed)
    processor = LandformImageProcessor(normalization="patch", elevation_scale=model_args.elevation_scale,
                                       spacing_m=spacing, patch_size=data_args.patch_size)  # fmt: skip
    config = LandformConfig(
        image_size=data_args.patch_size,
        hidden_sizes=[int(h) for h in model_args.hidden_sizes.split(",") if h.strip()],
        layers_per_stage=model_args.layers_per_stage,
        classifier_dropout=model_args.classifier_dropout,
        id2label=dict(enumerate(LANDFORM_CLASSES)),
        label2id={name: i for i, name in enumerate(LANDFORM_CLASSES)},
    )
    trainer = GeoTrainer(
        model=LandformCNNForImageClassification(config),
        args=training_args,
        train_dataset=_dataset(train_x, train_y).with_transform(_transform(processor)),
        eval_dataset=_dataset(held_x, held_y).with_transform(_transform(processor)),
        compute_metrics=_metrics(majority),
    )
    return train_and_evaluate(trainer, processors=[processor])


LANDFORM = Task(
    name="landform",
    argument_types=(LandformModelArguments, LandformDataArguments, TrainingArguments),
    run=run_landform,
    description="landform CNN (ridge, hillside, valley from geomorphons) on real DEM tiles",
)
