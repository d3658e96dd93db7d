"""Every demo endpoint through `gradio_client` against the app launched on 127.0.0.1 (tests/demo/conftest.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from gradio_client import handle_file

from geohub.demo.app import api_names
from geohub.demo.examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, SEISMIC_EXAMPLES, seismic_example

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEISMIC_EXAMPLE = next(iter(SEISMIC_EXAMPLES))


def _is_png(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def test_the_served_api_is_exactly_the_documented_api_names(client, repo_root):
    served = {name.lstrip("/") for name in client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    documented = api_names()  # the built-in tabs' API_NAMES and those of families' own tabs (the forecast tab)
    assert served == set(documented)
    for readme in (repo_root / "README.md", repo_root / "spaces" / "geohub" / "README.md"):
        text = readme.read_text(encoding="utf-8")
        for name in documented:
            assert f"`/{name}`" in text, f"{readme} does not list the endpoint /{name}"


def test_summarize_returns_sentences_of_the_abstract(client):
    summary = client.predict(EXAMPLE_ABSTRACT, None, 2, api_name="/summarize")
    assert summary.strip()
    # two sentences of the abstract, shortened by the summarizer's compression head: only deletions, order kept
    words = iter(EXAMPLE_ABSTRACT.split())
    assert all(word in words for word in summary.split())


def test_summarize_reads_an_uploaded_text_file(client, tmp_path):
    path = tmp_path / "abstract.txt"
    path.write_text(EXAMPLE_ABSTRACT, encoding="utf-8")
    summary = client.predict("", handle_file(str(path)), 1, api_name="/summarize")
    words = iter(EXAMPLE_ABSTRACT.split())
    assert summary.strip() and all(word in words for word in summary.split())


def test_extract_knowledge_gives_highlights_relations_picture_and_jsonld(client):
    highlights, relations, picture, jsonld = client.predict(EXAMPLE_ABSTRACT, None, api_name="/extract_knowledge")
    assert "".join(part["token"] for part in highlights) == EXAMPLE_ABSTRACT  # spans cover the text exactly once
    assert relations["headers"][:3] == ["head", "head_label", "relation"]
    assert _is_png(picture)
    with open(jsonld, encoding="utf-8") as handle:
        document = json.load(handle)
    assert "@context" in document and isinstance(document["@graph"], list)
    entity_count = sum(1 for node in document["@graph"] if node.get("@type") != "geohub:Relation")
    labelled = [part for part in highlights if part["class_or_confidence"]]
    assert entity_count >= len({(p["token"], p["class_or_confidence"]) for p in labelled})


def _check_seismic_answer(answer):
    picture, picks, detections, summary = answer
    assert _is_png(picture)
    assert picks["headers"] == ["station", "phase", "time (UTC)", "probability"]
    assert detections["headers"][:2] == ["station", "start (UTC)"]
    assert all(row[1] in ("P", "S") and 0.0 <= row[3] <= 1.0 for row in picks["data"])
    assert re.search(r"\d+ P\*\* and \*\*\d+ S\*\* picks", summary)
    return picks, detections


def test_annotate_seismic_bundled_example(client):
    _check_seismic_answer(client.predict(None, SEISMIC_EXAMPLE, api_name="/annotate_seismic"))


def test_annotate_seismic_uploaded_miniseed_and_sac(client, tmp_path):
    import obspy

    path = seismic_example(SEISMIC_EXAMPLE)
    _check_seismic_answer(client.predict(handle_file(str(path)), None, api_name="/annotate_seismic"))
    sac = tmp_path / "vertical.sac"
    obspy.read(str(path)).select(component="Z")[0].write(str(sac), format="SAC")
    picks, _ = _check_seismic_answer(client.predict(handle_file(str(sac)), None, api_name="/annotate_seismic"))
    assert all(row[0].startswith("GH.SYN") for row in picks["data"])


def test_generate_terrain_npy_is_reproducible_and_geotiff_reads_back(client):
    import rasterio

    shade, colour, npy, text = client.predict(5, 2, ".npy", api_name="/generate_terrain")
    assert _is_png(shade) and _is_png(colour)
    first = np.load(npy)
    side = 2 * 16  # two 16-cell training patches' extent, generated as one continuous region
    assert first.shape == (side, side) and np.isfinite(first).all()
    assert f"{side} x {side} cells" in text
    again = np.load(client.predict(5, 2, ".npy", api_name="/generate_terrain")[2])
    np.testing.assert_array_equal(first, again)
    other = np.load(client.predict(6, 2, ".npy", api_name="/generate_terrain")[2])
    assert not np.array_equal(first, other)
    tif = client.predict(5, 2, "GeoTIFF", api_name="/generate_terrain")[2]
    with rasterio.open(tif) as dataset:
        np.testing.assert_allclose(dataset.read(1), first, rtol=1e-6)


@pytest.mark.parametrize("example", list(DEM_EXAMPLES)[:2])
def test_classify_landform_bundled_tile(client, example):
    answer = client.predict(None, example, None, api_name="/classify_landform")
    confidences = {c["label"]: c["confidence"] for c in answer["confidences"]}
    assert set(confidences) == {"ridge", "hillside", "valley"}  # geomorphon classes (recipes/landform)
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert answer["label"] == max(confidences, key=confidences.get)


def test_classify_landform_uploaded_tile_larger_than_one_patch(client, tmp_path):
    from geohub.data.synthetic_terrain import synthetic_landform_patch

    rng = np.random.default_rng(0)
    tile = np.block([[synthetic_landform_patch("hill", 32, 50.0, rng) for _ in range(2)] for _ in range(2)])
    path = tmp_path / "tile.npy"
    np.save(path, tile.astype(np.float32))
    answer = client.predict(handle_file(str(path)), None, 50.0, api_name="/classify_landform")
    assert sum(c["confidence"] for c in answer["confidences"]) == pytest.approx(1.0, abs=1e-4)
