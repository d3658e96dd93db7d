"""The Forecast tab (issue #23 deliverable 4) through gradio_client on a served demo: the bundled synthetic catalogue
and uploads (CSV, QuakeML), the picture, the table and the summary; bad uploads and settings get clear messages;
the slot serves the neural point process too (processor-less families load without a processor)."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from geohub.demo import DemoModels, launch_demo
from geohub.demo.forecast import FORECAST_COLUMNS, bundled_catalog, forecast_earthquakes
from geohub.demo.handlers import DemoLimits
from geohub.errors import DataError


@pytest.fixture(scope="module")
def forecast_client(tmp_path_factory, monkeypatch_module):
    """The demo with every slot on its shipped default (an empty models folder), models loaded on first use."""
    monkeypatch_module.delenv("GEOHUB_FORECAST_MODEL", raising=False)
    models = DemoModels(models_dir=tmp_path_factory.mktemp("no-models"))
    demo, url = launch_demo(models, host="127.0.0.1", port=0, preload=False, prevent_thread_lock=True)
    yield Client(url, verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _write_csv(path, catalog, keep=None):
    keep = np.arange(len(catalog)) if keep is None else keep
    lines = ["time,magnitude"] + [f"{str(t).replace('T', ' ')},{m:.1f}"
                                  for t, m in zip(catalog.times[keep], catalog.magnitudes[keep])]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _table(table) -> list[list]:
    assert table["headers"] == FORECAST_COLUMNS
    return table["data"]


def test_bundled_synthetic_catalogue_forecast_band_table_and_summary(forecast_client):
    picture, table, summary = forecast_client.predict(None, "2020-10-01", 30, 3.0, 300, 0,
                                                      api_name="/forecast_earthquakes")  # fmt: skip
    image = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(picture))
    assert image.ndim == 3 and image.shape[0] > 300 and image.std() > 10  # a drawn picture, not a blank
    rows = _table(table)
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    expected = [float(r[1]) for r in rows]
    assert all(a >= b for a, b in zip(expected, expected[1:])) and expected[0] > 10
    for _, mean, low, high, probability, _ in rows:  # (a rare event's mean can exceed its 97.5th percentile, 0)
        assert float(low) <= float(mean) and float(low) <= float(high) and 0.0 <= float(probability) <= 1.0
    catalog = bundled_catalog()  # observed: the catalogue's own count in the window
    window = (catalog.times >= np.datetime64("2020-10-01")) & (catalog.times < np.datetime64("2020-10-31"))
    assert int(rows[0][5]) == int(window.sum())
    assert "synthetic" in summary and "P(at least one M >= 3)" in summary and "300 simulations" in summary
    again = forecast_client.predict(None, "2020-10-01", 30, 3.0, 300, 0, api_name="/forecast_earthquakes")
    assert _table(again[1]) == rows  # seeded


def test_uploaded_csv_and_quakeml_forecast_after_the_last_event(forecast_client, tmp_path):
    import obspy
    from obspy.core.event import Catalog, Event, Magnitude, Origin

    catalog = bundled_catalog()
    last_months = np.flatnonzero(catalog.times >= np.datetime64("2020-10-01"))
    csv = _write_csv(tmp_path / "events.csv", catalog, last_months)
    _, table, summary = forecast_client.predict(handle_file(str(csv)), "", 7, 2.0, 100, 1,
                                                api_name="/forecast_earthquakes")  # fmt: skip
    assert "uploaded catalogue" in summary and "2020-12-31" in summary and "partial" in summary
    assert float(_table(table)[0][1]) > 0
    events = Catalog([Event(origins=[Origin(time=obspy.UTCDateTime(str(t)), latitude=33.5, longitude=-116.5)],
                            magnitudes=[Magnitude(mag=float(m))])
                      for t, m in zip(catalog.times[last_months[:150]], catalog.magnitudes[last_months[:150]])])  # fmt: skip
    events.write(str(tmp_path / "events.xml"), format="QUAKEML")
    _, table, summary = forecast_client.predict(handle_file(str(tmp_path / "events.xml")), "", 7, 2.0, 100, 1,
                                                api_name="/forecast_earthquakes")  # fmt: skip
    assert "150 events" in summary and len(_table(table)) == 6


def test_bad_uploads_and_settings_get_clear_messages(forecast_client, tmp_path):
    catalog = bundled_catalog()
    unsorted = _write_csv(tmp_path / "unsorted.csv", catalog, np.array([5, 4, 6, 7]))
    with pytest.raises(AppError, match=r"unsorted\.csv.*(order|sorted|earlier)"):
        forecast_client.predict(handle_file(str(unsorted)), "", 7, 3.0, 100, 0, api_name="/forecast_earthquakes")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("time,magnitude\n2020-01-01 00:00:00,2.0 \xe9\n".encode("latin-1"))
    with pytest.raises(AppError, match=r"latin\.csv.*UTF-8"):
        forecast_client.predict(handle_file(str(latin)), "", 7, 3.0, 100, 0, api_name="/forecast_earthquakes")
    big = _write_csv(tmp_path / "big.csv", catalog)  # ~2,000 events: over a 20 kB cap (gradio_client refuses a
    small = DemoLimits(max_upload_bytes=20_000)  # file over the server's own cap before sending: the handler's check)
    assert big.stat().st_size > small.max_upload_bytes
    with pytest.raises(DataError, match=r"over the demo's limit of 0 MB"):
        forecast_earthquakes(DemoModels(), small, str(big), "", 7, 3.0, 100, 0)
    with pytest.raises(AppError, match=r"days 400 out of range"):
        forecast_client.predict(None, "2020-10-01", 400, 3.0, 100, 0, api_name="/forecast_earthquakes")
    with pytest.raises(AppError, match=r"field 'start': window 2019-06-01.* is outside the catalogue"):
        forecast_client.predict(None, "2019-06-01", 7, 3.0, 100, 0, api_name="/forecast_earthquakes")
    with pytest.raises(AppError, match=r"no events before 2020-01-01"):
        forecast_client.predict(None, "2020-01-01", 7, 3.0, 100, 0, api_name="/forecast_earthquakes")
    assert forecast_client.predict(None, "2020-10-01", 7, 3.0, 50, 0, api_name="/forecast_earthquakes")[2]  # serving


def test_the_slot_serves_the_neural_point_process_without_a_processor():
    from geohub.defaults import default_model_path

    models = DemoModels(sources={"earthquake_forecasting": str(default_model_path("neural_point_process"))})
    model, processor = models.get("earthquake_forecasting")
    assert processor is None and model.config.model_type == "geohub_neural_point_process"
    picture, rows, summary = forecast_earthquakes(models, DemoLimits(), None, "2020-10-01", 7, 3.0, 50, 0)
    assert picture.shape[2] == 3 and len(rows) == 6 and summary.startswith("**neural_point_process** forecast")
