"""Bad input gets a clear message in the demo, and the server keeps serving afterwards.

The hostile-input corpus (tests/bad_inputs/corpus.py, generated at test time) goes through every endpoint; the
per-request memory ceiling (`DemoLimits.max_request_memory_mb`) is measured on a demo server in a subprocess
(peak RSS growth from /proc/<pid>/status); a bounded load test (16 clients x 3 requests) must see 0 failures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from geohub.demo.app import api_names
from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES
from tests.bad_inputs.corpus import CASES, DEM_EXAMPLE, PENDING, predict_args, shared_corpus

SEISMIC_EXAMPLE = next(iter(SEISMIC_EXAMPLES))
REPO_ROOT = Path(__file__).resolve().parents[2]


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
    assert client.predict(None, next(iter(DEM_EXAMPLES)), None, api_name="/classify_landform")["label"]


def test_terrain_size_outside_the_limit_is_refused(client):
    with pytest.raises(AppError, match=r"Value 9 is greater than maximum value 8"):  # the slider's own bound check
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


# --- the hostile-input corpus through every endpoint ------------------------------------------------------------
@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return shared_corpus(tmp_path_factory)


def _answers(client) -> None:
    assert client.predict(None, DEM_EXAMPLE, None, api_name="/classify_landform")["label"]


@pytest.mark.parametrize("name", [name for name in CASES if name not in ("dem_nan_spacing", "dem_zero_spacing")])
def test_hostile_input_gets_its_clear_error_and_the_server_answers_afterwards(client, corpus, name):
    case = corpus[name]
    if name in PENDING:
        pytest.xfail(PENDING[name])
    with pytest.raises(AppError) as info:
        client.predict(*predict_args(case), api_name=f"/{case.endpoint}")
    message = str(info.value)
    assert re.search(case.error, message), message
    assert "Traceback" not in message and "/tmp/" not in message and "could not process" not in message
    _answers(client)


def test_non_integer_sizes_and_bad_spacings_are_refused_with_the_field(client, corpus):
    with pytest.raises(AppError, match=r"field 'size': 2.5 is not a whole number \(expected a whole number >= 1"):
        client.predict(0, 2.5, ".npy", api_name="/generate_terrain")
    upload = handle_file(str(corpus["dem_1e30"].path))
    with pytest.raises(AppError, match=r"less than minimum value 0"):  # the Number's own bound
        client.predict(upload, None, -5, api_name="/classify_landform")
    _answers(client)


def _call_raw(url: str, api_name: str, data: list) -> tuple[str, str]:
    """(event, payload) of one call through Gradio's HTTP API (no client-side checks or uploads)."""
    import httpx

    response = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, timeout=60)
    if response.status_code != 200:
        return "http", f"{response.status_code} {response.text}"
    event_id = response.json()["event_id"]
    text = httpx.get(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=120).text
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", text, flags=re.M)
    return events[-1] if events else ("none", text)


def test_path_traversal_file_names_stay_in_the_upload_cache(client, demo_url, tmp_path):
    import httpx

    escape = Path("/tmp/geohub-h4b-escape.npy")
    escape.unlink(missing_ok=True)
    response = httpx.post(f"{demo_url}gradio_api/upload", timeout=60,
                          files={"files": ("../../../../tmp/geohub-h4b-escape.npy", b"\x93NUMPY junk")})  # fmt: skip
    assert response.status_code == 200
    (stored,) = response.json()
    assert not escape.exists() and ".." not in stored and Path(stored).name == "geohub-h4b-escape.npy"
    meta = {"_type": "gradio.FileData"}
    event, payload = _call_raw(demo_url, "classify_landform", [{"path": stored, "meta": meta}, None, 30])
    assert event == "error" and "geohub-h4b-escape.npy: cannot read .npy file" in payload, payload
    secret = tmp_path / "secret.npy"  # a file outside Gradio's cache: never opened by the handler
    secret.write_bytes(b"\x93NUMPY private")
    event, payload = _call_raw(demo_url, "classify_landform", [{"path": str(secret), "meta": meta}, None, 30])
    assert event in ("error", "http") and "cannot read .npy" not in payload, payload
    _answers(client)


