"""geohub's temporal ETAS model (Ogata 1988) as a `PreTrainedModel`: the fitted parameters are its weights.

Every forecasting family offers the same three methods (used by `geohub.inference.forecast`):

- `window_log_likelihood(times, magnitudes, first_target, start, end)`: the temporal log-likelihood of the events
  `times[first_target:]` (days) in the window `[start, end]` given all earlier events, summed: `sum log lambda(t_i)
  - integral_start^end lambda`;
- `simulate(history_times, history_magnitudes, start, end, num_simulations, seed, max_events)`: catalogues of the
  window drawn from the model, as `(simulation index, time, magnitude)` arrays;
- `fit(...)` (ETAS) or the Trainer task (neural families).

Fitting is direct maximum likelihood (L-BFGS on log-parameters with exact gradients from torch), the integral of the
tapered Omori-Utsu decay by a composite Gauss-Legendre rule in `log(t + c)` (closed forms need incomplete gamma
functions of negative order). The magnitude part (Gutenberg-Richter `beta`) is the Aki-Utsu estimate with the
binning correction; it does not enter the temporal likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers.utils import ModelOutput

from .configuration_etas import EtasConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = ["EtasForForecasting", "EtasPreTrainedModel", "EtasOutput", "decay_integral", "SimulationCapError"]

_PAIRS_PER_CHUNK = 262_144  # small enough to stay in cache: ~1.6x faster than 4M
_NODES, _WEIGHTS = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(8))


class SimulationCapError(ValueError):
    """A simulation went past its cap on events (a supercritical or very productive model, or too long a window)."""


@dataclass
class EtasOutput(ModelOutput):
    """Output of `EtasForForecasting.forward`.

    Args:
        loss: scalar, negative temporal log-likelihood per target event.
        log_intensity: `(N_targets,)` log conditional intensity (per day) at each target event.
        integral: scalar, the intensity integrated over the window (expected number of events).
    """

    loss: torch.Tensor | None = None
    log_intensity: torch.Tensor | None = None
    integral: torch.Tensor | None = None


def _log_chunk(rate: torch.Tensor, chunk_callback) -> torch.Tensor:
    """`log(rate)` of one chunk of targets; with `chunk_callback`, its sum is handed over (to backpropagate the chunk
    alone) and the chunk is returned detached."""
    chunk = torch.log(rate)
    if chunk_callback is None:
        return chunk
    chunk_callback(chunk.sum())
    return chunk.detach()


def decay_integral(x: torch.Tensor, log_c: torch.Tensor, omega: torch.Tensor, log_tau: torch.Tensor | None,
                   panels: int = 24) -> torch.Tensor:  # fmt: skip
    """`G(x) = integral_0^x exp(-s / tau) / (s + c) ** (1 + omega) ds` for `x >= 0` (days), differentiable in the
    parameters (`log_tau=None`: no taper). Substituting `u = log(s + c)` makes the integrand smooth in `u`."""
    x = torch.clamp(x, min=0.0)
    c = torch.exp(log_c)
    low, high = log_c.expand_as(x), torch.log(x + c)
    edges = torch.linspace(0.0, 1.0, panels + 1, dtype=x.dtype)
    width = (high - low)[..., None] / panels  # (..., 1)
    centres = low[..., None] + width * (edges[:-1] + edges[1:]) / 2 * panels  # (..., panels)
    u = centres[..., None] + (width / 2)[..., None] * _NODES.to(x.dtype)  # (..., panels, nodes)
    integrand = torch.exp(-omega * u)
    if log_tau is not None:
        integrand = integrand * torch.exp(-(torch.exp(u) - c) / torch.exp(log_tau))
    return (integrand * _WEIGHTS.to(x.dtype)).sum(dim=(-1, -2)) * width[..., 0] / 2


class EtasPreTrainedModel(GeoPreTrainedModel):
    config_class = EtasConfig
    base_model_prefix = "etas"
    main_input_name = "times"
    _no_split_modules = ["EtasForForecasting"]

    def _init_weights(self, module: nn.Module) -> None:
        """The parameters start at the configuration's values (set in `__init__`): nothing to draw."""


