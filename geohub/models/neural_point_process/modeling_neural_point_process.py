"""geohub's neural temporal point process for earthquake catalogues.

The "intensity-free" model of Shchur, Bilos & Guennemann (2020, ICLR): a GRU reads the catalogue event by event and
gives, after each event, a mixture of log-normals for the time to the next event and a Gutenberg-Richter mark
density for its magnitude (a `beta` per event). Each event enters the GRU as its log inter-event time, its
magnitude, and its multi-scale history states `S_{s,a}(t_i) = sum_{j <= i} exp(a (m_j - mc) - (t_i - t_j) / s)`
(`history_states`): exponentially decaying, magnitude-weighted event counts at time scales from minutes to years.
They carry what a GRU forgets over thousands of events (ETAS's long Omori memory) and are computed exactly over the
whole history, so training can cut the catalogue into chunks.

Log-likelihood of events `t_1 < ... < t_n` in `[start, end]` after a last history event `t_0`:
`sum_i log f_i(t_i - t_{i-1}) - log S_0(start - t_0) + log S_n(end - t_n)` (densities `f_i`, survival functions
`S_i` of the mixture after event `i`); the sum of log intensities minus the integrated intensity, as for ETAS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_neural_point_process import NeuralPointProcessConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = ["NeuralPointProcessForForecasting", "NeuralPointProcessOutput", "history_states"]

_MIN_GAP = 1e-6  # days (0.09 s): inter-event times are floored here before the log


def history_states(times: np.ndarray, magnitudes: np.ndarray, config: NeuralPointProcessConfig) -> np.ndarray:
    """`(N, num_states)` float32 `log1p(S_{s,a}(t_i))` for sorted `times` (days) and `magnitudes` (one pass)."""
    scales = np.asarray(config.history_scales, dtype=np.float64)
    weights = np.asarray(config.magnitude_weights, dtype=np.float64)
    n = len(times)
    out = np.zeros((n, len(scales) * len(weights)), dtype=np.float64)
    if not len(scales) or not n:
        return out.astype(np.float32)
    gains = np.exp(np.outer(np.asarray(magnitudes, np.float64) - config.mc, weights))  # (N, A)
    gaps = np.diff(np.asarray(times, np.float64), prepend=times[0])
    decay = np.exp(-gaps[:, None] / scales[None, :])  # (N, S)
    state = np.zeros((len(scales), len(weights)))
    for i in range(n):
        state = state * decay[i][:, None] + gains[i][None, :]
        out[i] = state.ravel()
    return np.log1p(out).astype(np.float32)


# Copied from geohub.models.etas.modeling_etas.SimulationCapError
class SimulationCapError(ValueError):
    """A simulation went past its cap on events (a supercritical or very productive model, or too long a window)."""


@dataclass
class NeuralPointProcessOutput(ModelOutput):
    """Output of `NeuralPointProcessForForecasting.forward`.

    Args:
        loss: scalar, negative (temporal + magnitude) log-likelihood per scored event.
        temporal_log_likelihood: scalar, summed temporal log-likelihood of the scored events (with survival terms).
        magnitude_log_likelihood: scalar, summed magnitude log-likelihood of the scored events.
        num_events: scalar, number of scored events.
    """

    loss: torch.Tensor | None = None
    temporal_log_likelihood: torch.Tensor | None = None
    magnitude_log_likelihood: torch.Tensor | None = None
    num_events: torch.Tensor | None = None


class NeuralPointProcessPreTrainedModel(GeoPreTrainedModel):
    config_class = NeuralPointProcessConfig
    base_model_prefix = "neural_point_process"
    main_input_name = "times"
    _no_split_modules = ["NeuralPointProcessForForecasting"]


class NeuralPointProcessForForecasting(NeuralPointProcessPreTrainedModel):
    """GRU + log-normal mixture over inter-event times (days) + Gutenberg-Richter marks (see the module docstring).

    `forward(times (B, L) float64 days, magnitudes (B, L), states (B, L, S), scored (B, L) bool, window_end (B,))`:
    event `i` of a row is scored (from the history before it in the row) where `scored[:, i]`; `window_end` (NaN:
    none) adds the survival term after the row's last event."""

    def __init__(self, config: NeuralPointProcessConfig):
        super().__init__(config)
        inputs = 2 + config.num_states
        self.gru = nn.GRU(inputs, config.hidden_size, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size + inputs, 3 * config.num_mixture + 1)
        self.post_init()

    # ----- building blocks -------------------------------------------------------------------------------------
    def _inputs(self, times: torch.Tensor, magnitudes: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        gaps = torch.diff(times, dim=-1, prepend=times[..., :1])
        log_gap = (torch.log(gaps.clamp(min=_MIN_GAP)) - self.config.log_tau_mean) / self.config.log_tau_std
        magnitude = (magnitudes - self.config.mc).to(states.dtype)
        return torch.cat([log_gap.to(states.dtype)[..., None], magnitude[..., None], states], dim=-1)

    def _distribution(self, hidden: torch.Tensor, inputs: torch.Tensor):
        """Mixture (log weights, means, log stds of standardised log gaps) and magnitude `beta`, per event."""
        raw = self.head(torch.cat([self.dropout(hidden), inputs], dim=-1))
        k = self.config.num_mixture
        log_weights = torch.log_softmax(raw[..., :k], dim=-1)
        means, log_stds = raw[..., k : 2 * k], raw[..., 2 * k : 3 * k].clamp(-5.0, 3.0)
        beta = F.softplus(raw[..., -1] + math.log(math.expm1(math.log(10.0)))) + 1e-3
        return log_weights, means, log_stds, beta

    def _log_density(self, gap: torch.Tensor, mixture) -> tuple[torch.Tensor, torch.Tensor]:
        """(log f(gap), log S(gap)) of the mixture, gap in days (`gap` broadcasts against the mixture's batch)."""
        log_weights, means, log_stds = mixture
        log_gap = torch.log(gap.clamp(min=_MIN_GAP))
        z = ((log_gap - self.config.log_tau_mean) / self.config.log_tau_std)[..., None]
        scaled = (z - means) / torch.exp(log_stds)
        log_pdf = -0.5 * scaled**2 - log_stds - 0.5 * math.log(2 * math.pi) - math.log(self.config.log_tau_std)
        log_f = torch.logsumexp(log_weights + log_pdf, dim=-1) - log_gap
        log_s = torch.logsumexp(log_weights + torch.special.log_ndtr(-scaled), dim=-1)
        return log_f, log_s

    def _magnitude_log_likelihood(self, magnitudes: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        low = self.config.mc - self.config.delta_m / 2
        return torch.log(beta) - beta * (magnitudes - low)

    def encode(self, times: torch.Tensor, magnitudes: torch.Tensor, states: torch.Tensor, hidden=None):
        """GRU outputs `(B, L, H)` after each event, its inputs, and the final hidden state."""
        inputs = self._inputs(times, magnitudes, states)
        output, hidden = self.gru(inputs, hidden)
        return output, inputs, hidden

    # ----- training --------------------------------------------------------------------------------------------
    def forward(self, times: torch.Tensor, magnitudes: torch.Tensor, states: torch.Tensor, scored: torch.Tensor,
                window_end: torch.Tensor | None = None) -> NeuralPointProcessOutput:  # fmt: skip
        times = times.to(torch.float64)
        output, inputs, _ = self.encode(times, magnitudes, states)
        log_weights, means, log_stds, beta = self._distribution(output, inputs)
        scored = scored.bool().clone()
        scored[:, 0] = False  # the first event of a row has no previous event in the row
        gaps = torch.diff(times, dim=-1).to(states.dtype)  # gap to event i+1, read from the state after event i
        mixture = (log_weights[:, :-1], means[:, :-1], log_stds[:, :-1])
        log_f, _ = self._log_density(gaps, mixture)
        temporal = (log_f * scored[:, 1:]).sum()
        mark = (self._magnitude_log_likelihood(magnitudes[:, 1:].to(beta.dtype), beta[:, :-1]) * scored[:, 1:]).sum()
        if window_end is not None:
            ends = window_end.to(torch.float64)
            has_end = torch.isfinite(ends)
            if has_end.any():
                last = (ends - times[:, -1]).clamp(min=0.0).to(states.dtype)
                _, log_s = self._log_density(last[:, None], (log_weights[:, -1:], means[:, -1:], log_stds[:, -1:]))
                temporal = temporal + (log_s[:, 0] * has_end).sum()
        count = scored[:, 1:].sum().clamp(min=1)
        loss = -(temporal + mark) / count
        return NeuralPointProcessOutput(loss=loss, temporal_log_likelihood=temporal.detach(),
                                        magnitude_log_likelihood=mark.detach(), num_events=count)  # fmt: skip

    # ----- scoring ---------------------------------------------------------------------------------------------
    def _full(self, times, magnitudes):
        times = torch.as_tensor(np.asarray(times, np.float64))[None]
        magnitudes_t = torch.as_tensor(np.asarray(magnitudes, np.float32))[None]
        states = torch.from_numpy(history_states(times[0].numpy(), magnitudes_t[0].numpy(), self.config))[None]
        output, inputs, hidden = self.encode(times, magnitudes_t, states)
        return times, output, inputs, hidden

    @torch.no_grad()
    def window_log_likelihood(self, times, magnitudes, first_target: int, start: float, end: float) -> float:
        """Summed temporal log-likelihood of `times[first_target:]` in `[start, end]` given the earlier events."""
        if first_target < 1:
            raise ValueError("the neural point process needs at least one history event before the window")
        self.eval()
        times_t, output, inputs, _ = self._full(times, magnitudes)
        log_weights, means, log_stds, _ = self._distribution(output[0], inputs[0])
        t = times_t[0]
        gaps = (t[first_target:] - t[first_target - 1 : -1]).to(output.dtype)
        sl = slice(first_target - 1, len(t) - 1)
        log_f, _ = self._log_density(gaps, (log_weights[sl], means[sl], log_stds[sl]))
        prev = first_target - 1
        head = (log_weights[prev : prev + 1], means[prev : prev + 1], log_stds[prev : prev + 1])
        _, log_s_start = self._log_density(torch.tensor([start - float(t[prev])], dtype=output.dtype), head)
        tail = (log_weights[-1:], means[-1:], log_stds[-1:])
        _, log_s_end = self._log_density(torch.tensor([end - float(t[-1])], dtype=output.dtype), tail)
        return float(log_f.double().sum() - log_s_start.double().sum() + log_s_end.double().sum())

    # ----- simulation ------------------------------------------------------------------------------------------
    def _sample_gap(self, rng: np.random.Generator, mixture, minimum: np.ndarray) -> np.ndarray:
        """Gaps (days) drawn from each row's mixture conditioned on `gap > minimum` (inverse CDF per component)."""
        log_weights, means, log_stds = (m.double().numpy() for m in mixture)
        from scipy.special import log_ndtr, ndtr, ndtri

        z0 = (np.log(np.maximum(minimum, _MIN_GAP)) - self.config.log_tau_mean) / self.config.log_tau_std
        scaled0 = (z0[:, None] - means) / np.exp(log_stds)
        log_w = log_weights + log_ndtr(-scaled0)  # component weights given gap > minimum
        prob = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        component = (prob.cumsum(axis=1) < rng.random(len(prob))[:, None]).sum(axis=1).clip(max=prob.shape[1] - 1)
        rows = np.arange(len(prob))
        low = ndtr(scaled0[rows, component])
        u = low + rng.random(len(prob)) * (1 - low)
        z = means[rows, component] + np.exp(log_stds[rows, component]) * ndtri(np.clip(u, 1e-300, 1 - 1e-16))
        gap = np.exp(z * self.config.log_tau_std + self.config.log_tau_mean)
        return np.maximum(gap, minimum)

    def _sample_magnitudes(self, rng: np.random.Generator, beta: np.ndarray) -> np.ndarray:
        config = self.config
        low = config.mc - config.delta_m / 2
        span = 1.0 - np.exp(-beta * (config.max_magnitude - low))
        values = low - np.log1p(-rng.random(len(beta)) * span) / beta
        if config.delta_m > 0:
            values = np.maximum(np.floor(values / config.delta_m + 0.5 + 1e-9) * config.delta_m, config.mc)
        return values

    @torch.no_grad()
    def history_contexts(self, times, magnitudes, ends) -> list[dict]:
        """The model's state after the first `e` events, for each `e` in `ends`, from one pass over the catalogue
        (what `simulate` starts from; the calibration benchmark simulates many windows of one catalogue)."""
        self.eval()
        times_t, output, inputs, _ = self._full(times, magnitudes)
        states = history_states(np.asarray(times, np.float64), np.asarray(magnitudes), self.config)
        contexts = []
        for e in ends:
            if not 1 <= e <= len(times):
                raise ValueError(f"a context needs 1 to {len(times)} history events, got {e}")
            contexts.append({"time": float(times_t[0, e - 1]), "magnitude": float(magnitudes[e - 1]),
                             "raw_states": np.expm1(states[e - 1].astype(np.float64)),
                             "output": output[0, e - 1], "inputs": inputs[0, e - 1]})  # fmt: skip
        return contexts

    @torch.no_grad()
    def simulate(self, history_times, history_magnitudes, start: float, end: float, *, num_simulations: int = 1000,
                 seed: int = 0, max_events: int = 10_000, context: dict | None = None,
                 truncate: bool = False):  # fmt: skip
        """`num_simulations` catalogues of `[start, end]` (days) after the history, event by event for all
        simulations at once: `(simulation, time, magnitude)` arrays. More than `max_events` events in one
        simulation raises `SimulationCapError`, or with `truncate=True` stops that simulation at `max_events` (a
        censored count, for calibration studies that must not fail on one runaway draw). `context` (from
        `history_contexts`) replaces the history pass."""
        if context is None:
            if len(history_times) < 1:
                raise ValueError("the neural point process needs at least one history event to simulate from")
            context = self.history_contexts(history_times, history_magnitudes, [len(history_times)])[0]
        self.eval()
        rng = np.random.default_rng(seed)
        n = int(num_simulations)
        last_t = np.full(n, context["time"])
        last_m = np.full(n, context["magnitude"])
        raw_states = np.repeat(context["raw_states"][None], n, axis=0)
        hidden = context["output"][None, None].repeat(1, n, 1).contiguous()  # one GRU layer: output == hidden
        out = context["output"][None].repeat(n, 1)
        inp = context["inputs"][None].repeat(n, 1)
        minimum = np.full(n, max(start - context["time"], 0.0))
        active = np.ones(n, bool)
        sims, times, mags, counts = [], [], [], np.zeros(n, int)
        scales = np.asarray(self.config.history_scales, np.float64)
        weights = np.asarray(self.config.magnitude_weights, np.float64)
        while active.any():
            log_weights, means, log_stds, beta = self._distribution(out, inp)
            gap = self._sample_gap(rng, (log_weights, means, log_stds), minimum)
            new_t = last_t + gap
            active &= new_t < end
            if not active.any():
                break
            new_m = self._sample_magnitudes(rng, beta.double().numpy())
            index = np.flatnonzero(active)
            sims.append(index)
            times.append(new_t[index])
            mags.append(new_m[index])
            counts[index] += 1
            if truncate:
                active &= counts < max_events
            elif counts.max() > max_events:
                raise SimulationCapError(f"a simulation produced more than max_events={max_events} events in "
                                         f"{end - start:g} days (raise max_events or shorten the window)")  # fmt: skip
            if len(scales):
                decay = np.exp(-gap[:, None] / scales[None, :])[:, :, None]
                gain = np.exp(np.outer(new_m - self.config.mc, weights))[:, None, :]
                raw_states = (raw_states.reshape(n, len(scales), len(weights)) * decay + gain).reshape(n, -1)
            states = torch.from_numpy(np.log1p(raw_states).astype(np.float32))[:, None]
            step_t = torch.from_numpy(np.stack([last_t, new_t], axis=1))
            step_m = torch.from_numpy(np.stack([last_m, new_m], axis=1).astype(np.float32))
            step_inputs = self._inputs(step_t, step_m, torch.cat([states, states], dim=1))[:, 1:]
            step_out, hidden = self.gru(step_inputs, hidden)
            out, inp = step_out[:, 0], step_inputs[:, 0]
            last_t, last_m, minimum = new_t, new_m, np.zeros(n)
        if not sims:
            empty = np.zeros(0)
            return empty.astype(int), empty, empty
        sims, times, mags = np.concatenate(sims), np.concatenate(times), np.concatenate(mags)
        order = np.lexsort((times, sims))
        return sims[order], times[order], mags[order]
