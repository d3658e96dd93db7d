"""Seismic tasks: `seismic_picking` (phase picker + detection) and `seismic_magnitude` (magnitude + detection).

    geohub train recipes/seismic_picking/config_synthetic.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/seismic_picking/config_phasenet.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/seismic_magnitude/config_synthetic.yaml --config_file recipes/accelerate_configs/cpu.yaml

Data (`dataset:`): `synthetic` (geohub's generator, embedded default), `phasenet` (PhaseNet npz folder in
`dataset_dir`, e.g. ../shared/data/phasenet-ncedc) or `seisbench` (metadata.csv + waveforms.hdf5 in
`dataset_dir`). Real sets are split by station (`split_by: station_id`) or event (`event_id`), never by window.
Training windows are cut at random offsets on the fly (`train_repeats` random windows per record and epoch, with
noise-only windows before P, noise at random SNR, channel dropout, amplitude scaling and gaps); evaluation
windows are cut once with a fixed seed. Normalisation happens in `SeismicFeatureExtractor`, saved beside the
model as `preprocessor_config.json`. Picker metrics come from the offline evaluate module
`geohub/metrics/seismic_picking`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import EvalPrediction, TrainingArguments, set_seed

from ..data.augmentations import AddGaps, AddNoise, AmplitudeScale, ChannelDropout, Compose, RandomWindow
from ..data.seismic_datasets import (
    from_phasenet_npz,
    from_seisbench,
    seismic_features,
    split_by_group,
    synthetic_dataset,
)
from ..errors import ConfigError
from ..metrics.scores import precision_recall_f1, residual_stats
from ..models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
from ..models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking
from ..models.seismic_picker.processing_seismic_picker import make_picker_labels
from ..utils import atomic_write_text, get_logger
from .supervised import GeoTrainer, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = [
    "PickerModelArguments",
    "MagnitudeModelArguments",
    "SeismicDataArguments",
    "SeismicCollator",
    "cut_windows",
    "load_seismic_splits",
    "window_picks",
    "load_picking_metric",
    "SEISMIC_PICKING",
    "SEISMIC_MAGNITUDE",
]

METRIC_PATH = str(Path(__file__).resolve().parents[1] / "metrics" / "seismic_picking")


def load_picking_metric():
    """The offline `evaluate` module `geohub/metrics/seismic_picking`."""
    import evaluate

    return evaluate.load(METRIC_PATH)


def _int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"cannot parse {text!r}", field=name, expected="comma-separated integers, e.g. 8,16,32"
        ) from None
    if not values:
        raise ConfigError("empty list", field=name, expected="comma-separated integers")
    return values


@dataclass
class PickerModelArguments:
    """The phase picker: start from `model_name_or_path` (fine-tuning) or a new U-Net of this shape."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "checkpoint folder to fine-tune"})
    hidden_sizes: str = field(default="8,16,32,64,96", metadata={"help": "U-Net channels per level"})
    kernel_size: int = field(default=7, metadata={"help": "odd convolution kernel (samples)"})
    stride: int = field(default=4, metadata={"help": "down-sampling per level"})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the heads"})


