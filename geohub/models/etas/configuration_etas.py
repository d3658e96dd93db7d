"""Configuration of geohub's temporal ETAS model (epidemic-type aftershock sequences, Ogata 1988)."""

from __future__ import annotations

import math

from transformers import PretrainedConfig

__all__ = ["EtasConfig"]


class EtasConfig(PretrainedConfig):
    """Configuration of `EtasForForecasting`: the starting values of the fit (the fitted values are the weights).

    Conditional intensity (events per day, times in days, magnitudes `m >= mc`):
    `lambda(t) = mu + sum_{t_j < t} k * exp(alpha * (m_j - mc)) * exp(-(t - t_j) / tau) / (t - t_j + c) ** (1 + omega)`
    (Omori-Utsu decay with an optional exponential taper, as in the EarthquakeNPP benchmark's ETAS), magnitudes
    Gutenberg-Richter: `m - mc ~ Exponential(beta)` (b-value `beta / ln 10`), truncated at `max_magnitude`.

    Args:
        mu (`float`, 1.0): background rate (events per day).
        k (`float`, 0.01): productivity of an event of magnitude `mc` (0 with `productivity=False`).
        alpha (`float`, 1.5): magnitude dependence of the productivity (per magnitude unit, natural log).
        c (`float`, 0.001): Omori-Utsu `c` (days).
        omega (`float`, 0.1): Omori-Utsu exponent minus one (`p = 1 + omega`).
        tau (`float`, 1000.0): taper time (days); `taper=False` removes the taper (pure Omori-Utsu, needs omega > 0).
        beta (`float`, ln 10): Gutenberg-Richter `beta` (b = 1 -> ln 10).
        mc (`float`, 1.0): magnitude of completeness of the training catalogue.
        delta_m (`float`, 0.1): magnitude bin of the catalogue (0: continuous magnitudes).
        max_magnitude (`float`, 8.0): largest magnitude simulations draw.
        productivity (`bool`, True): False gives the homogeneous Poisson baseline (no triggering).
        taper (`bool`, True): use the exponential taper `exp(-t / tau)`.
        quadrature_panels (`int`, 8): panels of the 8-point Gauss-Legendre rule that integrates the decay (relative
            error < 1e-10 against 96 panels for SanJac-like parameters).
    """

    model_type = "geohub_etas"

    def __init__(self, mu: float = 1.0, k: float = 0.01, alpha: float = 1.5, c: float = 0.001, omega: float = 0.1,
                 tau: float = 1000.0, beta: float = math.log(10.0), mc: float = 1.0, delta_m: float = 0.1,
                 max_magnitude: float = 8.0, productivity: bool = True, taper: bool = True,
                 quadrature_panels: int = 8, **kwargs):  # fmt: skip
        for name, value in (("mu", mu), ("c", c), ("tau", tau), ("beta", beta)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if k < 0 or delta_m < 0:
            raise ValueError("k and delta_m must be >= 0")
        if max_magnitude <= mc:
            raise ValueError(f"max_magnitude ({max_magnitude}) must exceed mc ({mc})")
        if quadrature_panels < 1:
            raise ValueError("quadrature_panels must be >= 1")
        if productivity and not taper and omega <= 0:
            raise ValueError("without the taper the Omori-Utsu exponent needs omega > 0 (p > 1)")
        self.mu, self.k, self.alpha, self.c, self.omega, self.tau = mu, k, alpha, c, omega, tau
        self.beta, self.mc, self.delta_m, self.max_magnitude = beta, mc, delta_m, max_magnitude
        self.productivity, self.taper, self.quadrature_panels = productivity, taper, quadrature_panels
        super().__init__(**kwargs)