class EtasForForecasting(EtasPreTrainedModel):
    """Temporal ETAS (see `EtasConfig` for the intensity). Parameters (float64, the saved weights): `log_mu`,
    `log_k`, `alpha`, `log_c`, `omega`, `log_tau`, `log_beta`."""

    def __init__(self, config: EtasConfig):
        super().__init__(config)

        def parameter(value: float) -> nn.Parameter:
            return nn.Parameter(torch.tensor(float(value), dtype=torch.float64))

        self.log_mu = parameter(math.log(config.mu))
        self.log_k = parameter(math.log(max(config.k, 1e-300)))
        self.alpha = parameter(config.alpha)
        self.log_c = parameter(math.log(config.c))
        self.omega = parameter(config.omega)
        self.log_tau = parameter(math.log(config.tau))
        self.log_beta = parameter(math.log(config.beta))
        self.post_init()

    # ----- intensity -------------------------------------------------------------------------------------------
    def _log_tau(self):
        return self.log_tau if self.config.taper else None

    def _integral(self, x: torch.Tensor) -> torch.Tensor:
        return decay_integral(x, self.log_c, self.omega, self._log_tau(), self.config.quadrature_panels)

    def _log_weights(self, magnitudes: torch.Tensor) -> torch.Tensor:
        return self.log_k + self.alpha * (magnitudes - self.config.mc)

    def _triggered(self, targets, sources, source_magnitudes, mask):
        """Summed triggered rate at each target from `sources` (`mask[i, j]`: source j precedes target i)."""
        lag = (targets[:, None] - sources[None, :]).float()
        if mask is not None:
            lag = torch.where(mask, lag, torch.ones_like(lag))
        log_g = -(1 + self.omega.float()) * torch.log(lag + torch.exp(self.log_c.float()))
        if self.config.taper:
            log_g = log_g - lag / torch.exp(self.log_tau.float())
        contribution = torch.exp(log_g + self._log_weights(source_magnitudes).float()[None, :])
        if mask is not None:
            contribution = contribution * mask
        return contribution.sum(dim=1, dtype=torch.float64)

    def _terms(self, times: torch.Tensor, magnitudes: torch.Tensor, first_target: int, start: float, end: float,
               chunk_callback=None, far_field: tuple[float, float] | None = None):  # fmt: skip
        """(log intensity at each target, integral over [start, end]); `chunk_callback(partial)` (fitting) receives
        each chunk's summed log-intensity so that it can backpropagate chunk by chunk. `far_field=(near_days,
        grid_days)`: the fit's faster approximation (`_far_field_terms`); None: exact."""
        mu = torch.exp(self.log_mu)
        sources = times < end
        integral = mu * (end - start)
        if self.config.productivity and sources.any():
            t_src, w_src = times[sources], torch.exp(self._log_weights(magnitudes[sources]))
            g_end = self._integral(end - t_src)
            g_start = self._integral(start - t_src)
            integral = integral + (w_src * (g_end - g_start)).sum()
        if far_field is not None and self.config.productivity:
            return self._far_field_terms(times, magnitudes, first_target, start, far_field, chunk_callback), integral
        log_intensity = []
        n = len(times)
        step = max(1, _PAIRS_PER_CHUNK // max(n, 1))
        for a in range(first_target, n, step):
            b = min(a + step, n)
            rate = torch.exp(self.log_mu).expand(b - a)  # a fresh node per chunk: each chunk backpropagates alone
            if self.config.productivity and a > 0:
                # pairs in float32 (lags are differenced in float64 first): half the time of float64, and the
                # kernel is smooth where float32 rounds a lag (at long lags); rows are summed in float64
                rate = rate + self._triggered(times[a:b], times[:a], magnitudes[:a], None)
                mask = torch.arange(a, b)[None, :] < torch.arange(a, b)[:, None]
                rate = rate + self._triggered(times[a:b], times[a:b], magnitudes[a:b], mask)
            log_intensity.append(_log_chunk(rate, chunk_callback))
        return torch.cat(log_intensity) if log_intensity else times.new_zeros(0), integral

    def _far_field_terms(self, times, magnitudes, first_target: int, start: float, far_field, chunk_callback):
        """Log intensity at the targets with sources older than `near_days` before each `grid_days` interval taken
        together: their summed rate is smooth in time, so it is computed at the interval's two ends and
        interpolated linearly (relative error about `grid_days**2 / (8 near_days**2) * p (p + 1)` of that part,
        < 1e-3 for the defaults); younger sources are summed exactly. About 4x fewer pairs on SanJac."""
        near_days, grid_days = far_field
        log_intensity = []
        targets = times[first_target:]
        if not len(targets):
            return times.new_zeros(0)
        cells = torch.floor((targets - start) / grid_days).long()
        bounds = torch.searchsorted(cells, torch.unique(cells), right=False).tolist() + [len(targets)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            a, b = first_target + lo, first_target + hi
            left = start + float(cells[lo]) * grid_days
            far = int(torch.searchsorted(times, torch.tensor(left - near_days, dtype=times.dtype)))
            rate = torch.exp(self.log_mu).expand(b - a)
            if far > 0:
                ends = torch.tensor([left, left + grid_days], dtype=times.dtype)
                f0, f1 = self._triggered(ends, times[:far], magnitudes[:far], None).unbind()
                rate = rate + f0 + (f1 - f0) * (times[a:b] - left) / grid_days
            if b > far:
                mask = torch.arange(far, b)[None, :] < torch.arange(a, b)[:, None]
                rate = rate + self._triggered(times[a:b], times[far:b], magnitudes[far:b], mask)
            log_intensity.append(_log_chunk(rate, chunk_callback))
        return torch.cat(log_intensity)

    def forward(self, times: torch.Tensor, magnitudes: torch.Tensor, first_target: int = 0, start: float | None = None,
                end: float | None = None) -> EtasOutput:  # fmt: skip
        """times `(N,)` days (sorted, float64), magnitudes `(N,)`; targets are `times[first_target:]` in
        `[start, end]` (defaults: the first target's time and the last event's)."""
        times, magnitudes = times.to(torch.float64), magnitudes.to(torch.float64)
        start = float(times[first_target]) if start is None else float(start)
        end = float(times[-1]) if end is None else float(end)
        log_intensity, integral = self._terms(times, magnitudes, first_target, start, end)
        n = max(len(log_intensity), 1)
        return EtasOutput(loss=-(log_intensity.sum() - integral) / n, log_intensity=log_intensity, integral=integral)

    @torch.no_grad()
    def window_log_likelihood(self, times, magnitudes, first_target: int, start: float, end: float) -> float:
        """Summed temporal log-likelihood of `times[first_target:]` in `[start, end]` (see the module docstring)."""
        log_intensity, integral = self._terms(torch.as_tensor(times, dtype=torch.float64),
                                              torch.as_tensor(magnitudes, dtype=torch.float64), first_target,
                                              float(start), float(end))  # fmt: skip
        return float(log_intensity.sum() - integral)

    # ----- fitting ---------------------------------------------------------------------------------------------
    def fit(self, times, magnitudes, first_target: int, start: float, end: float, *, max_iterations: int = 200,
            tolerance: float = 1e-9, log=None, far_field: tuple[float, float] | None = None) -> dict:  # fmt: skip
        """Maximum-likelihood fit on the targets `times[first_target:]` of `[start, end]` (earlier events condition);
        returns `{"log_likelihood": per target event (exact), "iterations": n}`. `beta` is set by Aki-Utsu first.
        `far_field=(near_days, grid_days)` optimises the faster approximate likelihood (`_far_field_terms`)."""
        times = torch.as_tensor(times, dtype=torch.float64)
        magnitudes = torch.as_tensor(magnitudes, dtype=torch.float64)
        targets = magnitudes[first_target:]
        if len(targets) < 2:
            raise ValueError("fitting ETAS needs at least 2 target events")
        with torch.no_grad():
            self.log_beta.fill_(math.log(aki_utsu_beta(targets.numpy(), self.config.mc, self.config.delta_m)))
        n = len(targets)
        if not self.config.productivity:  # homogeneous Poisson: the MLE is the count over the duration
            with torch.no_grad():
                self.log_mu.fill_(math.log(n / (end - start)))
            return {"log_likelihood": self.window_log_likelihood(times, magnitudes, first_target, start, end) / n,
                    "iterations": 0}  # fmt: skip
        parameters = [self.log_mu, self.log_k, self.alpha, self.log_c, self.omega]
        if self.config.taper:
            parameters.append(self.log_tau)
        optimizer = torch.optim.LBFGS(parameters, lr=1.0, max_iter=max_iterations, tolerance_grad=1e-7,
                                      tolerance_change=tolerance, history_size=20, line_search_fn="strong_wolfe")  # fmt: skip
        evaluations = [0]

        def closure():
            optimizer.zero_grad()
            total = [0.0]

            def backward(partial):
                (-partial / n).backward()
                total[0] += float(partial.detach())

            _, integral = self._terms(
                times, magnitudes, first_target, start, end, chunk_callback=backward, far_field=far_field
            )
            (integral / n).backward()
            loss = -(total[0] - float(integral.detach())) / n
            evaluations[0] += 1
            if log is not None:
                log(f"ETAS fit evaluation {evaluations[0]}: log-likelihood per event {-loss:.6f}")
            return torch.tensor(loss, dtype=torch.float64)

        optimizer.step(closure)
        return {"log_likelihood": self.window_log_likelihood(times, magnitudes, first_target, start, end) / n,
                "iterations": evaluations[0]}  # fmt: skip

    def parameters_dict(self) -> dict[str, float]:
        """The fitted parameters in natural units (mu per day, c and tau in days, b-value)."""
        p = {name: float(value.detach()) for name, value in self.named_parameters()}
        values = {"mu": math.exp(p["log_mu"]), "k": math.exp(p["log_k"]), "alpha": p["alpha"],
                  "c": math.exp(p["log_c"]), "p": 1 + p["omega"], "beta": math.exp(p["log_beta"])}  # fmt: skip
        values["b_value"] = values["beta"] / math.log(10)
        if self.config.taper:
            values["tau"] = math.exp(p["log_tau"])
        if not self.config.productivity:
            values["k"] = 0.0
        return values

    # ----- simulation ------------------------------------------------------------------------------------------
    def sample_magnitudes(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Gutenberg-Richter magnitudes >= mc (binned to `delta_m`), truncated at `max_magnitude`."""
        config, beta = self.config, math.exp(float(self.log_beta))
        low = config.mc - config.delta_m / 2
        span = 1.0 - math.exp(-beta * (config.max_magnitude - low))
        values = low - np.log1p(-rng.random(size) * span) / beta
        if config.delta_m > 0:
            values = np.maximum(np.floor(values / config.delta_m + 0.5 + 1e-9) * config.delta_m, config.mc)
        return values

    @torch.no_grad()
    def _decay_table(self, longest: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([[0.0], np.logspace(-9, math.log10(max(longest, 1e-6)) + 0.01, 3000)])
        return x, self._integral(torch.from_numpy(x)).numpy()

    def _children(self, rng, parent_times, parent_mags, start, end, table):
        """Direct offspring in [start, end] of each parent: (parent index, time)."""
        x, g = table
        log_k, alpha = float(self.log_k), float(self.alpha)
        weights = np.exp(log_k + alpha * (parent_mags - self.config.mc))
        low = np.interp(np.clip(start - parent_times, 0, None), x, g)
        high = np.interp(end - parent_times, x, g)
        counts = rng.poisson(weights * np.clip(high - low, 0, None))
        parents = np.repeat(np.arange(len(parent_times)), counts)
        u = rng.uniform(low[parents], high[parents])
        return parents, parent_times[parents] + np.interp(u, g, x)

    @torch.no_grad()
    def simulate(self, history_times, history_magnitudes, start: float, end: float, *, num_simulations: int = 1000,
                 seed: int = 0, max_events: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """`num_simulations` catalogues of `[start, end]` (days) given the history: `(simulation, time, magnitude)`
        arrays sorted by simulation then time. A simulation with more than `max_events` events raises
        `SimulationCapError` (checked generation by generation, before memory grows further)."""
        rng = np.random.default_rng(seed)
        history_times = np.asarray(history_times, dtype=np.float64)
        history_magnitudes = np.asarray(history_magnitudes, dtype=np.float64)
        table = self._decay_table(end - min(start, history_times.min() if len(history_times) else start))
        counts = rng.poisson(math.exp(float(self.log_mu)) * (end - start), size=num_simulations)
        sims = [np.repeat(np.arange(num_simulations), counts)]
        times = [rng.uniform(start, end, size=counts.sum())]
        if self.config.productivity and len(history_times):
            # the history's offspring in the window: a Poisson number per simulation (total expected count), each
            # assigned to a parent in proportion to its expected offspring (superposed Poisson processes)
            x, g = table
            weights = np.exp(float(self.log_k) + float(self.alpha) * (history_magnitudes - self.config.mc))
            low = np.interp(np.clip(start - history_times, 0, None), x, g)
            high = np.interp(end - history_times, x, g)
            expected = weights * np.clip(high - low, 0, None)
            counts = rng.poisson(expected.sum(), size=num_simulations)
            if counts.sum():
                parents = rng.choice(len(expected), size=counts.sum(), p=expected / expected.sum())
                u = rng.uniform(low[parents], high[parents])
                sims.append(np.repeat(np.arange(num_simulations), counts))
                times.append(history_times[parents] + np.interp(u, g, x))
        sims, times = np.concatenate(sims), np.concatenate(times)
        mags = self.sample_magnitudes(rng, len(times))
        all_sims, all_times, all_mags = [sims], [times], [mags]
        total = np.bincount(sims, minlength=num_simulations)
        while self.config.productivity and len(times):
            if total.max() > max_events:
                break
            parents, times = self._children(rng, times, mags, start, end, table)
            sims = sims[parents]
            mags = self.sample_magnitudes(rng, len(times))
            all_sims.append(sims)
            all_times.append(times)
            all_mags.append(mags)
            total += np.bincount(sims, minlength=num_simulations)
        if total.max() > max_events:
            raise SimulationCapError(
                f"a simulation produced more than max_events={max_events} events in {end - start:g} days "
                "(raise max_events, shorten the window, or check the model's branching ratio)"
            )
        sims, times, mags = (np.concatenate(a) for a in (all_sims, all_times, all_mags))
        order = np.lexsort((times, sims))
        return sims[order], times[order], mags[order]


def aki_utsu_beta(magnitudes: np.ndarray, mc: float, delta_m: float) -> float:
    """Maximum-likelihood Gutenberg-Richter `beta` with the binning correction (Aki 1965, Utsu 1966)."""
    excess = float(np.mean(magnitudes)) - (mc - delta_m / 2)
    if not excess > 0:
        raise ValueError("magnitudes must lie above mc - delta_m / 2 to estimate the b-value")
    return 1.0 / excess