@dataclass
class MagnitudeModelArguments:
    """The magnitude CNN + BiLSTM: start from `model_name_or_path` or a new model of this shape."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "checkpoint folder to fine-tune"})
    conv_channels: str = field(default="16,32,48", metadata={"help": "channels of the conv blocks"})
    lstm_hidden_size: int = field(default=48, metadata={"help": "BiLSTM units per direction"})
    kernel_size: int = field(default=7, metadata={"help": "odd convolution kernel (samples)"})
    dropout: float = field(default=0.1, metadata={"help": "dropout before the heads"})


@dataclass
class SeismicDataArguments:
    dataset: str = field(default="synthetic", metadata={"help": "synthetic, phasenet or seisbench"})
    dataset_dir: str | None = field(default=None, metadata={"help": "folder of a phasenet or seisbench set"})
    num_train_windows: int = field(default=4000, metadata={"help": "synthetic training windows"})
    num_eval_windows: int = field(default=400, metadata={"help": "synthetic evaluation windows"})
    synthetic_seed: int = field(default=0, metadata={"help": "seed of the synthetic training windows"})
    window_length: int = field(default=3000, metadata={"help": "samples per model window"})
    sampling_rate: float = field(default=100.0, metadata={"help": "Hz"})
    split_by: str = field(default="station_id", metadata={"help": "station_id or event_id (never by window)"})
    validation_fraction: float = field(default=0.15, metadata={"help": "fraction of stations/events for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "fraction of stations/events held out for test"})
    split_seed: int = field(default=0, metadata={"help": "seed of the group split"})
    eval_split: str = field(default="validation", metadata={"help": "split evaluated during training"})
    train_repeats: int = field(default=1, metadata={"help": "random windows per real training record per epoch"})
    eval_repeats: int = field(default=4, metadata={"help": "fixed random windows per real evaluation record"})
    noise_probability: float = field(default=0.2, metadata={"help": "chance of a noise window cut before P"})
    augment: bool = field(default=True, metadata={"help": "noise, channel dropout, amplitude scaling, gaps"})
    label_sigma: float = field(default=10.0, metadata={"help": "std (samples) of the Gaussian pick targets"})

    def __post_init__(self):
        if self.dataset not in {"synthetic", "phasenet", "seisbench"}:
            raise ConfigError(
                f"unknown dataset {self.dataset!r}", field="dataset", expected="synthetic, phasenet or seisbench"
            )
        if self.dataset != "synthetic" and not self.dataset_dir:
            raise ConfigError(f"dataset {self.dataset!r} needs dataset_dir", field="dataset_dir",
                              expected="e.g. ../shared/data/phasenet-ncedc")  # fmt: skip
        if self.split_by not in {"station_id", "event_id"}:
            raise ConfigError(f"split_by {self.split_by!r}", field="split_by", expected="station_id or event_id")
        if self.eval_split not in {"validation", "test"}:
            raise ConfigError(f"eval_split {self.eval_split!r}", field="eval_split", expected="validation or test")


def cut_windows(dataset: datasets.Dataset, window_length: int, *, repeats: int = 1, seed: int = 0,
                noise_probability: float = 0.2, p_position_range=(0.05, 0.85)) -> datasets.Dataset:  # fmt: skip
    """`repeats` fixed random windows of `window_length` samples per record (P anywhere in the window; some
    noise-only windows before P), as a new data set with the same Features."""
    rng = np.random.default_rng(seed)
    window = RandomWindow(window_length, p_position_range=p_position_range, noise_probability=noise_probability)
    rows = {name: [] for name in seismic_features()}
    records = dataset.with_format("numpy")
    for repeat in range(repeats):
        for index in range(len(records)):
            sample = window(dict(records[index]), rng)
            for name in rows:
                value = sample[name]
                rows[name].append(value if name != "trace_id" else f"{value}#w{repeat}")
    channels = dataset.features["waveforms"].shape[0]
    return datasets.Dataset.from_dict(rows, features=seismic_features(channels, window_length))


def load_seismic_splits(data: SeismicDataArguments, *, seed: int = 0) -> dict[str, datasets.Dataset]:
    """`{"train": records, "validation": windows, "test": windows}`; real training records stay full length."""
    if data.dataset == "synthetic":

        def make(n, s):
            return synthetic_dataset(n, seed=s, window_length=data.window_length, sampling_rate=data.sampling_rate)

        return {
            "train": make(data.num_train_windows, data.synthetic_seed),
            "validation": make(data.num_eval_windows, data.synthetic_seed + 10_000),
            "test": make(data.num_eval_windows, data.synthetic_seed + 20_000),
        }
    records = from_phasenet_npz(data.dataset_dir) if data.dataset == "phasenet" else from_seisbench(data.dataset_dir)
    splits = split_by_group(records, by=data.split_by, validation_fraction=data.validation_fraction,
                            test_fraction=data.test_fraction, seed=data.split_seed)  # fmt: skip
    train = splits["train"]
    if data.train_repeats > 1:
        train = train.select(np.tile(np.arange(len(train)), data.train_repeats))
    return {
        "train": train,
        "validation": cut_windows(splits["validation"], data.window_length, repeats=data.eval_repeats, seed=seed + 1,
                                  noise_probability=data.noise_probability),
        "test": cut_windows(splits["test"], data.window_length, repeats=data.eval_repeats, seed=seed + 2,
                            noise_probability=data.noise_probability),
    }  # fmt: skip


class SeismicCollator:
    """Rows of a seismic data set -> model batch, with the training-time random windows and augmentations.

    `target="picker"`: `inputs` `(B, C, T)` and `labels` `(B, 4, T)` (`make_picker_labels`);
    `target="magnitude"`: `inputs`, `log_amplitude` `(B, C)` and `labels` `(B, 2)` = (magnitude, event).
    """

    def __init__(self, feature_extractor: SeismicFeatureExtractor, *, target: str = "picker", window_length: int = 3000,
                 augmentation=None, label_sigma: float = 10.0, seed: int = 0):  # fmt: skip
        if target not in {"picker", "magnitude"}:
            raise ValueError(f"target must be 'picker' or 'magnitude', got {target!r}")
        self.feature_extractor = feature_extractor
        self.target = target
        self.window = RandomWindow(window_length)
        self.augmentation = augmentation
        self.label_sigma = label_sigma
        self.rng = np.random.default_rng(seed + int(os.environ.get("RANK", "0")))

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        samples = []
        for row in rows:
            sample = {k: row[k] for k in ("waveforms", "p_arrival_sample", "s_arrival_sample", "magnitude", "label")}
            sample["waveforms"] = np.asarray(sample["waveforms"], dtype=np.float32)
            if self.augmentation is not None:
                sample = self.augmentation(sample, self.rng)
            elif sample["waveforms"].shape[-1] != self.window.window_length:
                sample = self.window(sample, self.rng)
            samples.append(sample)
        features = self.feature_extractor(np.stack([s["waveforms"] for s in samples]), return_tensors="pt")
        batch = {"inputs": features["inputs"]}
        if self.target == "picker":
            p = np.array([int(s["p_arrival_sample"]) for s in samples])
            s_ = np.array([int(s["s_arrival_sample"]) for s in samples])
            length = batch["inputs"].shape[-1]
            batch["labels"] = torch.from_numpy(make_picker_labels(p, s_, length, sigma=self.label_sigma))
        else:
            batch["log_amplitude"] = features["log_amplitude"]
            magnitude = np.array([float(s["magnitude"]) for s in samples], dtype=np.float32)  # NaN: unknown
            label = np.array([float(s["label"]) for s in samples], dtype=np.float32)
            batch["labels"] = torch.from_numpy(np.stack([magnitude, label], axis=1))
        return batch


def training_augmentation(data: SeismicDataArguments, target: str):
    """RandomWindow (+ noise, dropout, scaling, gaps when `augment`); amplitude stays put for magnitudes."""
    steps = [RandomWindow(data.window_length, noise_probability=data.noise_probability)]
    if data.augment:
        steps += [AddNoise((0.0, 20.0), probability=0.3, sampling_rate=data.sampling_rate), ChannelDropout(0.1),
                  AddGaps(0.05, 0.1)]  # fmt: skip
        if target == "picker":
            steps.append(AmplitudeScale((-2.0, 2.0)))
    return Compose(steps)


def window_picks(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Per-window pick: the sample of the highest probability when it reaches `threshold`, else -1.

    probabilities `(N, T)` -> `(N,)` int64 sample indices."""
    probabilities = np.asarray(probabilities)
    index = probabilities.argmax(axis=-1)
    return np.where(probabilities.max(axis=-1) >= threshold, index, -1).astype(np.int64)


