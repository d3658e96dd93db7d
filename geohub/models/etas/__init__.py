"""Temporal ETAS (epidemic-type aftershock sequences): the reference model of operational earthquake forecasting."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_etas": ["EtasConfig"],
        ".modeling_etas": ["EtasForForecasting", "EtasPreTrainedModel"],
    },
)

__all__ = ["EtasConfig", "EtasForForecasting", "EtasPreTrainedModel"]
