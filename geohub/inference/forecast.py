"""Scoring and forecasts for the catalogue families (`etas`, `neural_point_process`).

    from geohub.inference.forecast import log_likelihood, forecast
    log_likelihood(model, catalog, "2016-01-01", "2018-01-01", 1.0, auxiliary_start="2008-01-01")
    # -> {"temporal": 1.17, "n_events": 4399}
    forecast(model, catalog, start="2016-01-01", days=7, magnitude=3.0)

`log_likelihood` is the EarthquakeNPP benchmark's temporal score (Stockman, Lawson & Werner 2024): per target event,
times in days, every earlier event (from `auxiliary_start`) as conditioning, `(sum_i log lambda(t_i) - integral over
[start, end] of lambda) / n`. The integral runs over the whole window: that reproduces the benchmark's Poisson figure
exactly; the benchmark's ETAS script stops the integral at the last test event, which changes a score by
`integral from the last event to end / n` (about 1e-3 on SanJac).

A model's intensity is for events at or above its magnitude of completeness (`config.mc`). For ETAS a higher
`magnitude_threshold` thins the intensity by the Gutenberg-Richter share above it (all events >= mc still trigger);
the neural model only scores at its own `mc`.

`forecast` simulates `num_simulations` catalogues of the window (seeded; capped in simulations and events per
simulation: `MAX_SIMULATIONS`, `max_events`; and `num_simulations * max_events` within the memory budget,
`$GEOHUB_MEMORY_BUDGET_MB`, at `SIMULATED_EVENT_BYTES` per event, checked before anything is simulated) and reports, per magnitude threshold, the expected number of events,
a 95 % interval and the probability of at least one event.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.catalogs import EarthquakeCatalog, catalog_window, read_catalog, to_datetime64
from ..data.limits import check_memory
from ..errors import ConfigError, DataError

__all__ = ["load_forecaster", "log_likelihood", "forecast", "format_forecast", "simulate_window", "summarize_simulations", "MAX_SIMULATIONS",
           "MAX_EVENTS", "SIMULATED_EVENT_BYTES", "FORECAST_MODEL_TYPES"]  # fmt: skip

MAX_SIMULATIONS = 100_000
MAX_EVENTS = 100_000
#: Memory of one simulated event at the cap: simulation index, time and magnitude (8 bytes each) in the result, plus
#: the simulators' working copies (parents, offspring draws, concatenation and sort): about 64 bytes.
SIMULATED_EVENT_BYTES = 64


def _catalogue_model_types() -> tuple[str, ...]:
    """The model types of the families whose input is an earthquake catalogue (`input_type="catalog"`)."""
    from ..auto import families

    return tuple(sorted(f.model_type for f in families().values() if f.input_type == "catalog" and f.model_type))


FORECAST_MODEL_TYPES = _catalogue_model_types()  # from the families' declarations (ETAS, the neural point process)


def _catalogue_families() -> tuple[str, ...]:
    from ..auto import families

    return tuple(sorted(f.name for f in families().values() if f.input_type == "catalog"))


FORECAST_FAMILIES = _catalogue_families()


def load_forecaster(source):
    """A forecasting model (ETAS or the neural point process) from a folder or Hub repo id, in eval mode, through
    the one loader; a folder of another kind of model is a `HubError` naming it, before any weights are read."""
    from .loading import load_model_and_processor

    model, _ = load_model_and_processor(source, family=FORECAST_FAMILIES, processor=False)
    return model


def _check_model(model) -> None:
    if getattr(getattr(model, "config", None), "model_type", None) not in FORECAST_MODEL_TYPES:
        kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise ConfigError(f"model of type {kind!r} is not an earthquake forecasting model", field="model",
                          expected=f"one of {', '.join(FORECAST_MODEL_TYPES)}")  # fmt: skip


def _arrays(window):
    history_t, event_t, start, end = window.times_days()
    times = np.concatenate([history_t, event_t])
    magnitudes = np.concatenate([window.history.magnitudes, window.events.magnitudes])
    return times, magnitudes, len(history_t), float(start), float(end)


def log_likelihood(model, catalog, start, end, magnitude_threshold: float | None = None, *,
                   auxiliary_start=None) -> dict:  # fmt: skip
    """Temporal log-likelihood per event of the events in `[start, end)` (see the module docstring).

    Returns `{"temporal": float, "n_events": int}`."""
    _check_model(model)
    catalog = read_catalog(catalog)
    mc = float(model.config.mc)
    threshold = mc if magnitude_threshold is None else float(magnitude_threshold)
    if threshold < mc - 1e-9:
        raise ConfigError(f"magnitude_threshold {threshold} is below the model's magnitude of completeness {mc}",
                          field="magnitude_threshold", expected=f">= {mc}")  # fmt: skip
    window = catalog_window(catalog, start, end, auxiliary_start=auxiliary_start, magnitude_threshold=mc)
    times, magnitudes, first, start_d, end_d = _arrays(window)
    if threshold > mc + 1e-9:
        if not hasattr(model, "log_beta"):  # thinning needs a parametric Gutenberg-Richter beta (ETAS)
            raise ConfigError("the neural model scores only at its magnitude of completeness",
                              field="magnitude_threshold", expected=f"{mc}")  # fmt: skip
        total, n = _thinned_etas_log_likelihood(model, times, magnitudes, first, start_d, end_d, threshold)
    else:
        n = len(times) - first
        total = model.window_log_likelihood(times, magnitudes, first, start_d, end_d)
    if n == 0:
        raise DataError(f"no events at or above M{threshold} between {start} and {end}", field="magnitude_threshold")
    return {"temporal": total / n, "n_events": int(n)}


def _thinned_etas_log_likelihood(model, times, magnitudes, first, start, end, threshold):
    """ETAS for events >= threshold: intensity times the Gutenberg-Richter share `exp(-beta (threshold - mc'))`."""
    import torch

    beta = math.exp(float(model.log_beta.detach()))
    share = math.exp(-beta * (threshold - model.config.mc))
    with torch.no_grad():
        log_intensity, integral = model._terms(
            torch.as_tensor(times, dtype=torch.float64),
            torch.as_tensor(magnitudes, dtype=torch.float64),
            first,
            start,
            end,
        )
    above = magnitudes[first:] >= threshold - 1e-9
    total = float(log_intensity[torch.from_numpy(above)].sum()) + above.sum() * math.log(share)
    return total - share * float(integral), int(above.sum())


def simulate_window(model, catalog: EarthquakeCatalog, start, days: float, *, num_simulations: int = 1000,
                    seed: int = 0, max_events: int = 10_000, auxiliary_start=None) -> dict:  # fmt: skip
    """Simulated catalogues of `[start, start + days)` conditioned on every event before `start`.

    Returns `{"simulation": (K,), "time": (K,) days since start, "magnitude": (K,), "num_simulations": int,
    "observed": EarthquakeCatalog of the window (may be empty)}`."""
    _check_model(model)
    if not 1 <= int(num_simulations) <= MAX_SIMULATIONS:
        raise ConfigError(f"num_simulations {num_simulations} out of range", field="num_simulations",
                          expected=f"1 to {MAX_SIMULATIONS}")  # fmt: skip
    if not 1 <= int(max_events) <= MAX_EVENTS:
        raise ConfigError(f"max_events {max_events} out of range", field="max_events", expected=f"1 to {MAX_EVENTS}")
    check_memory(int(num_simulations) * int(max_events), "max_events", SIMULATED_EVENT_BYTES,
                 what="simulated events (num_simulations x max_events)")  # fmt: skip
    if not 0 < float(days) <= 3650:
        raise ConfigError(f"days {days} out of range", field="days", expected="0 < days <= 3650")
    catalog = read_catalog(catalog)
    start = to_datetime64(start, field="start")
    end = start + np.timedelta64(int(round(float(days) * 86_400_000)), "ms")
    window = catalog_window(catalog, start, end, auxiliary_start=auxiliary_start, magnitude_threshold=model.config.mc,
                            allow_empty=True)  # fmt: skip
    if not len(window.history):
        raise DataError(f"no events before {start} to condition the forecast on", path=catalog.source, field="start")
    history_t, _, start_d, end_d = window.times_days()
    from ..models.etas.modeling_etas import SimulationCapError
    from ..models.neural_point_process.modeling_neural_point_process import SimulationCapError as NeuralCapError

    try:
        sims, times, mags = model.simulate(history_t, window.history.magnitudes, float(start_d), float(end_d),
                                           num_simulations=int(num_simulations), seed=int(seed),
                                           max_events=int(max_events))  # fmt: skip
    except (SimulationCapError, NeuralCapError) as err:  # each family carries its own class (remote code)
        raise DataError(str(err), field="max_events", expected="a larger cap or a shorter window") from None
    return {"simulation": sims, "time": times - start_d, "magnitude": mags, "num_simulations": int(num_simulations),
            "observed": window.events}  # fmt: skip


def summarize_simulations(simulated: dict, magnitudes, magnitude: float) -> dict:
    """Per threshold in `magnitudes`: expected count, 95 % interval (2.5 and 97.5 percentiles of the simulated
    counts) and P(at least one); plus P(at least one >= `magnitude`)."""
    n = simulated["num_simulations"]
    rows = []
    for threshold in sorted(set(float(m) for m in magnitudes) | {float(magnitude)}):
        counts = np.bincount(simulated["simulation"][simulated["magnitude"] >= threshold - 1e-9], minlength=n)
        low, high = np.percentile(counts, [2.5, 97.5])
        rows.append({"magnitude": round(threshold, 3), "expected": float(counts.mean()), "low_95": float(low),
                     "high_95": float(high), "probability_at_least_one": float((counts > 0).mean())})  # fmt: skip
    chosen = next(r for r in rows if abs(r["magnitude"] - float(magnitude)) < 1e-9)
    return {"thresholds": rows, "magnitude": float(magnitude),
            "probability_at_least_one": chosen["probability_at_least_one"]}  # fmt: skip


def forecast(model, catalog, *, start, days: float = 7.0, magnitude: float | None = None,
             magnitudes=None, num_simulations: int = 1000, seed: int = 0, max_events: int = 10_000,
             auxiliary_start=None, keep_simulations: bool = False) -> dict:  # fmt: skip
    """The forecast for `[start, start + days)`: expected number of events above each magnitude (default: mc, mc+1,
    ... up to 6) with a 95 % interval from `num_simulations` seeded simulations, and P(at least one >= `magnitude`,
    default mc + 2). Also the observed counts when the catalogue covers the window. `keep_simulations`: the result's
    "simulated" holds `simulate_window`'s arrays (for plots; not JSON)."""
    catalog = read_catalog(catalog)
    mc = float(model.config.mc)
    magnitude = mc + 2.0 if magnitude is None else float(magnitude)
    if magnitude < mc - 1e-9:
        raise ConfigError(f"magnitude {magnitude} is below the model's magnitude of completeness {mc}",
                          field="magnitude", expected=f">= {mc}")  # fmt: skip
    if magnitudes is None:
        magnitudes = [mc + k for k in range(0, 6) if mc + k <= 6.0 + 1e-9]
    simulated = simulate_window(model, catalog, start, days, num_simulations=num_simulations, seed=seed,
                                max_events=max_events, auxiliary_start=auxiliary_start)  # fmt: skip
    summary = summarize_simulations(simulated, magnitudes, magnitude)
    observed = simulated["observed"]
    for row in summary["thresholds"]:
        row["observed"] = int((observed.magnitudes >= row["magnitude"] - 1e-9).sum())
    start_time = to_datetime64(start)
    result = {"start": str(start_time), "days": float(days), "num_simulations": int(num_simulations),
              "seed": int(seed), **summary}  # fmt: skip
    if keep_simulations:
        result["simulated"] = simulated
    return result


def format_forecast(result: dict) -> str:
    """The forecast as a table (what `geohub forecast` prints)."""
    lines = [f"Forecast {result['start']} + {result['days']:g} days ({result['num_simulations']} simulations, "
             f"seed {result['seed']})",
             f"{'magnitude':>10} {'expected':>10} {'95% interval':>16} {'P(>=1)':>8} {'observed':>9}"]  # fmt: skip
    for row in result["thresholds"]:
        interval = f"{row['low_95']:g}-{row['high_95']:g}"
        lines.append(f"{'>= ' + format(row['magnitude'], 'g'):>10} {row['expected']:>10.2f} {interval:>16} "
                     f"{row['probability_at_least_one']:>8.3f} {row['observed']:>9d}")  # fmt: skip
    lines.append(f"P(at least one M >= {result['magnitude']:g}) = {result['probability_at_least_one']:.3f}")
    return "\n".join(lines)