def _reduce_picker_logits(logits, labels):
    """Keep only what the metrics need: (P peak, P max, S peak, S max, detection max) per window."""
    phase_logits, detection_logits = logits[0], logits[1]
    probabilities = torch.softmax(phase_logits.float(), dim=1)
    p_max, p_idx = probabilities[:, 1].max(dim=-1)
    s_max, s_idx = probabilities[:, 2].max(dim=-1)
    detection = torch.sigmoid(detection_logits.float()).amax(dim=-1)
    return torch.stack([p_idx.float(), p_max, s_idx.float(), s_max, detection], dim=1)


def picker_metrics(config: SeismicPickerConfig):
    """`compute_metrics` for the picker, via the offline seismic_picking evaluate module."""
    metric = load_picking_metric()

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        reduced, labels = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
        pred_p = np.where(reduced[:, 1] >= config.p_threshold, reduced[:, 0], -1)
        pred_s = np.where(reduced[:, 3] >= config.s_threshold, reduced[:, 2], -1)
        ref_p = np.where(labels[:, 1].max(axis=-1) > 0.5, labels[:, 1].argmax(axis=-1), -1)
        ref_s = np.where(labels[:, 2].max(axis=-1) > 0.5, labels[:, 2].argmax(axis=-1), -1)
        scores = metric.compute(
            predicted_detection=(reduced[:, 4] >= config.detection_threshold).astype(int),
            reference_detection=(labels[:, 3].max(axis=-1) > 0.5).astype(int),
            predicted_p=pred_p, reference_p=ref_p, predicted_s=pred_s, reference_s=ref_s,
            sampling_rate=config.sampling_rate,
        )  # fmt: skip
        return {k: float(v) for k, v in scores.items()}

    return compute


