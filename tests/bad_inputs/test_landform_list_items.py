"""The landform pipeline checks every item of a list before any work, naming the bad one (issue #21, case 9)."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import pipeline

import geohub  # noqa: F401  (registers the pipelines)
from geohub.defaults import default_model_path
from geohub.errors import RasterError


@pytest.fixture(scope="module")
def classify():
    return pipeline("landform-classification", model=str(default_model_path("landform")))


@pytest.mark.parametrize(
    "bad, message",
    [(None, "NoneType.*not a DEM input"), ("no/such/dem.tif", "DEM file not found"), (np.zeros(5), "not a DEM input"),
     ([["a", "b"], ["c", "d"]], "not a DEM input")],
)  # fmt: skip
def test_a_bad_item_in_a_list_is_named_before_any_work(classify, bad, message, monkeypatch):
    good = np.random.RandomState(0).rand(64, 64) * 300.0
    calls = []
    monkeypatch.setattr(type(classify), "preprocess", lambda self, *a, **k: calls.append(1) or iter(()))
    with pytest.raises(RasterError, match=rf"inputs\[1\].*{message}|{message}.*inputs\[1\]"):
        classify([good, bad, good], spacing_m=30.0)
    assert not calls  # nothing was computed for the good items


def test_a_list_of_good_dems_gives_one_result_each(classify):
    good = np.random.RandomState(0).rand(256, 256) * 300.0  # 7.7 km across: patches at any default's spacing
    results = classify([good, good], spacing_m=30.0)
    assert len(results) == 2 and results[0] == results[1]
