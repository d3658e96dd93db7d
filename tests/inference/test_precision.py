"""Precision in the waveform API (`precision="auto" | "fp32" | "bf16"`), the archive's `--precision`, the picking
pipeline's `precision=`, and EQTransformer's shifted windows on short records (issue #20, items 5 and 8)."""

from __future__ import annotations

import numpy as np
import obspy
import pytest
import torch
from transformers import pipeline

from geohub import runtime
from geohub.errors import ConfigError, WaveformError
from geohub.inference.archive import ArchiveOptions, check_run_settings, parse_argv
from geohub.inference.seismic import annotate
from geohub.inference.waveform import WaveformModel, window_layout
from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
from geohub.models.gpd import GPDConfig, GPDFeatureExtractor, GPDForWindowClassification


def tiny_eqt() -> EqTransformerForPhasePicking:
    torch.manual_seed(0)
    config = EqTransformerConfig(encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2], num_lstm_blocks=1,
                                 lstm_units=4, attention_units=4, feed_forward_units=4, decoder_filters=[2] * 7)  # fmt: skip
    return EqTransformerForPhasePicking(config).eval()


def tiny_gpd() -> GPDForWindowClassification:
    torch.manual_seed(0)
    config = GPDConfig(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3], hidden_sizes=[8])
    return GPDForWindowClassification(config).eval()


def stream(seconds: float = 90.0, seed: int = 0) -> obspy.Stream:
    rng = np.random.default_rng(seed)
    n = int(seconds * 100)
    data = rng.standard_normal((3, n))
    data[:, n // 3 :] += 8 * np.sin(np.arange(n - n // 3) / 3.0) * np.exp(-np.arange(n - n // 3) / 300.0)
    header = {"network": "XX", "station": "PREC", "sampling_rate": 100.0, "starttime": obspy.UTCDateTime(2024, 1, 1)}
    return obspy.Stream([obspy.Trace(d.astype(np.float32), header={**header, "channel": f"HH{c}"})
                         for d, c in zip(data, "ENZ")])  # fmt: skip


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: {"amx_bf16", "avx512_bf16"})


def test_auto_is_fp32_without_a_recorded_agreement_and_bf16_with_one(native_bf16):
    assert WaveformModel(tiny_eqt(), EqTransformerFeatureExtractor()).precision == "fp32"
    agreed = EqTransformerFeatureExtractor(bf16_agreement=0.995)
    assert WaveformModel(tiny_eqt(), agreed).precision == "bf16"
    assert WaveformModel(tiny_eqt(), agreed, precision="fp32").precision == "fp32"
    assert WaveformModel(tiny_eqt(), EqTransformerFeatureExtractor(bf16_agreement=0.9)).precision == "fp32"
    with pytest.raises(WaveformError, match="precision"):
        WaveformModel(tiny_eqt(), agreed, precision="fp16")


def test_agreement_is_saved_with_the_feature_extractor(tmp_path):
    EqTransformerFeatureExtractor(bf16_agreement=0.9931).save_pretrained(tmp_path)
    assert EqTransformerFeatureExtractor.from_pretrained(tmp_path).bf16_agreement == pytest.approx(0.9931)


def test_eqt_bf16_outputs_follow_fp32():
    model, extractor = tiny_eqt(), EqTransformerFeatureExtractor()
    fp32 = WaveformModel(model, extractor, precision="fp32").annotate_records(stream())[0].probabilities
    bf16 = WaveformModel(model, extractor, precision="bf16").annotate_records(stream())[0].probabilities
    assert fp32.shape == bf16.shape and np.isfinite(bf16).all()
    assert np.abs(fp32 - bf16).max() < 0.05
    assert not np.array_equal(fp32, bf16)  # it did run in bfloat16


def test_gpd_bf16_runs_its_own_eval_path_and_leaves_the_config_as_it_was():
    model, extractor = tiny_gpd(), GPDFeatureExtractor(window_length=400)
    fp32 = WaveformModel(model, extractor, precision="fp32").annotate_records(stream(30))[0].probabilities
    bf16 = WaveformModel(model, extractor, precision="bf16").annotate_records(stream(30))[0].probabilities
    assert model.config.inference_dtype == "float32"
    assert np.abs(fp32 - bf16).max() < 0.05 and not np.array_equal(fp32, bf16)


def test_seismic_annotate_takes_a_precision():
    result = annotate(stream(), tiny_eqt(), feature_extractor=EqTransformerFeatureExtractor(), precision="bf16")
    assert result.traces and np.isfinite(result.traces[0].probabilities).all()
    with pytest.raises(WaveformError, match="precision"):
        annotate(stream(), tiny_eqt(), feature_extractor=EqTransformerFeatureExtractor(), precision="half")


def test_short_records_are_read_at_shifted_windows():
    spec = WaveformModel(tiny_eqt(), EqTransformerFeatureExtractor()).spec
    assert spec.short_record_shift == 250
    data, starts, lead = window_layout(np.ones((3, 6000)), spec)
    assert lead == 250 and starts == [0, 250, 500] and data.shape == (3, 6500)
    assert (data[:, :250] == 0).all() and (data[:, -250:] == 0).all()
    _, starts, lead = window_layout(np.ones((3, 11999)), spec)
    assert lead == 250 and len(starts) <= 9 and starts[-1] == 12499 - 6000
    assert window_layout(np.ones((3, 12000)), spec)[2] == 0  # two windows or more: the plain layout
    assert window_layout(np.ones((3, 6000)), spec, stride=3000)[2] == 0  # an explicit stride: as asked
    off = WaveformModel(tiny_eqt(), EqTransformerFeatureExtractor(short_record_shift=0)).spec
    assert window_layout(np.ones((3, 6000)), off)[1:] == ([0], 0)


@pytest.mark.parametrize("seconds", [30.0, 60.0, 90.0])
def test_short_record_series_cover_the_record_exactly(seconds):
    (trace,) = WaveformModel(tiny_eqt(), EqTransformerFeatureExtractor()).annotate_records(stream(seconds))
    assert trace.probabilities.shape == (3, int(seconds * 100)) and np.isfinite(trace.probabilities).all()


def test_archive_precision_defaults_to_auto_and_is_checked(tmp_path):
    options = ArchiveOptions(source=str(tmp_path), models=["m"], output=str(tmp_path / "out"))
    assert options.precision == "auto"
    assert parse_argv([str(tmp_path), "--model", "m", "--output", "o", "--precision", "bf16"]).precision == "bf16"
    options.precision = "fp16"
    with pytest.raises(ConfigError, match="precision"):
        check_run_settings(options, write=False)


def test_picking_pipeline_takes_a_precision(tmp_path):
    tiny_eqt().save_pretrained(tmp_path)
    EqTransformerFeatureExtractor().save_pretrained(tmp_path)
    picker = pipeline("seismic-phase-picking", model=str(tmp_path))
    assert picker(stream(), precision="bf16")["picks"] is not None
    with pytest.raises(ValueError, match="precision"):
        picker(stream(), precision="fp8")
