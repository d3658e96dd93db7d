"""Seismic denoising task (`seismic_denoising`): DeepDenoiser-style masks trained on synthetic earthquakes mixed
with real noise.

    geohub train recipes/seismic_denoiser/config_phasenet_noise.yaml --config_file recipes/accelerate_configs/cpu.yaml

Signals (`signals:`) are noise-free synthetic earthquakes: `local` (default, `local_earthquake_signals`): local
events as short-period velocity records, their spectra matched to the PhaseNet-NCEDC records' signal band (peak
2-8 Hz, down ~19 dB at 25-40 Hz), S-P 0.4-12 s, short codas and a few later arrivals; or `generator`:
geohub's general synthetic seismograms (`geohub.data.synthetic_seismic`, Wood-Anderson displacement, most energy
below 2 Hz: a denoiser trained on them removes the 4-15 Hz energy of real local earthquakes as noise). Noise
(`noise:`) is either `phasenet`, the real noise before P of the PhaseNet-NCEDC records in `dataset_dir` (P is at
sample 3000, so each record gives ~29 s of noise), split by station so the validation and test noise come from
stations never seen in training, or `synthetic` (the generator's coloured noise; for tests and offline smoke
runs). Every training batch mixes each signal with a random noise window (random offset, sign, time reversal and
horizontal swap) at a random signal-to-noise ratio; 10 % of the windows are noise only. Evaluation mixtures are
drawn once with a fixed seed. SNR here is the power ratio over the whole window, `10 log10(sum s^2 / sum n^2)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import datasets
import numpy as np
import torch
from transformers import EvalPrediction, TrainingArguments, set_seed

from ..data.seismic_datasets import from_phasenet_npz, split_by_group
from ..data.synthetic_seismic import coloured_noise, generate_synthetic_windows
from ..errors import ConfigError
from ..models.seismic_denoiser import (
    SeismicDenoiserConfig,
    SeismicDenoiserFeatureExtractor,
    SeismicDenoiserForDenoising,
)
from ..utils import get_logger
from .supervised import GeoTrainer, train_and_evaluate, with_device_defaults
from .tasks import Task

logger = get_logger(__name__)

__all__ = [
    "DenoiserModelArguments",
    "DenoisingDataArguments",
    "DenoisingCollator",
    "local_earthquake_signals",
    "pre_p_noise",
    "mix_at_snr",
    "snr_db",
    "denoising_metrics",
    "load_noise_banks",
    "SEISMIC_DENOISING",
]


@dataclass
class DenoiserModelArguments:
    """The denoiser: start from `model_name_or_path` (fine-tuning) or a new model of this shape."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "checkpoint folder to fine-tune"})
    hidden_sizes: str = field(default="8,16,32,64", metadata={"help": "U-Net channels per level"})
    n_fft: int = field(default=60, metadata={"help": "FFT length (samples)"})
    win_length: int = field(default=30, metadata={"help": "Hann window (samples)"})
    hop_length: int = field(default=15, metadata={"help": "STFT hop (samples)"})
    kernel_size: int = field(default=3, metadata={"help": "odd 2-D kernel"})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the mask head"})
    waveform_loss_weight: float = field(default=1.0, metadata={"help": "weight of the waveform MSE in the loss"})
    mask_loss: str = field(default="mse", metadata={"help": "mask term of the loss: mse or cross_entropy"})


