"""Earthquake forecasting tasks: `etas` (maximum-likelihood fit) and `neural_point_process` (Trainer).

    geohub train recipes/earthquake_forecasting/config_etas_sanjac.yaml --config_file recipes/accelerate_configs/cpu.yaml
    geohub train recipes/earthquake_forecasting/config_npp_sanjac.yaml --config_file recipes/accelerate_configs/cpu.yaml

Data: a catalogue (`geohub.data.catalogs.read_catalog`: CSV, QuakeML), optionally cut to a region polygon, kept at or
above the magnitude of completeness `mc` (magnitudes binned to `delta_m`). Windows by date: events from
`auxiliary_start` condition only; training `[train_start, validation_start)`, validation `[validation_start,
test_start)`, test `[test_start, test_end)`, each conditioned on every earlier event (the EarthquakeNPP protocol).
ETAS has no hyperparameters to select, so it fits all of `[train_start, test_start)` as the benchmark does
(`fit_start` moves the start: the benchmark's Poisson baseline, `productivity: false`, counts from
`auxiliary_start`). The neural model trains on the training window, picks its epoch by the validation window's
temporal log-likelihood, and is scored on the test window at the end. Metrics (`all_results.json`):
`validation_temporal_log_likelihood`, `test_temporal_log_likelihood` (per event, days) and event counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import TrainingArguments, set_seed

from ..data.catalogs import catalog_window, read_catalog, sequence_dataset
from ..errors import ConfigError
from ..models.etas import EtasConfig, EtasForForecasting
from ..models.neural_point_process import NeuralPointProcessConfig, NeuralPointProcessForForecasting, history_states
from ..utils import atomic_write_text, get_logger
from .supervised import GeoTrainer, add_results, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = ["CatalogDataArguments", "EtasArguments", "NeuralPointProcessArguments", "catalog_windows",
           "window_arrays", "CatalogCollator", "ETAS_FIT", "NEURAL_POINT_PROCESS"]  # fmt: skip


@dataclass
class CatalogDataArguments:
    """The catalogue and its windows (dates are UTC, `YYYY-MM-DD[ HH:MM:SS]`)."""

    catalog: str = field(default="../shared/data/earthquake-catalogs/SanJac_catalog.csv",
                         metadata={"help": "CSV or QuakeML catalogue"})  # fmt: skip
    region: str | None = field(default=None, metadata={"help": ".npy of (lat, lon) polygon vertices; None: all"})
    mc: float = field(default=1.0, metadata={"help": "magnitude of completeness"})
    delta_m: float = field(default=0.1, metadata={"help": "magnitude bin (0: continuous)"})
    auxiliary_start: str = field(default="2008-01-01", metadata={"help": "conditioning history starts here"})
    train_start: str = field(default="2009-01-01", metadata={"help": "training window start"})
    validation_start: str = field(default="2015-01-01", metadata={"help": "validation window start"})
    test_start: str = field(default="2016-01-01", metadata={"help": "test window start (end of validation)"})
    test_end: str = field(default="2018-01-01", metadata={"help": "test window end"})

    def __post_init__(self):
        names = ("auxiliary_start", "train_start", "validation_start", "test_start", "test_end")
        stamps = []
        for name in names:
            try:
                stamps.append(np.datetime64(str(getattr(self, name)).replace("T", " ").strip(), "ms"))
            except ValueError:
                raise ConfigError(
                    f"cannot read date {getattr(self, name)!r}", field=name, expected="YYYY-MM-DD[ HH:MM:SS]"
                ) from None
        if not (stamps[0] <= stamps[1] < stamps[2] < stamps[3] < stamps[4]):
            raise ConfigError(
                "window dates out of order",
                field="auxiliary_start..test_end",
                expected="auxiliary_start <= train_start < validation_start < test_start < test_end",
            )


@dataclass
class EtasArguments:
    """ETAS starting values (the fit moves them) and options; `productivity: false` is the Poisson baseline."""

    mu: float = field(default=1.0, metadata={"help": "background rate start (events/day)"})
    k: float = field(default=0.02, metadata={"help": "productivity start"})
    alpha: float = field(default=1.0, metadata={"help": "magnitude dependence start (per magnitude unit)"})
    c: float = field(default=0.001, metadata={"help": "Omori-Utsu c start (days)"})
    omega: float = field(default=0.0, metadata={"help": "Omori-Utsu p - 1 start"})
    tau: float = field(default=1000.0, metadata={"help": "taper start (days)"})
    taper: bool = field(default=True, metadata={"help": "exponential taper of the Omori-Utsu decay"})
    productivity: bool = field(default=True, metadata={"help": "false: homogeneous Poisson baseline"})
    max_magnitude: float = field(default=8.0, metadata={"help": "largest simulated magnitude"})
    max_iterations: int = field(default=100, metadata={"help": "L-BFGS iterations"})
    tolerance: float = field(default=1e-7, metadata={"help": "stop when the log-likelihood per event changes less"})
    fit_near_days: float = field(default=200.0, metadata={"help": "fit: sources younger than this are summed "
                                 "exactly, older ones interpolated (0: exact fit, about 4x slower on SanJac)"})  # fmt: skip
    fit_grid_days: float = field(default=10.0, metadata={"help": "fit: interpolation interval of older sources"})
    fit_start: str | None = field(default=None, metadata={"help": "fit window start (default train_start)"})


@dataclass
class NeuralPointProcessArguments:
    """The neural point process: a new model of this shape, or `model_name_or_path` to fine-tune."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "checkpoint folder to fine-tune"})
    hidden_size: int = field(default=32, metadata={"help": "GRU units"})
    num_mixture: int = field(default=8, metadata={"help": "log-normal mixture components"})
    history_scales: str = field(default="0.01,0.1,1,10,100,1000", metadata={"help": "state time scales (days); "
                                "'none' for a plain GRU"})  # fmt: skip
    magnitude_weights: str = field(default="0,2", metadata={"help": "magnitude weights of the states"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the GRU output"})
    sequence_length: int = field(default=256, metadata={"help": "scored events per training chunk"})
    warmup: int = field(default=32, metadata={"help": "unscored events that start each chunk's GRU"})
    max_magnitude: float = field(default=8.0, metadata={"help": "largest simulated magnitude"})


def _floats(text: str, name: str) -> list[float]:
    if str(text).strip().lower() in {"", "none"}:
        return []
    try:
        return [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"cannot parse {text!r}", field=name, expected="comma-separated numbers") from None


def catalog_windows(data: CatalogDataArguments, *, fit_start: str | None = None) -> dict:
    """`{"catalog", "train", "validation", "test", "fit"}`: the filtered catalogue and its `CatalogWindow`s."""
    catalog = read_catalog(data.catalog, region=data.region).complete_above(data.mc, data.delta_m)

    def window(a, b):
        return catalog_window(catalog, a, b, auxiliary_start=data.auxiliary_start)

    return {"catalog": catalog, "train": window(data.train_start, data.validation_start),
            "validation": window(data.validation_start, data.test_start),
            "test": window(data.test_start, data.test_end),
            "fit": window(fit_start or data.train_start, data.test_start)}  # fmt: skip


def window_arrays(window):
    """(times days, magnitudes, index of the first target, start, end) of a `CatalogWindow`."""
    history_t, event_t, start, end = window.times_days()
    times = np.concatenate([history_t, event_t])
    magnitudes = np.concatenate([window.history.magnitudes, window.events.magnitudes])
    return times, magnitudes, len(history_t), float(start), float(end)


def _score(model, windows: dict, names=("validation", "test")) -> dict:
    metrics = {}
    for name in names:
        times, magnitudes, first, start, end = window_arrays(windows[name])
        n = len(times) - first
        metrics[f"{name}_temporal_log_likelihood"] = (
            model.window_log_likelihood(times, magnitudes, first, start, end) / n
        )
        metrics[f"{name}_events"] = n
    return metrics


def _write(output_dir: str, name: str, metrics: dict) -> None:
    atomic_write_text(Path(output_dir) / name, json.dumps(metrics, indent=2, sort_keys=True, default=float))


def run_etas(model_args: EtasArguments, data: CatalogDataArguments, training_args: TrainingArguments) -> dict:
    """Fit ETAS (or the Poisson baseline) by maximum likelihood; save it; score validation and test."""
    windows = catalog_windows(data, fit_start=model_args.fit_start)
    config = EtasConfig(mu=model_args.mu, k=model_args.k if model_args.productivity else 0.0, alpha=model_args.alpha,
                        c=model_args.c, omega=model_args.omega, tau=model_args.tau, mc=data.mc, delta_m=data.delta_m,
                        max_magnitude=model_args.max_magnitude, productivity=model_args.productivity,
                        taper=model_args.taper)  # fmt: skip
    model = EtasForForecasting(config)
    times, magnitudes, first, start, end = window_arrays(windows["fit"])
    far_field = (model_args.fit_near_days, model_args.fit_grid_days) if model_args.fit_near_days > 0 else None
    result = model.fit(times, magnitudes, first, start, end, max_iterations=model_args.max_iterations,
                       tolerance=model_args.tolerance, far_field=far_field, log=logger.info)  # fmt: skip
    metrics = {"train_temporal_log_likelihood": result["log_likelihood"], "train_events": len(times) - first,
               "fit_evaluations": result["iterations"], **_score(model, windows)}  # fmt: skip
    metrics.update({f"parameter_{k}": v for k, v in model.parameters_dict().items()})
    if int(os.environ.get("RANK", "0")) == 0:
        model.save_pretrained(training_args.output_dir)
        _write(training_args.output_dir, "all_results.json", metrics)
    return metrics


class CatalogCollator:
    """Chunks of `sequence_dataset` -> padded batch: `times` (B, L) float64, `magnitudes` (B, L), `states`
    (B, L, S), `scored` (B, L) bool (padding repeats the last event and is never scored)."""

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        length = max(len(r["times"]) for r in rows)

        def pad(values, dtype):
            values = np.asarray(values, dtype=dtype)
            extra = length - len(values)
            return np.concatenate([values, np.repeat(values[-1:], extra, axis=0)]) if extra else values

        batch = {
            "times": torch.from_numpy(np.stack([pad(r["times"], np.float64) for r in rows])),
            "magnitudes": torch.from_numpy(np.stack([pad(r["magnitudes"], np.float32) for r in rows])),
            "scored": torch.from_numpy(
                np.stack(
                    [
                        np.concatenate([np.asarray(r["scored"], bool), np.zeros(length - len(r["scored"]), bool)])
                        for r in rows
                    ]
                )
            ),  # fmt: skip
        }
        states = [pad(r["states"], np.float32) if len(r.get("states", [])) else None for r in rows]
        if states[0] is not None:
            batch["states"] = torch.from_numpy(np.stack(states))
        else:
            batch["states"] = torch.zeros(len(rows), length, 0)
        return batch


def _npp_config(
    model_args: NeuralPointProcessArguments, data: CatalogDataArguments, window
) -> NeuralPointProcessConfig:
    times, _, first, _, _ = window_arrays(window)
    gaps = np.log(np.maximum(np.diff(times[max(first - 1, 0) :]), 1e-6))
    return NeuralPointProcessConfig(hidden_size=model_args.hidden_size, num_mixture=model_args.num_mixture,
                                    history_scales=_floats(model_args.history_scales, "history_scales"),
                                    magnitude_weights=_floats(model_args.magnitude_weights, "magnitude_weights"),
                                    mc=data.mc, delta_m=data.delta_m, max_magnitude=model_args.max_magnitude,
                                    log_tau_mean=float(gaps.mean()), log_tau_std=float(gaps.std() or 1.0),
                                    dropout=model_args.dropout)  # fmt: skip


def _chunks(model, window, model_args: NeuralPointProcessArguments):
    times, magnitudes, _, _, _ = window_arrays(window)
    states = history_states(times, magnitudes, model.config)
    return sequence_dataset(window, length=model_args.sequence_length, warmup=model_args.warmup,
                            states=states if states.shape[1] else None)  # fmt: skip


def run_neural_point_process(model_args: NeuralPointProcessArguments, data: CatalogDataArguments,
                             training_args: TrainingArguments) -> dict:  # fmt: skip
    """Train the neural point process with the Trainer; the epoch is chosen by the validation window's temporal
    log-likelihood (`metric_for_best_model: temporal_log_likelihood`, `load_best_model_at_end`)."""
    training_args = with_device_defaults(training_args, remove_unused_columns=False)
    set_seed(training_args.seed)
    windows = catalog_windows(data)
    if model_args.model_name_or_path:
        model = NeuralPointProcessForForecasting.from_pretrained(model_args.model_name_or_path)
    else:
        model = NeuralPointProcessForForecasting(_npp_config(model_args, data, windows["train"]))
    train_chunks = _chunks(model, windows["train"], model_args)

    class _CatalogTrainer(GeoTrainer):
        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict:
            """The validation window's temporal log-likelihood per event, the whole window in one pass."""
            unwrapped = self.accelerator.unwrap_model(self.model)
            was_training = unwrapped.training
            value = _score(unwrapped, windows, ("validation",))["validation_temporal_log_likelihood"]
            unwrapped.train(was_training)
            metrics = {f"{metric_key_prefix}_temporal_log_likelihood": value, f"{metric_key_prefix}_loss": -value}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    trainer = _CatalogTrainer(model=model, args=training_args, train_dataset=train_chunks.with_format("numpy"),
                              eval_dataset=train_chunks, data_collator=CatalogCollator())  # fmt: skip
    metrics = train_and_evaluate(trainer)
    final = _score(trainer.accelerator.unwrap_model(trainer.model), windows)
    final["train_events"] = len(windows["train"].events)
    metrics.update(final)
    add_results(trainer, final)
    return metrics


ETAS_FIT = Task("etas", (EtasArguments, CatalogDataArguments, TrainingArguments), run_etas,
                "temporal ETAS (or the Poisson baseline) fitted by maximum likelihood to a catalogue")  # fmt: skip
NEURAL_POINT_PROCESS = Task(
    "neural_point_process",
    (NeuralPointProcessArguments, CatalogDataArguments, TrainingArguments),
    run_neural_point_process,
    "neural temporal point process (GRU + log-normal mixture, magnitude marks) trained on a catalogue",
)