def test_result_files_are_removed_after_they_were_served(client):
    from geohub.demo import handlers

    client.predict(3, 1, ".npy", api_name="/generate_terrain")
    root = handlers.output_root()
    folders = list(root.iterdir())
    assert folders, "no result folder was written"
    old = time.time() - handlers.OUTPUT_MAX_AGE_S - 60
    for folder in folders:
        os.utime(folder, (old, old))
    client.predict(EXAMPLE_ABSTRACT, None, api_name="/extract_knowledge")  # writes a JSON-LD result: sweeps
    assert not any(folder.exists() for folder in folders)
    assert len(list(root.iterdir())) == 1
    assert handlers.remove_outputs() == 1 and not list(root.iterdir())


# --- the per-request memory ceiling, measured on a demo server in a subprocess ------------------------------------
_SERVE = """
import sys, time
import torch
torch.set_num_threads(1)
from geohub.demo import DemoModels, launch_demo
demo, url = launch_demo(DemoModels(models_dir=sys.argv[1]), port=0, prevent_thread_lock=True)
print("URL", url, flush=True)
while True:
    time.sleep(3600)
"""


def _memory_kb(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in handle) if k in ("VmRSS", "VmHWM")}


def _reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _warm_up_inputs() -> dict[str, tuple]:
    """api_name -> a bundled example's predict args, for every endpoint of `api_names()` (a new tab fails the test
    until it is added here and in `_worst_inputs`)."""
    from geohub.demo.forecast import BUNDLED_START

    dem = next(iter(DEM_EXAMPLES))
    known = {"summarize": (EXAMPLE_ABSTRACT, None, 1), "extract_knowledge": (EXAMPLE_ABSTRACT, None),
             "annotate_seismic": (None, SEISMIC_EXAMPLE), "generate_terrain": (1, 4, "GeoTIFF"),
             "classify_landform": (None, dem, None), "explain_knowledge": (EXAMPLE_ABSTRACT, None, 1),
             "explain_seismic": (None, SEISMIC_EXAMPLE, "geohub U-Net"), "explain_landform": (None, dem, None),
             "forecast_earthquakes": (None, BUNDLED_START, 7.0, 3.0, 50, 0)}  # fmt: skip
    missing = sorted(set(api_names()) - set(known))
    assert not missing, f"endpoints without a warm-up input in this test: {missing}"
    return {name: known[name] for name in api_names()}


def _worst_inputs(corpus, tmp_path) -> list[tuple[str, str, tuple]]:
    """(label, api_name, predict args): the worst small input of every endpoint of `api_names()` (the families' own
    tabs included), refused or served, then the corpus's heaviest files."""
    import numpy as np

    from geohub.data.synthetic_seismic import synthetic_stream
    from geohub.data.synthetic_terrain import synthetic_landform_patch

    longest = ("Basalt flows cover the plateau near Reykjavik. " * 500)[:20_000]
    stream, _ = synthetic_stream(duration_s=590.0, seed=2)
    record = tmp_path / "longest.mseed"
    stream.write(str(record), format="MSEED", encoding="FLOAT32")
    rng = np.random.default_rng(0)
    tile = np.block([[synthetic_landform_patch("hill", 32, 50.0, rng) for _ in range(32)] for _ in range(32)])
    biggest = tmp_path / "biggest.npy"
    np.save(biggest, tile.astype(np.float32))  # 1024 x 1024 cells: the largest tile the demo accepts
    worst = {"summarize": ("longest text", (longest, None, 5)),
             "extract_knowledge": ("longest text", (longest, None)),
             "annotate_seismic": ("590 s record", (handle_file(str(record)), None)),
             "generate_terrain": ("4 x 4 tiles GeoTIFF", (11, 4, "GeoTIFF")),
             "classify_landform": ("1024 x 1024 tile", (handle_file(str(biggest)), None, 50)),
             "explain_knowledge": ("longest text", (longest, None, 1)),
             "explain_seismic": ("590 s record", (handle_file(str(record)), None, "geohub U-Net")),
             "explain_landform": ("1024 x 1024 tile", (handle_file(str(biggest)), None, 50)),
             "forecast_earthquakes": ("90 days x 1000 simulations", (None, "", 90.0, None, 1000, 0))}  # fmt: skip
    missing = sorted(set(api_names()) - set(worst))
    assert not missing, f"endpoints without a worst input in this test: {missing}"  # a new tab must be added here
    cases = [(label, api_name, args) for api_name, (label, args) in worst.items()]
    for name in ("text_oversized_file", "miniseed_gap_2_days", "miniseed_gap_30_days", "miniseed_gzip_bomb",
                 "npz_bomb", "npy_huge_header", "tif_huge_dimensions", "dem_huge_spacing", "dem_1e30"):  # fmt: skip
        cases.append((name, corpus[name].endpoint, predict_args(corpus[name])))
    return cases