@dataclass
class DenoisingDataArguments:
    noise: str = field(default="phasenet", metadata={"help": "phasenet (real pre-P noise) or synthetic"})
    signals: str = field(default="local", metadata={"help": "local (spectrum-matched local events) or generator"})
    dataset_dir: str | None = field(default=None, metadata={"help": "PhaseNet npz folder (noise: phasenet)"})
    num_train_windows: int = field(default=8000, metadata={"help": "synthetic signal windows for training"})
    num_eval_windows: int = field(default=300, metadata={"help": "fixed evaluation mixtures"})
    synthetic_seed: int = field(default=0, metadata={"help": "seed of the synthetic signals"})
    window_length: int = field(default=2800, metadata={"help": "samples per training window (<= noise length)"})
    sampling_rate: float = field(default=100.0, metadata={"help": "Hz"})
    snr_db_min: float = field(default=-5.0, metadata={"help": "lowest training SNR (dB, whole window)"})
    snr_db_max: float = field(default=15.0, metadata={"help": "highest training SNR (dB, whole window)"})
    noise_only_fraction: float = field(default=0.1, metadata={"help": "share of noise-only training windows"})
    noise_margin: int = field(default=50, metadata={"help": "samples left out before P when cutting noise"})
    validation_fraction: float = field(default=0.15, metadata={"help": "fraction of stations for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "fraction of stations held out for test"})
    split_seed: int = field(default=0, metadata={"help": "seed of the station split"})

    def __post_init__(self):
        if self.noise not in {"phasenet", "synthetic"}:
            raise ConfigError(f"unknown noise {self.noise!r}", field="noise", expected="phasenet or synthetic")
        if self.signals not in {"local", "generator"}:
            raise ConfigError(f"unknown signals {self.signals!r}", field="signals", expected="local or generator")
        if self.noise == "phasenet" and not self.dataset_dir:
            raise ConfigError("noise: phasenet needs dataset_dir", field="dataset_dir",
                              expected="e.g. ../shared/data/phasenet-ncedc")  # fmt: skip
        if self.snr_db_min > self.snr_db_max:
            raise ConfigError(f"snr_db_min {self.snr_db_min} > snr_db_max {self.snr_db_max}", field="snr_db_min")
        if not 0.0 <= self.noise_only_fraction < 1.0:
            raise ConfigError(f"noise_only_fraction {self.noise_only_fraction}", field="noise_only_fraction",
                              expected="in [0, 1)")  # fmt: skip


def snr_db(signal: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """`10 log10(sum signal^2 / sum noise^2)` over the last axis (and channels): `(B, C, T)` -> `(B,)` dB."""
    signal_power = np.sum(np.asarray(signal, np.float64) ** 2, axis=(-2, -1))
    noise_power = np.sum(np.asarray(noise, np.float64) ** 2, axis=(-2, -1))
    return 10 * np.log10((signal_power + 1e-20) / (noise_power + 1e-20))


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale `noise` `(B, C, T)` so that `snr_db(signal, noise) == snr` `(B,)`; returns (mixture, scaled noise)."""
    signal_power = np.sum(np.asarray(signal, np.float64) ** 2, axis=(-2, -1))
    noise_power = np.sum(np.asarray(noise, np.float64) ** 2, axis=(-2, -1)) + 1e-20
    gain = np.sqrt(signal_power / noise_power / 10 ** (np.asarray(snr, np.float64) / 10))
    scaled = noise * gain[:, None, None]
    return (signal + scaled).astype(np.float32), scaled.astype(np.float32)


def pre_p_noise(records: datasets.Dataset, margin: int = 50, max_zero_fraction: float = 0.01,
                return_kept: bool = False):  # fmt: skip
    """The samples before P (minus `margin`) of each record, cropped to the shortest: `(N, C, L)` float32.

    Records whose noise has a dead channel or more than `max_zero_fraction` exact zeros on a channel (zero-padded
    starts: 39 of the 154 PhaseNet-NCEDC records) are left out: mixed "at an SNR" they would add no noise. With
    `return_kept`, also returns the indices of the records kept."""
    rows = records.with_format("numpy")[:]
    ends = [int(p) - margin for p in rows["p_arrival_sample"]]
    if not ends or min(ends) < 64:
        raise ConfigError("records need P picks at least 64 samples after their start to cut noise",
                          field="p_arrival_sample")  # fmt: skip
    length = min(ends)
    waveforms = rows["waveforms"]
    windows = np.stack([waveforms[i, :, end - length : end] for i, end in enumerate(ends)]).astype(np.float32)
    live = ((windows == 0).mean(axis=-1).max(axis=-1) <= max_zero_fraction) & (windows.std(axis=-1).min(axis=-1) > 0)
    if not live.any():
        raise ConfigError("no record has live noise before P", field="waveforms", expected="non-zero pre-P samples")
    return (windows[live], np.flatnonzero(live)) if return_kept else windows[live]


def load_noise_banks(data: DenoisingDataArguments) -> dict[str, np.ndarray]:
    """Noise windows per split (`train`/`validation`/`test`), `(N, C, L)` with `L >= window_length`."""
    if data.noise == "synthetic":
        rng = np.random.default_rng(data.synthetic_seed + 7)
        length = data.window_length + 200
        return {s: coloured_noise(rng, (n, 3, length), data.sampling_rate).astype(np.float32)
                for s, n in (("train", 64), ("validation", 16), ("test", 16))}  # fmt: skip
    splits = split_by_group(from_phasenet_npz(data.dataset_dir), by="station_id", seed=data.split_seed,
                            validation_fraction=data.validation_fraction, test_fraction=data.test_fraction)  # fmt: skip
    banks = {name: pre_p_noise(split, data.noise_margin) for name, split in splits.items() if len(split)}
    for name, bank in banks.items():
        if bank.shape[-1] < data.window_length:
            raise ConfigError(f"{name} noise windows have {bank.shape[-1]} samples", field="window_length",
                              expected=f"<= {bank.shape[-1]} (the noise before P)")  # fmt: skip
    return banks


def draw_noise(bank: np.ndarray, count: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random noise windows `(count, C, length)`: random record, offset, sign, time reversal, N/E swap."""
    index = rng.integers(0, len(bank), size=count)
    offsets = rng.integers(0, bank.shape[-1] - length + 1, size=count)
    noise = np.stack([bank[i, :, o : o + length] for i, o in zip(index, offsets)])
    noise = noise * rng.choice([-1.0, 1.0], size=(count, 1, 1))
    flip = rng.random(count) < 0.5
    noise[flip] = noise[flip, :, ::-1]
    swap = rng.random(count) < 0.5
    if noise.shape[1] == 3:
        noise[swap] = noise[swap][:, [0, 2, 1]]
    return noise.astype(np.float32)


def make_mixtures(signals: np.ndarray, bank: np.ndarray, data: DenoisingDataArguments, rng: np.random.Generator):
    """(noisy `(B, C, T)`, clean `(B, C, T)`): signals mixed with random noise at random SNR; some noise-only."""
    noise = draw_noise(bank, len(signals), signals.shape[-1], rng)
    snr = rng.uniform(data.snr_db_min, data.snr_db_max, size=len(signals))
    clean = signals * (rng.random(len(signals)) >= data.noise_only_fraction)[:, None, None]
    noisy, _ = mix_at_snr(signals, noise, snr)
    noisy = np.where((clean == 0).all(axis=(1, 2))[:, None, None], noise, noisy)
    return noisy.astype(np.float32), clean.astype(np.float32)


class DenoisingCollator:
    """Rows with `signal` (training: mixed with noise drawn now) or `noisy` + `clean` (evaluation, fixed) ->
    `inputs` `(B, C, T)` standardised mixture and `labels` `(B, C, T)` the clean signal in the same units."""

    def __init__(self, feature_extractor: SeismicDenoiserFeatureExtractor, bank: np.ndarray | None,
                 data: DenoisingDataArguments, seed: int = 0):  # fmt: skip
        self.feature_extractor = feature_extractor
        self.bank = bank
        self.data = data
        self.rng = np.random.default_rng(seed)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        if "signal" in rows[0]:
            signals = np.stack([np.asarray(r["signal"], np.float32) for r in rows])
            noisy, clean = make_mixtures(signals, self.bank, self.data, self.rng)
        else:
            noisy = np.stack([np.asarray(r["noisy"], np.float32) for r in rows])
            clean = np.stack([np.asarray(r["clean"], np.float32) for r in rows])
        features = self.feature_extractor(noisy, return_tensors="np")
        labels = (clean - clean.mean(axis=-1, keepdims=True)) / features["scale"]
        return {"inputs": torch.from_numpy(features["inputs"]), "labels": torch.from_numpy(labels.astype(np.float32))}


def _decaying_envelope(t: np.ndarray, rise: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """`(n, T)` onset ramp of `rise` s then `exp(-t / tau)` decay; zero before `t = 0` (t, rise, tau in s)."""
    return np.where(t < 0, 0.0, np.minimum(t / rise, 1.0) * np.exp(-np.maximum(t - rise, 0.0) / tau))


def _phase_train(rng: np.random.Generator, n: int, length: int, rate: float, onset: np.ndarray, corner_scale: float,
                 coda_scale: float, rise_scale: float) -> np.ndarray:  # fmt: skip
    """`(n, 3, length)` unit-peak wave train of one phase: filtered white noise under a decaying envelope.

    Velocity spectrum `f / (1 + (f / fc)^2) * exp(-pi kappa f)` (Brune source, near-site attenuation kappa) times
    the short-period sensor's roll-off `1 - exp(-(f / f_low)^2)`; the envelope is the direct arrival plus two later
    arrivals (reflections, conversions) 0.2-3 s after it, each decaying over the phase's coda time."""
    freqs = np.fft.rfftfreq(length, d=1.0 / rate)[None, :]
    corner = np.exp(rng.uniform(np.log(2.5), np.log(30.0), size=(n, 1))) * corner_scale
    kappa = rng.uniform(0.005, 0.04, size=(n, 1))
    f_low = np.exp(rng.uniform(np.log(0.8), np.log(3.0), size=(n, 1)))
    source = freqs / (1.0 + (freqs / corner) ** 2) * np.exp(-np.pi * kappa * freqs)
    shape = source * (1.0 - np.exp(-((freqs / f_low) ** 2)))
    tau = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=(n, 1))) * coda_scale
    rise = rng.uniform(0.01, 0.15, size=(n, 1)) * rise_scale
    t = np.arange(length)[None, :] / rate - onset[:, None]
    envelope = _decaying_envelope(t, rise, tau)
    for _ in range(2):
        delay = rng.uniform(0.2, 3.0, size=(n, 1))
        envelope += rng.uniform(0.0, 0.6, size=(n, 1)) * _decaying_envelope(t - delay, rise, tau)
    white = rng.standard_normal((n, 3, length))
    train = np.fft.irfft(np.fft.rfft(white, axis=-1) * shape[:, None, :], n=length, axis=-1) * envelope[:, None, :]
    return train / (np.abs(train).max(axis=(1, 2), keepdims=True) + 1e-12)


def local_earthquake_signals(n: int, length: int, sampling_rate: float = 100.0, seed: int = 0,
                             p_position_range: tuple[float, float] = (-0.2, 0.75)) -> np.ndarray:  # fmt: skip
    """Noise-free local earthquakes as short-period velocity records: `(n, 3, length)` float32 (ZNE, peak 1-10).

    Matched to the PhaseNet-NCEDC records (measured on the training stations: band power peaks at 4-8 Hz, 8-15 Hz
    2 dB and 25-40 Hz 19 dB below it, S-P 0.6-7 s for 90 %, energy 10-20 s after P ~0.6 % of the first 10 s):
    P onset at a uniform fraction `p_position_range` of the window (negative: the window starts in the coda),
    S-P log-uniform 0.4-12 s, corner frequencies log-uniform 2.5-30 Hz (P 1.3x higher), kappa 0.005-0.04 s,
    coda decay times 0.3-3 s (S 1.6x longer), S/P amplitude ratio 0.7-8, P mostly on Z and S on the horizontals.
    """
    rng = np.random.default_rng(seed)
    p_onset = rng.uniform(*p_position_range, size=n) * length / sampling_rate
    s_onset = p_onset + np.exp(rng.uniform(np.log(0.4), np.log(12.0), size=n))
    p_train = _phase_train(rng, n, length, sampling_rate, p_onset, 1.3, 1.0, 1.0)
    s_train = _phase_train(rng, n, length, sampling_rate, s_onset, 1.0, 1.6, 2.0)
    p_weights = np.stack([np.ones(n), rng.uniform(0.1, 0.7, n), rng.uniform(0.1, 0.7, n)], axis=1)
    s_weights = np.stack([rng.uniform(0.2, 0.8, n), np.ones(n), rng.uniform(0.3, 1.0, n)], axis=1)
    s_weights *= np.exp(rng.uniform(np.log(0.7), np.log(8.0), size=(n, 1)))
    return (p_train * p_weights[:, :, None] + s_train * s_weights[:, :, None]).astype(np.float32)


def _signals(n: int, data: DenoisingDataArguments, seed: int) -> np.ndarray:
    """Noise-free synthetic earthquakes `(n, 3, window_length)` of the kind `data.signals`."""
    if data.signals == "local":
        return local_earthquake_signals(n, data.window_length, data.sampling_rate, seed)
    batch = generate_synthetic_windows(n, window_length=data.window_length, sampling_rate=data.sampling_rate,
                                       seed=seed, noise_fraction=0.0, snr_db_range=(300.0, 300.0))  # fmt: skip
    return batch["waveforms"]


def build_datasets(data: DenoisingDataArguments, banks: dict[str, np.ndarray]) -> dict[str, datasets.Dataset]:
    """`train` (signals only; noise is drawn per batch) and fixed `validation` / `test` mixtures."""
    shape = (3, data.window_length)
    train = datasets.Dataset.from_dict(
        {"signal": _signals(data.num_train_windows, data, data.synthetic_seed)},
        features=datasets.Features({"signal": datasets.Array2D(shape, "float32")}),
    )
    out = {"train": train}
    features = datasets.Features(
        {"noisy": datasets.Array2D(shape, "float32"), "clean": datasets.Array2D(shape, "float32")}
    )
    for offset, name in ((10_000, "validation"), (20_000, "test")):
        if name not in banks:
            continue
        rng = np.random.default_rng(data.synthetic_seed + offset)
        noisy, clean = make_mixtures(_signals(data.num_eval_windows, data, data.synthetic_seed + offset),
                                     banks[name], data, rng)  # fmt: skip
        out[name] = datasets.Dataset.from_dict({"noisy": noisy, "clean": clean}, features=features)
    return out


def _reduce(outputs, labels):
    """Keep (denoised, noise) for the metrics: `(B, 2C, T)`."""
    denoised, noise = outputs[0], outputs[1]
    return torch.cat([denoised, noise], dim=1)


def denoising_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Mean SNR before / after (dB), SNR gain and waveform correlation with the clean signal (event windows)."""
    reduced, clean = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
    channels = clean.shape[1]
    denoised, noise = reduced[:, :channels], reduced[:, channels:]
    noisy = denoised + noise
    events = np.abs(clean).sum(axis=(1, 2)) > 0
    before = snr_db(clean[events], noisy[events] - clean[events])
    after = snr_db(clean[events], denoised[events] - clean[events])
    flat_d, flat_c = denoised[events].reshape(events.sum(), -1), clean[events].reshape(events.sum(), -1)
    corr = [np.corrcoef(d, c)[0, 1] for d, c in zip(flat_d, flat_c)]
    residual = np.sqrt((denoised[~events] ** 2).mean()) if (~events).any() else float("nan")
    return {"snr_before_db": float(before.mean()), "snr_after_db": float(after.mean()),
            "snr_gain_db": float((after - before).mean()), "correlation": float(np.mean(corr)),
            "noise_only_residual_rms": float(residual)}  # fmt: skip


def _model(model_args: DenoiserModelArguments, data: DenoisingDataArguments) -> SeismicDenoiserForDenoising:
    if model_args.model_name_or_path:
        return SeismicDenoiserForDenoising.from_pretrained(model_args.model_name_or_path)
    try:
        sizes = [int(v) for v in model_args.hidden_sizes.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"cannot parse {model_args.hidden_sizes!r}", field="hidden_sizes",
                          expected="comma-separated integers, e.g. 8,16,32,64") from None  # fmt: skip
    config = SeismicDenoiserConfig(hidden_sizes=sizes, n_fft=model_args.n_fft, win_length=model_args.win_length,
                                   hop_length=model_args.hop_length, kernel_size=model_args.kernel_size,
                                   dropout=model_args.dropout, waveform_loss_weight=model_args.waveform_loss_weight,
                                   mask_loss=model_args.mask_loss,
                                   sampling_rate=data.sampling_rate, window_length=data.window_length)  # fmt: skip
    return SeismicDenoiserForDenoising(config)


def run_seismic_denoising(model_args: DenoiserModelArguments, data: DenoisingDataArguments,
                          training_args: TrainingArguments) -> dict:  # fmt: skip
    """Train the denoiser; returns the final metrics (eval_snr_gain_db, eval_correlation, ...)."""
    training_args = with_device_defaults(training_args, remove_unused_columns=False, label_names=["labels"])
    set_seed(training_args.seed)
    model = _model(model_args, data)
    extractor = SeismicDenoiserFeatureExtractor.from_config(model.config)
    banks = load_noise_banks(data)
    splits = build_datasets(data, banks)
    logger.info("noise windows per split: %s", {k: v.shape for k, v in banks.items()})
    collator = DenoisingCollator(
        extractor, banks["train"], data, seed=training_args.seed + int(os.environ.get("RANK", "0"))
    )
    trainer = GeoTrainer(model=model, args=training_args, train_dataset=splits["train"].with_format("numpy"),
                         eval_dataset=splits.get("validation", splits.get("test")).with_format("numpy"),
                         data_collator=collator, compute_metrics=denoising_metrics,
                         preprocess_logits_for_metrics=_reduce)  # fmt: skip
    metrics = train_and_evaluate(trainer, processors=[extractor])
    if "test" in splits:
        metrics.update(trainer.evaluate(splits["test"].with_format("numpy"), metric_key_prefix="test"))
    return metrics


SEISMIC_DENOISING = Task(
    "seismic_denoising",
    (DenoiserModelArguments, DenoisingDataArguments, TrainingArguments),
    run_seismic_denoising,
    "seismic denoising: STFT signal/noise masks (DeepDenoiser-style encoder-decoder)",
)
