"""The `earthquake-forecasting` pipeline (ETAS and the neural point process), on `geohub.inference.forecast`.

    from transformers import pipeline
    import geohub  # registers the task

    forecaster = pipeline("earthquake-forecasting", model="path/to/etas_or_npp")
    forecaster("catalog.csv", start="2016-01-01", days=7, magnitude=3.0)   # or a QuakeML file, an ObsPy Catalog
    # -> {"start", "days", "num_simulations", "seed", "magnitude", "probability_at_least_one",
    #     "thresholds": [{"magnitude", "expected", "low_95", "high_95", "probability_at_least_one", "observed"}]}

The result is the one `geohub forecast` prints (same function, same seed). `num_simulations` (default 1000,
at most `MAX_SIMULATIONS`), `seed` (0), `max_events` (per simulation, default 10,000) bound the simulation;
`auxiliary_start` drops conditioning events before it. A list of catalogues gives a list of results.
"""

from __future__ import annotations

from transformers.pipelines.base import Pipeline

from ..data.catalogs import read_catalog
from ..errors import ConfigError
from ..inference.forecast import forecast

__all__ = ["EarthquakeForecastingPipeline"]

_OPTIONS = ("start", "days", "magnitude", "magnitudes", "num_simulations", "seed", "max_events", "auxiliary_start")


class EarthquakeForecastingPipeline(Pipeline):
    """Task "earthquake-forecasting": simulated counts above each magnitude in a window after `start`."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def _sanitize_parameters(self, **kwargs):
        unknown = sorted(set(kwargs) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}", field=unknown[0],
                              expected=f"some of {', '.join(_OPTIONS)}")  # fmt: skip
        return {}, {}, dict(kwargs)

    def preprocess(self, inputs):
        return {"catalog": read_catalog(inputs)}

    def _forward(self, model_inputs):
        return model_inputs

    def postprocess(self, model_outputs, **options):
        if "start" not in options:
            raise ConfigError("the forecast needs a start time", field="start", expected="e.g. start='2016-01-01'")
        return forecast(self.model, model_outputs["catalog"], **options)
