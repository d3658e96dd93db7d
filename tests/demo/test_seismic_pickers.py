"""The Seismic tab's picker choice (EQTransformer by default when present, GPD, geohub U-Net) and the real
bundled example (ObsPy's RJOB record), through the handler the Gradio app calls."""

from __future__ import annotations

import obspy
import pytest
import torch

from geohub.demo.examples import REAL_SEISMIC_EXAMPLE, SEISMIC_EXAMPLES, seismic_example
from geohub.demo.handlers import BEST_AVAILABLE_PICKER, SEISMIC_PICKERS, DemoLimits, annotate_seismic
from geohub.demo.models import DemoModels
from geohub.errors import GeohubError
from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor


@pytest.fixture(scope="module")
def eqt_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("eqt") / "eqtransformer"
    EqTransformerForPhasePicking(EqTransformerConfig(num_lstm_blocks=1)).save_pretrained(folder)
    EqTransformerFeatureExtractor().save_pretrained(folder)
    return folder


def test_real_example_is_obspys_rjob_record():
    assert SEISMIC_EXAMPLES[REAL_SEISMIC_EXAMPLE] == "obspy"
    stream = obspy.read(str(seismic_example(REAL_SEISMIC_EXAMPLE)))
    assert {tr.id for tr in stream} == {"BW.RJOB..EHZ", "BW.RJOB..EHN", "BW.RJOB..EHE"}
    assert stream[0].stats.starttime == obspy.UTCDateTime("2009-08-24T00:20:03")


def test_default_picker_is_eqtransformer_and_missing_choices_say_why(eqt_folder, tmp_path):
    # the U-Net named by a missing folder (else the shipped default would serve it)
    sources = {"eqtransformer": str(eqt_folder), "seismic_picking": str(tmp_path / "no-unet")}
    models = DemoModels(sources=sources, models_dir=tmp_path / "none")
    picture, picks, detections, summary = annotate_seismic(models, DemoLimits(), None, REAL_SEISMIC_EXAMPLE)
    assert picture.ndim == 3 and "picked by **EQTransformer" in summary
    _, _, _, again = annotate_seismic(models, DemoLimits(), None, REAL_SEISMIC_EXAMPLE, BEST_AVAILABLE_PICKER)
    assert again == summary
    with pytest.raises(GeohubError, match="not available"):
        annotate_seismic(models, DemoLimits(), None, REAL_SEISMIC_EXAMPLE, "geohub U-Net")
    with pytest.raises(GeohubError, match="unknown picker"):
        annotate_seismic(models, DemoLimits(), None, REAL_SEISMIC_EXAMPLE, "PhaseNet")
    assert set(SEISMIC_PICKERS.values()) == {"eqtransformer", "gpd", "seismic_picking"}