def magnitude_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """MAE, residual std and mean predicted std of the magnitude over events; detection F1."""
    magnitude, log_variance, detection_logits = (np.asarray(p) for p in prediction.predictions[:3])
    labels = np.asarray(prediction.label_ids)
    events = labels[:, 1] > 0.5
    known = events & np.isfinite(labels[:, 0])
    residual = residual_stats(magnitude[known] - labels[known, 0])
    detected = detection_logits > 0.0
    tp, fp, fn = (detected & events).sum(), (detected & ~events).sum(), (~detected & events).sum()
    return {
        "magnitude_mae": residual["mae"],
        "magnitude_residual_std": residual["std"],
        "magnitude_mean_residual": residual["mean"],
        "magnitude_predicted_std": float(np.exp(0.5 * log_variance[known]).mean()) if known.any() else float("nan"),
        "detection_f1": precision_recall_f1(tp, fp, fn)[2],
    }


def _feature_extractor(path: str | None, data: SeismicDataArguments, *, amplitude: bool) -> SeismicFeatureExtractor:
    if amplitude:  # the magnitude family's own class
        from ..models.seismic_magnitude.processing_seismic_magnitude import (
            SeismicMagnitudeFeatureExtractor as extractor_class,
        )
    else:
        extractor_class = SeismicFeatureExtractor
    if path and (Path(path) / "preprocessor_config.json").is_file():
        return extractor_class.from_pretrained(path)
    return extractor_class(sampling_rate=data.sampling_rate, window_length=data.window_length,
                           return_amplitude=amplitude)  # fmt: skip


