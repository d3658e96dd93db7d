"""Small composable augmentations for labelled seismic windows.

Each augmentation is a callable `augmentation(sample, rng) -> sample` on a dict with `waveforms` `(C, T)` numpy
array and `p_arrival_sample` / `s_arrival_sample` ints (-1 when absent); `rng` is a `numpy.random.Generator`, so
a pipeline is reproducible by seed. `Compose([...])` chains them.

- `RandomWindow`: cut a `window_length` window at a random offset so the P arrival lands anywhere in it (every
  PhaseNet record has P at sample 3000: without this a model learns the position, not the physics); optionally a
  noise-only window cut before the P arrival.
- `AddNoise`: coloured noise at a target SNR (dB) relative to the signal power after P.
- `ChannelDropout`: zero random channels (never all).
- `AmplitudeScale`: multiply by a random factor (not for magnitude labels, which depend on amplitude).
- `AddGaps`: zero a random stretch, as a zero-filled data gap would look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .synthetic_seismic import coloured_noise

__all__ = ["Compose", "RandomWindow", "AddNoise", "ChannelDropout", "AmplitudeScale", "AddGaps"]

Sample = dict


class Compose:
    """Apply augmentations in order."""

    def __init__(self, augmentations: Sequence[Callable[[Sample, np.random.Generator], Sample]]):
        self.augmentations = list(augmentations)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for augmentation in self.augmentations:
            sample = augmentation(sample, rng)
        return sample


def _shift_pick(value, offset: int, length: int) -> int:
    value = int(value)
    if value < 0:
        return -1
    shifted = value - offset
    return shifted if 0 <= shifted < length else -1


class RandomWindow:
    """Cut `window_length` samples so that P falls at a uniform fraction in `p_position_range` of the window.

    With probability `noise_probability` (and when the record has at least `window_length + margin` samples
    before P) a noise-only window ending `margin` samples before P is cut instead; its label becomes 0. Records
    without P get a uniformly random window. Records shorter than the window are zero-padded at the end.
    """

    def __init__(
        self, window_length: int, p_position_range=(0.05, 0.85), noise_probability: float = 0.0, margin: int = 0
    ):
        if window_length < 1 or not 0 <= p_position_range[0] <= p_position_range[1] <= 1:
            raise ValueError("window_length must be >= 1 and p_position_range within [0, 1]")
        self.window_length = int(window_length)
        self.p_position_range = tuple(p_position_range)
        self.noise_probability = float(noise_probability)
        self.margin = int(margin)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        waveforms = np.asarray(sample["waveforms"])
        total, length = waveforms.shape[-1], self.window_length
        if total < length:
            waveforms = np.pad(waveforms, ((0, 0), (0, length - total)))
            total = length
        p = int(sample.get("p_arrival_sample", -1))
        sample = dict(sample)
        if (
            p >= 0
            and self.noise_probability > 0
            and p - self.margin >= length
            and rng.random() < self.noise_probability
        ):
            offset = int(rng.integers(0, p - self.margin - length + 1))
            sample["label"] = 0
        elif p >= 0:
            position = int(rng.uniform(*self.p_position_range) * length)
            offset = int(np.clip(p - position, 0, total - length))
        else:
            offset = int(rng.integers(0, total - length + 1))
        sample["waveforms"] = waveforms[:, offset : offset + length]
        sample["p_arrival_sample"] = _shift_pick(p, offset, length)
        sample["s_arrival_sample"] = _shift_pick(sample.get("s_arrival_sample", -1), offset, length)
        if sample["p_arrival_sample"] < 0 and sample["s_arrival_sample"] < 0:
            sample["label"] = 0
        return sample


class AddNoise:
    """Add coloured noise so that the window's SNR (dB, power after P or of the whole window) drops to a target
    drawn from `snr_db_range`, applied with probability `probability`."""

    def __init__(self, snr_db_range=(0.0, 20.0), probability: float = 0.5, sampling_rate: float = 100.0):
        self.snr_db_range = tuple(snr_db_range)
        self.probability = float(probability)
        self.sampling_rate = float(sampling_rate)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if rng.random() >= self.probability:
            return sample
        waveforms = np.asarray(sample["waveforms"], dtype=np.float32)
        p = int(sample.get("p_arrival_sample", -1))
        segment = waveforms[:, p : p + int(4 * self.sampling_rate)] if p >= 0 else waveforms
        power = float(np.mean((segment - segment.mean(axis=-1, keepdims=True)) ** 2)) if segment.size else 0.0
        snr_db = rng.uniform(*self.snr_db_range)
        noise = coloured_noise(rng, waveforms.shape, self.sampling_rate) * np.sqrt(power / 10 ** (snr_db / 10))
        return {**sample, "waveforms": (waveforms + noise).astype(np.float32)}


class ChannelDropout:
    """Zero each channel with probability `probability`, keeping at least one."""

    def __init__(self, probability: float = 0.1):
        self.probability = float(probability)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        waveforms = np.array(sample["waveforms"], dtype=np.float32, copy=True)
        drop = rng.random(waveforms.shape[0]) < self.probability
        if drop.all():
            drop[rng.integers(0, waveforms.shape[0])] = False
        waveforms[drop] = 0.0
        return {**sample, "waveforms": waveforms}


class AmplitudeScale:
    """Multiply the window by `10 ** u`, `u` uniform in `log10_range`."""

    def __init__(self, log10_range=(-1.0, 1.0)):
        self.log10_range = tuple(log10_range)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        factor = 10 ** rng.uniform(*self.log10_range)
        return {**sample, "waveforms": (np.asarray(sample["waveforms"], dtype=np.float32) * factor).astype(np.float32)}


class AddGaps:
    """With probability `probability`, zero one random stretch of up to `max_fraction` of the window."""

    def __init__(self, probability: float = 0.1, max_fraction: float = 0.2):
        self.probability = float(probability)
        self.max_fraction = float(max_fraction)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if rng.random() >= self.probability:
            return sample
        waveforms = np.array(sample["waveforms"], dtype=np.float32, copy=True)
        length = waveforms.shape[-1]
        width = int(rng.uniform(0.01, self.max_fraction) * length)
        start = int(rng.integers(0, max(1, length - width)))
        waveforms[:, start : start + width] = 0.0
        return {**sample, "waveforms": waveforms}