@pytest.mark.slow
def test_every_endpoint_stays_under_the_memory_ceiling_with_its_worst_small_input(demo_models_dir, corpus, tmp_path):
    from gradio_client import Client

    from geohub.demo import DemoLimits

    ceiling_mb = DemoLimits().max_request_memory_mb
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-c", _SERVE, str(demo_models_dir)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)  # fmt: skip
    try:
        line = server.stdout.readline()
        assert line.startswith("URL "), f"the demo did not start: {line!r}"
        client = Client(line.split()[1], verbose=False)
        warm_up = _warm_up_inputs()
        assert set(warm_up) == set(api_names()), "every endpoint the app serves is warmed up and measured"
        for api_name, args in warm_up.items():
            client.predict(*args, api_name=f"/{api_name}")  # warm-up: lazy imports and first allocations
        rows = []
        cases = _worst_inputs(corpus, tmp_path)
        assert {api_name for _, api_name, _ in cases} >= set(api_names())
        for label, api_name, args in cases:
            resettable = _reset_peak(server.pid)
            before = _memory_kb(server.pid)
            try:
                client.predict(*args, api_name=f"/{api_name}")
                outcome = "served"
            except AppError as err:
                outcome = str(err)[:70]
            after = _memory_kb(server.pid)
            base = before["VmRSS"] if resettable else before["VmHWM"]
            rows.append((api_name, label, (after["VmHWM"] - base) / 1024, after["VmRSS"] / 1024, outcome))
        print(f"\nper-request peak RSS growth of the demo server (ceiling {ceiling_mb} MB)")
        for api_name, label, growth, rss, outcome in rows:
            print(f"{api_name:<18} {label:<22} {growth:8.1f} MB  (RSS {rss:7.1f} MB)  {outcome}")
        print("MEMORY_JSON " + json.dumps([{"endpoint": r[0], "input": r[1], "peak_growth_mb": round(r[2], 1)}
                                           for r in rows]))  # fmt: skip
        worst = max(rows, key=lambda r: r[2])
        assert worst[2] < ceiling_mb, f"{worst[0]} with {worst[1]} grew the server by {worst[2]:.0f} MB"
        assert client.predict(EXAMPLE_ABSTRACT, None, 1, api_name="/summarize").strip()  # still serving
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- bounded load test --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sixteen_clients_times_three_requests_over_every_endpoint_without_a_failure(demo_url):
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_load", REPO_ROOT / "benchmarks" / "demo_load.py")
    demo_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_load)
    result = demo_load.load_test(demo_url, clients=16, requests_per_client=3)
    print(f"\nload test: {result['total_requests']} requests, {result['failures']} failures, "
          f"p50 {result['p50_s']:.2f} s, p95 {result['p95_s']:.2f} s, wall {result['wall_s']:.1f} s")  # fmt: skip
    for name, row in result["endpoints"].items():
        print(f"  {name:<18} {row['requests']:>3} requests  p50 {row['p50_s']:.2f} s  p95 {row['p95_s']:.2f} s")
    assert result["total_requests"] == 48 and result["failures"] == 0, result["errors"][:3]
    assert set(result["endpoints"]) == {"summarize", "extract_knowledge", "annotate_seismic", "generate_terrain",
                                        "classify_landform"}  # fmt: skip
    assert 0 < result["p50_s"] <= result["p95_s"]