def run_seismic_training(model, feature_extractor, target, data, training_args, compute_metrics, preprocess=None,
         collators=None) -> dict:  # fmt: skip
    """Train and evaluate; `collators` = (train, eval) replaces the `SeismicCollator`s (other model families)."""
    splits = load_seismic_splits(data, seed=training_args.seed)
    if collators is not None:
        collator, eval_collator = collators
    else:
        collator = SeismicCollator(feature_extractor, target=target, window_length=data.window_length,
                                   augmentation=training_augmentation(data, target), label_sigma=data.label_sigma,
                                   seed=training_args.seed)  # fmt: skip
        eval_collator = SeismicCollator(feature_extractor, target=target, window_length=data.window_length,
                                        label_sigma=data.label_sigma)  # fmt: skip

    class _Trainer(GeoTrainer):
        def get_eval_dataloader(self, eval_dataset=None):
            train_collator, self.data_collator = self.data_collator, eval_collator
            try:
                return super().get_eval_dataloader(eval_dataset)
            finally:
                self.data_collator = train_collator

    trainer = _Trainer(
        model=model, args=training_args, train_dataset=splits["train"].with_format("numpy"),
        eval_dataset=splits[data.eval_split].with_format("numpy"), data_collator=collator,
        compute_metrics=compute_metrics, preprocess_logits_for_metrics=preprocess,
    )  # fmt: skip
    metrics = train_and_evaluate(trainer, processors=[feature_extractor])
    if data.eval_split != "test" and len(splits["test"]):
        test_metrics = trainer.evaluate(splits["test"].with_format("numpy"), metric_key_prefix="test")
        metrics.update(test_metrics)
        if trainer.is_world_process_zero():
            atomic_write_text(Path(training_args.output_dir) / "test_results.json",
                              json.dumps(test_metrics, indent=2, sort_keys=True, default=float))  # fmt: skip
    return metrics


def run_seismic_picking(
    model_args: PickerModelArguments, data: SeismicDataArguments, training_args: TrainingArguments
) -> dict:
    """Train the phase picker; returns the final metrics (eval_detection_f1, eval_p_mae_s, ...)."""
    training_args = with_device_defaults(training_args, remove_unused_columns=False)
    set_seed(training_args.seed)
    if model_args.model_name_or_path:
        model = SeismicPickerForPhasePicking.from_pretrained(model_args.model_name_or_path)
    else:
        config = SeismicPickerConfig(hidden_sizes=_int_list(model_args.hidden_sizes, "hidden_sizes"),
                                     kernel_size=model_args.kernel_size, stride=model_args.stride,
                                     dropout=model_args.dropout, sampling_rate=data.sampling_rate,
                                     window_length=data.window_length)  # fmt: skip
        model = SeismicPickerForPhasePicking(config)
    extractor = _feature_extractor(model_args.model_name_or_path, data, amplitude=False)
    return run_seismic_training(
        model, extractor, "picker", data, training_args, picker_metrics(model.config), _reduce_picker_logits
    )


def run_seismic_magnitude(
    model_args: MagnitudeModelArguments, data: SeismicDataArguments, training_args: TrainingArguments
) -> dict:
    """Train the magnitude model; returns the final metrics (eval_magnitude_mae, eval_magnitude_residual_std)."""
    training_args = with_device_defaults(training_args, remove_unused_columns=False)
    set_seed(training_args.seed)
    if model_args.model_name_or_path:
        model = SeismicMagnitudeForRegression.from_pretrained(model_args.model_name_or_path)
    else:
        config = SeismicMagnitudeConfig(conv_channels=_int_list(model_args.conv_channels, "conv_channels"),
                                        lstm_hidden_size=model_args.lstm_hidden_size,
                                        kernel_size=model_args.kernel_size, dropout=model_args.dropout,
                                        sampling_rate=data.sampling_rate, window_length=data.window_length)  # fmt: skip
        model = SeismicMagnitudeForRegression(config)
    extractor = _feature_extractor(model_args.model_name_or_path, data, amplitude=True)
    return run_seismic_training(model, extractor, "magnitude", data, training_args, magnitude_metrics)


SEISMIC_PICKING = Task(
    "seismic_picking",
    (PickerModelArguments, SeismicDataArguments, TrainingArguments),
    run_seismic_picking,
    "P/S phase picking and event detection (PhaseNet-style U-Net)",
)
SEISMIC_MAGNITUDE = Task(
    "seismic_magnitude",
    (MagnitudeModelArguments, SeismicDataArguments, TrainingArguments),
    run_seismic_magnitude,
    "magnitude regression with uncertainty and detection (CNN + BiLSTM)",
)
