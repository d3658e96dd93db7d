"""Bad input gets a clear message in the demo, and the server keeps serving afterwards."""

from __future__ import annotations

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from geohub.demo.examples import EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES

SEISMIC_EXAMPLE = next(iter(SEISMIC_EXAMPLES))


def _still_serving(client):
    assert client.predict(EXAMPLE_ABSTRACT, None, 1, api_name="/summarize").strip()
    picture, *_ = client.predict(None, SEISMIC_EXAMPLE, api_name="/annotate_seismic")
    assert picture


def test_too_long_text_is_refused_with_the_limit(client):
    with pytest.raises(AppError, match=r"30,000 characters, over the demo's limit of 20,000"):
        client.predict(("basalt " * 5000)[:30_000], None, 1, api_name="/summarize")
    with pytest.raises(AppError, match=r"over the demo's limit"):
        client.predict("granite " * 3000, None, api_name="/extract_knowledge")
    _still_serving(client)


def test_empty_text_is_refused(client):
    with pytest.raises(AppError, match="no text given"):
        client.predict("   ", None, 1, api_name="/summarize")


def test_corrupt_waveform_upload_is_refused_and_names_the_file(client, tmp_path):
    path = tmp_path / "broken.mseed"
    path.write_bytes(b"\x00\x01 this is not a miniSEED record " * 64)
    with pytest.raises(AppError, match=r"broken\.mseed: cannot read the file") as info:
        client.predict(handle_file(str(path)), None, api_name="/annotate_seismic")
    assert "/tmp/" not in str(info.value)  # the server's upload folder is not shown
    _still_serving(client)


def test_truncated_miniseed_upload_is_refused(client, tmp_path):
    from geohub.demo.examples import seismic_example

    data = seismic_example(SEISMIC_EXAMPLE).read_bytes()
    path = tmp_path / "truncated.mseed"
    path.write_bytes(data[: len(data) // 3 + 100])
    with pytest.raises(AppError, match=r"truncated\.mseed"):
        client.predict(handle_file(str(path)), None, api_name="/annotate_seismic")
    _still_serving(client)


def test_too_long_waveform_is_refused_with_the_limit(client, tmp_path):
    from geohub.data.synthetic_seismic import synthetic_stream

    stream, _ = synthetic_stream(duration_s=700.0, seed=1)
    path = tmp_path / "long.mseed"
    stream.write(str(path), format="MSEED", encoding="FLOAT32")
    with pytest.raises(AppError, match=r"has 700 s of data, over the demo's limit of 600 s"):
        client.predict(handle_file(str(path)), None, api_name="/annotate_seismic")
    _still_serving(client)


def test_corrupt_dem_upload_is_refused(client, tmp_path):
    path = tmp_path / "tile.npy"
    path.write_bytes(b"\x93NUMPY garbage that is not an array")
    with pytest.raises(AppError, match=r"tile\.npy: cannot read \.npy file"):
        client.predict(handle_file(str(path)), None, None, api_name="/classify_landform")
    assert client.predict(None, "plain tile (32 x 32, 50 m)", None, api_name="/classify_landform")["label"]


def test_terrain_size_outside_the_limit_is_refused(client):
    with pytest.raises(AppError, match=r"Value 9 is greater than maximum value 4"):  # the slider's own bound check
        client.predict(0, 9, ".npy", api_name="/generate_terrain")
    with pytest.raises(AppError, match=r"Value -3 is less than minimum value 0"):
        client.predict(-3, 1, ".npy", api_name="/generate_terrain")


def test_upload_over_the_size_limit_is_refused(client, demo_url, tmp_path):
    import httpx

    path = tmp_path / "huge.mseed"
    path.write_bytes(b"\x00" * (10 * 1024 * 1024 + 1024))
    with pytest.raises(ValueError, match=r"exceeds the maximum file size of 10485760 bytes"):  # checked by the client
        client.predict(handle_file(str(path)), None, api_name="/annotate_seismic")
    with path.open("rb") as handle:  # and by the server, for clients that do not check
        response = httpx.post(f"{demo_url}gradio_api/upload", files={"files": ("huge.mseed", handle)}, timeout=120)
    assert response.status_code == 413 and "maximum allowed size of 10485760 bytes" in response.text
    _still_serving(client)
