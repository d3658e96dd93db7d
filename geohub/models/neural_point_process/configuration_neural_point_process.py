"""Configuration of geohub's neural temporal point process for earthquake catalogues."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["NeuralPointProcessConfig"]


class NeuralPointProcessConfig(PretrainedConfig):
    """Configuration of `NeuralPointProcessForForecasting` (GRU + log-normal mixture of the next inter-event time,
    Shchur, Bilos & Guennemann 2020, with magnitudes as marks and multi-scale history states as inputs).

    Args:
        hidden_size (`int`, 32): GRU units.
        num_mixture (`int`, 8): log-normal components of the inter-event time density.
        history_scales (`list[float]`, `[0.01, 0.1, 1, 10, 100, 1000]`): time scales (days) of the history states
            `S(t_i) = sum_{j <= i} exp(a * (m_j - mc) - (t_i - t_j) / scale)`; empty: plain GRU (no states).
        magnitude_weights (`list[float]`, `[0.0, 2.0]`): the `a` of the history states (0: counts; about
            ln 10 * alpha-ish: magnitude-weighted, like ETAS productivity).
        mc (`float`, 1.0): magnitude of completeness; delta_m (`float`, 0.1): magnitude bin.
        max_magnitude (`float`, 8.0): largest magnitude simulations draw.
        log_tau_mean (`float`, 0.0), log_tau_std (`float`, 1.0): standardisation of log inter-event times (days),
            set from the training data.
        dropout (`float`, 0.0): dropout on the GRU output.
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
    """

    model_type = "geohub_neural_point_process"

    def __init__(self, hidden_size: int = 32, num_mixture: int = 8,
                 history_scales: list[float] | tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0),
                 magnitude_weights: list[float] | tuple[float, ...] = (0.0, 2.0), mc: float = 1.0,
                 delta_m: float = 0.1, max_magnitude: float = 8.0, log_tau_mean: float = 0.0,
                 log_tau_std: float = 1.0, dropout: float = 0.0, initializer_range: float = 0.02,
                 **kwargs):  # fmt: skip
        if hidden_size < 1 or num_mixture < 1:
            raise ValueError("hidden_size and num_mixture must be >= 1")
        history_scales = [float(s) for s in history_scales]
        if any(not s > 0 for s in history_scales):
            raise ValueError(f"history_scales must be > 0 days, got {history_scales}")
        if history_scales and not magnitude_weights:
            raise ValueError("magnitude_weights must not be empty when history_scales are given")
        if not log_tau_std > 0:
            raise ValueError("log_tau_std must be > 0")
        if max_magnitude <= mc:
            raise ValueError(f"max_magnitude ({max_magnitude}) must exceed mc ({mc})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.hidden_size, self.num_mixture = hidden_size, num_mixture
        self.history_scales = history_scales
        self.magnitude_weights = [float(a) for a in magnitude_weights]
        self.mc, self.delta_m, self.max_magnitude = mc, delta_m, max_magnitude
        self.log_tau_mean, self.log_tau_std = log_tau_mean, log_tau_std
        self.dropout, self.initializer_range = dropout, initializer_range
        super().__init__(**kwargs)

    @property
    def num_states(self) -> int:
        return len(self.history_scales) * len(self.magnitude_weights)
