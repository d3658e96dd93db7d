"""Neural temporal point process for earthquake catalogues (GRU + log-normal mixture, magnitudes as marks)."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_neural_point_process": ["NeuralPointProcessConfig"],
        ".modeling_neural_point_process": ["NeuralPointProcessForForecasting", "history_states"],
    },
)

__all__ = ["NeuralPointProcessConfig", "NeuralPointProcessForForecasting", "history_states"]
