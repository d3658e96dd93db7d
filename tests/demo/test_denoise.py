"""The Seismic tab's "Denoise first" option: the record is denoised by the quickstart's seismic denoiser
(`geohub.inference.denoise`) before picking; through the handler and through `gradio_client`."""

from __future__ import annotations

import re

import numpy as np
import pytest

from geohub.demo import DemoModels
from geohub.demo.examples import SEISMIC_EXAMPLES, seismic_example
from geohub.demo.handlers import DemoLimits, annotate_seismic
from geohub.errors import HubError

SEISMIC_EXAMPLE = next(iter(SEISMIC_EXAMPLES))
PICKER = "geohub U-Net"


@pytest.fixture(scope="module")
def models(demo_models_dir) -> DemoModels:
    return DemoModels(models_dir=demo_models_dir)


def test_denoise_first_picks_the_denoised_record(models):
    from geohub.inference.denoise import denoise
    from geohub.inference.seismic import annotate

    raw_picture, _, _, raw_summary = annotate_seismic(models, DemoLimits(), None, SEISMIC_EXAMPLE, PICKER)
    picture, picks, _, summary = annotate_seismic(models, DemoLimits(), None, SEISMIC_EXAMPLE, PICKER, True)
    assert "Denoised first by the **seismic denoiser**" in summary and "Denoised" not in raw_summary
    kept = re.search(r"keeps \*\*(\d+) %\*\* of the RMS amplitude", summary)
    assert kept and 0 < int(kept.group(1)) < 1000, summary
    assert picture.ndim == 3 and picture.shape == raw_picture.shape and not np.array_equal(picture, raw_picture)
    # the picks are exactly those of the denoised record (same denoiser, same picker)
    denoiser, denoiser_extractor = models.get("seismic_denoising")
    picker, extractor = models.get("seismic_picking")
    clean = denoise(str(seismic_example(SEISMIC_EXAMPLE)), denoiser, denoiser_extractor)
    expected = annotate(clean, picker, feature_extractor=extractor)
    assert expected.picks  # the tiny smoke models pick plenty: the comparison below is not vacuous
    assert [(p.station, p.phase, str(p.time)) for p in expected.picks] == [
        (row.station, row.phase, row["time (UTC)"]) for _, row in picks.iterrows()
    ]


def test_denoise_first_without_a_denoiser_says_how_to_provide_one(demo_models_dir, tmp_path):
    models = DemoModels(sources={"seismic_denoising": str(tmp_path / "no-denoiser")}, models_dir=demo_models_dir)
    with pytest.raises(HubError, match="seismic denoiser is not available") as info:
        annotate_seismic(models, DemoLimits(), None, SEISMIC_EXAMPLE, PICKER, True)
    assert "GEOHUB_DENOISER_MODEL" in str(info.value)
    _, _, _, summary = annotate_seismic(models, DemoLimits(), None, SEISMIC_EXAMPLE, PICKER)  # picking still works
    assert "picked by **geohub U-Net**" in summary


def test_denoise_checkbox_through_gradio_client(client):
    _, _, _, summary = client.predict(None, SEISMIC_EXAMPLE, PICKER, True, api_name="/annotate_seismic")
    assert "Denoised first by the **seismic denoiser**" in summary
    _, _, _, summary = client.predict(None, SEISMIC_EXAMPLE, PICKER, api_name="/annotate_seismic")  # default: off
    assert "Denoised" not in summary
