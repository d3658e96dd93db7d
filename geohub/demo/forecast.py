"""The demo's Forecast tab (issue #23): an earthquake catalogue's cumulative count with the forecast's 95 % band,
its magnitude-time plot, and the forecast table (expected counts per magnitude with 95 % intervals, P(at least one
event >= M0)), for an uploaded catalogue (CSV or QuakeML) or the bundled one.

The catalogue families declare this tab (`DemoDecl(tab="geohub.demo.forecast:build_tab")` in
`geohub/models/etas/family.py`); the demo builds it through `geohub.demo.app`'s family-tab hook. The model is the
slot's (`GEOHUB_FORECAST_MODEL` / `--forecast-model`: an ETAS or neural point process folder or Hub id; by default
the ETAS fitted on the SanJac catalogue shipped with geohub).

The bundled catalogue is SYNTHETIC: one seeded year simulated from the shipped ETAS default (`bundled_catalog()`),
not real events (the real SanJac file in `../shared/data` is never copied into geohub). Uploads are checked like the
other tabs' (`DemoLimits.max_upload_bytes`, compressed sizes) and capped at `MAX_CATALOG_EVENTS` events before any
simulation; the simulation is capped at `MAX_DEMO_SIMULATIONS` simulations of at most `MAX_DEMO_EVENTS` events each
(within the memory budget, `geohub.data.limits.check_memory`) and windows of `MAX_DEMO_DAYS` days. Measured peak
RSS growth of one request (in process, after a warm-up; shared machine): 1,000 simulations of 90 days after the
bundled year 57 MB (1.1 s), a 199,000-event 5.6 MB upload 62 MB (1.0 s); a 330,000-event upload is refused after
reading (97 MB): all under the demo's 512 MB per-request ceiling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError, DataError, HubError

__all__ = ["API_NAMES", "build_tab", "forecast_earthquakes", "bundled_catalog", "FORECAST_COLUMNS", "BUNDLED_START",
           "MAX_CATALOG_EVENTS", "MAX_DEMO_SIMULATIONS", "MAX_DEMO_EVENTS", "MAX_DEMO_DAYS"]  # fmt: skip

SLOT = "earthquake_forecasting"
API_NAMES = {
    "forecast_earthquakes": "catalogue (.csv/QuakeML file; none: the bundled synthetic one), start (UTC; empty: after "
    "the last event), days, M0, simulations, seed -> cumulative count with the 95 % band and magnitude-time picture, "
    "forecast table, summary",
}
FORECAST_COLUMNS = ["magnitude >=", "expected", "95% low", "95% high", "P(at least one)", "observed"]
MAX_CATALOG_EVENTS = 200_000
MAX_DEMO_SIMULATIONS = 1000
MAX_DEMO_EVENTS = 5_000  # per simulated window: 1000 x 5000 x 64 bytes = 320 MB at most, under the 512 MB ceiling
MAX_DEMO_DAYS = 90.0  # a longer window at 1000 simulations of the bundled year can pass MAX_DEMO_EVENTS
BUNDLED_ORIGIN = "2020-01-01"
BUNDLED_DAYS = 365.0
BUNDLED_SEED = 2020
BUNDLED_START = "2020-10-01"


@functools.lru_cache(maxsize=1)
def bundled_catalog():
    """A synthetic year (from 2020-01-01) simulated from the shipped ETAS default, seed 2020: labelled synthetic."""
    from ..data.catalogs import EarthquakeCatalog
    from ..defaults import default_model_path
    from ..inference.forecast import load_forecaster

    model = load_forecaster(default_model_path("etas"))
    _, days, magnitudes = model.simulate([], [], 0.0, BUNDLED_DAYS, num_simulations=1, seed=BUNDLED_SEED,
                                         max_events=50_000)  # fmt: skip
    times = np.datetime64(BUNDLED_ORIGIN, "ms") + np.round(np.asarray(days) * 86_400_000).astype("timedelta64[ms]")
    keep = np.concatenate([[True], np.diff(times) > np.timedelta64(0, "ms")])  # the catalogue needs distinct times
    nan = np.full(int(keep.sum()), np.nan)
    return EarthquakeCatalog(times[keep], np.round(np.asarray(magnitudes)[keep], 1), nan, nan, nan.copy(),
                             source="bundled synthetic catalogue (simulated from the shipped ETAS, seed 2020)")  # fmt: skip


def _read_upload(path: str, limits):
    from ..data.catalogs import read_catalog
    from .handlers import check_upload

    catalog = read_catalog(check_upload(path, limits, "catalogue file"))
    if len(catalog) > MAX_CATALOG_EVENTS:
        raise DataError(f"the uploaded catalogue has {len(catalog):,} events, over the demo's limit of "
                        f"{MAX_CATALOG_EVENTS:,}", path=path, expected="a shorter or higher-magnitude catalogue")  # fmt: skip
    return catalog


def _settings(start, days, magnitude, num_simulations, seed, catalog):
    """Checked (start, days, magnitude, num_simulations, seed); an empty start is the day after the last event."""
    from ..data.catalogs import to_datetime64

    try:
        days, simulations, seed = float(days), int(num_simulations), int(seed)
        magnitude = None if magnitude in (None, "") else float(magnitude)
    except (TypeError, ValueError):
        raise ConfigError("days, M0, simulations and seed must be numbers", field="days") from None
    if not 0 < days <= MAX_DEMO_DAYS:
        raise ConfigError(f"days {days:g} out of range", field="days", expected=f"0 < days <= {MAX_DEMO_DAYS:g}")
    if not 1 <= simulations <= MAX_DEMO_SIMULATIONS:
        raise ConfigError(f"simulations {simulations} out of range", field="num_simulations",
                          expected=f"1 to {MAX_DEMO_SIMULATIONS}")  # fmt: skip
    if start is None or not str(start).strip():
        last = catalog.times[-1].astype("datetime64[D]") + np.timedelta64(1, "D")
        start = to_datetime64(str(last), field="start")
    else:
        start = to_datetime64(str(start).strip(), field="start")
    return start, days, magnitude, simulations, seed


def forecast_earthquakes(models, limits, upload, start, days, magnitude, num_simulations, seed):
    """The Forecast tab: (picture, table rows, summary Markdown)."""
    from ..inference.forecast import FORECAST_MODEL_TYPES, forecast

    model = models.get(SLOT)[0]
    if getattr(model.config, "model_type", None) not in FORECAST_MODEL_TYPES:
        raise HubError(f"the forecast slot holds a {model.config.model_type} model, not a catalogue forecaster",
                       field="GEOHUB_FORECAST_MODEL", expected="an ETAS or neural point process model")  # fmt: skip
    catalog = _read_upload(upload, limits) if upload else bundled_catalog()
    start, days, magnitude, simulations, seed = _settings(start, days, magnitude, num_simulations, seed, catalog)
    result = forecast(model, catalog, start=start, days=days, magnitude=magnitude, num_simulations=simulations,
                      seed=seed, max_events=MAX_DEMO_EVENTS, keep_simulations=True)  # fmt: skip
    simulated = result.pop("simulated")
    rows = [[f"{r['magnitude']:g}", round(r["expected"], 3), round(r["low_95"], 2), round(r["high_95"], 2),
             round(r["probability_at_least_one"], 3), r["observed"]] for r in result["thresholds"]]  # fmt: skip
    picture = _forecast_picture(catalog, simulated, start, days, float(model.config.mc))
    return picture, rows, _summary(result, catalog, model, upload is None or not upload, start)


def _summary(result: dict, catalog, model, bundled: bool, start) -> str:
    name = "the bundled **synthetic** catalogue (simulated from the shipped ETAS, seed 2020; not real events)"
    where = name if bundled else "the uploaded catalogue"
    first, last = (str(t.astype("datetime64[s]")).replace("T", " ") for t in catalog.span)
    base = result["thresholds"][0]
    covered = catalog.times[-1] >= start + np.timedelta64(int(result["days"] * 86_400_000), "ms")
    observed = (f" Observed in the window: {base['observed']} (M >= {base['magnitude']:g})."
                if covered else " The catalogue ends before the window does: observed counts are partial.")  # fmt: skip
    return (f"**{model.config.model_type.removeprefix('geohub_')}** forecast for {result['start']} + "
            f"{result['days']:g} days from {where}: {len(catalog):,} events, {first} to {last}. "
            f"Expected M >= {base['magnitude']:g}: {base['expected']:.1f} (95 %: {base['low_95']:.4g}-"
            f"{base['high_95']:.4g}). P(at least one M >= {result['magnitude']:g}) = "
            f"{result['probability_at_least_one']:.3f} from {result['num_simulations']} simulations (seed "
            f"{result['seed']}).{observed}")  # fmt: skip


def _band(simulated: dict, days: float, points: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """(grid in days since start, (3, points) 2.5/50/97.5 percentiles of the simulated cumulative counts)."""
    grid = np.linspace(0.0, days, points)
    n = simulated["num_simulations"]
    edges = np.concatenate([grid, [np.inf]])
    counts, _, _ = np.histogram2d(simulated["simulation"], simulated["time"], bins=[np.arange(n + 1), edges])
    cumulative = np.cumsum(counts, axis=1)  # column j: events before grid[j + 1]
    cumulative = np.concatenate([np.zeros((n, 1)), cumulative[:, :-1]], axis=1)
    return grid, np.percentile(cumulative, [2.5, 50, 97.5], axis=0)


def _forecast_picture(catalog, simulated: dict, start, days: float, mc: float) -> np.ndarray:
    """Cumulative count (observed, and the forecast's median and 95 % band after `start`) over magnitude-time."""
    from matplotlib.figure import Figure

    from .render import figure_to_array

    span = max(3.0 * days, 30.0)
    shown_from = max(catalog.times[0], start - np.timedelta64(int(span * 86_400_000), "ms"))
    end = start + np.timedelta64(int(days * 86_400_000), "ms")
    keep = (catalog.times >= shown_from) & (catalog.times < end) & (catalog.magnitudes >= mc - 1e-9)
    times, mags = catalog.times[keep].astype("datetime64[ms]"), catalog.magnitudes[keep]
    before = int((times < start).sum())
    grid, (low, median, high) = _band(simulated, days)
    grid_times = start + (grid * 86_400_000).astype("timedelta64[ms]")
    figure = Figure(figsize=(9, 6))
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.step(times.astype("O"), np.arange(1, len(times) + 1), where="post", color="black", label="observed")
    top.fill_between(grid_times.astype("O"), before + low, before + high, color="tab:orange", alpha=0.35,
                     label="forecast 95 % band")  # fmt: skip
    top.plot(grid_times.astype("O"), before + median, color="tab:orange", label="forecast median")
    top.set_ylabel(f"cumulative count (M >= {mc:g})")
    top.legend(loc="upper left")
    bottom.scatter(times.astype("O"), mags, s=4 + 3 * (mags - mags.min() if len(mags) else 0) ** 2, color="tab:blue",
                   alpha=0.6)  # fmt: skip
    bottom.set_ylabel("magnitude")
    for axis in (top, bottom):
        axis.axvline(start.astype("O"), color="grey", linestyle="--")
        axis.axvspan(start.astype("O"), end.astype("O"), color="tab:orange", alpha=0.08)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure_to_array(figure)


def build_tab(gr, models, limits, user_facing: Callable) -> None:
    """The Forecast tab (the family-tab hook of `geohub.demo.app`)."""
    with gr.Tab("Forecast", id="forecast"):
        with gr.Row():
            upload = gr.File(label="Catalogue (.csv with time and magnitude columns, or QuakeML)", type="filepath",
                             file_types=[".csv", ".xml", ".quakeml"])  # fmt: skip
            with gr.Column():
                gr.Markdown("Without an upload: the bundled **synthetic** catalogue (a year simulated from the "
                            "shipped ETAS, seed 2020; not real events).")  # fmt: skip
                start = gr.Textbox(BUNDLED_START, label="forecast start (UTC)",
                                   info="empty: the day after the catalogue's last event")  # fmt: skip
                days = gr.Number(30, label="days", info=f"up to {MAX_DEMO_DAYS:g}")
                magnitude = gr.Number(3.0, label="M0 (probability of at least one event >= M0)")
            with gr.Column():
                simulations = gr.Slider(10, MAX_DEMO_SIMULATIONS, value=500, step=10, label="simulations")
                seed = gr.Number(0, precision=0, label="seed", minimum=0)
                button = gr.Button("Forecast", variant="primary")
        summary = gr.Markdown(elem_id="forecast-summary")
        picture = gr.Image(label="Cumulative count with the forecast band; magnitude-time", type="numpy",
                           format="png")  # fmt: skip
        table = gr.Dataframe(headers=FORECAST_COLUMNS, label="Forecast per magnitude", interactive=False)
        handler = user_facing(forecast_earthquakes, models, limits)

        def forecast_earthquakes_endpoint(catalogue=None, start=BUNDLED_START, days=30.0, magnitude=3.0,
                                          num_simulations=500, seed=0):  # fmt: skip
            """Named parameters with defaults: the endpoint runs with none given (the bundled catalogue)."""
            return handler(catalogue, start, days, magnitude, num_simulations, seed)

        button.click(forecast_earthquakes_endpoint, [upload, start, days, magnitude, simulations, seed],
                     [picture, table, summary], api_name="forecast_earthquakes")  # fmt: skip
