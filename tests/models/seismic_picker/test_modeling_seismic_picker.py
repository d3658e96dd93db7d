"""SeismicPickerForPhasePicking: shapes, loss, exact save/load, Auto classes, one Trainer step, pipeline, processor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, TrainingArguments, pipeline

import geohub  # noqa: F401  (registers the Auto classes and pipelines)
from geohub.data.seismic_datasets import synthetic_dataset
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.models.seismic_picker import (
    SeismicFeatureExtractor,
    SeismicPickerConfig,
    SeismicPickerForPhasePicking,
    make_picker_labels,
)
from geohub.training.seismic import SeismicCollator
from geohub.training.supervised import GeoTrainer


class SeismicPickerModelTester:
    def __init__(self, batch_size=2, length=1000):
        self.batch_size, self.length = batch_size, length

    def get_config(self):
        return SeismicPickerConfig(hidden_sizes=[4, 8, 12], kernel_size=5, stride=4, window_length=1000)

    def prepare_inputs(self):
        torch.manual_seed(0)
        inputs = torch.randn(self.batch_size, 3, self.length)
        labels = torch.from_numpy(make_picker_labels(np.array([200, -1]), np.array([500, -1]), self.length))
        return inputs, labels


@pytest.fixture(scope="module")
def tester():
    return SeismicPickerModelTester()


@pytest.mark.parametrize("length", [1000, 1001, 777])
def test_shapes_for_any_length(tester, length):
    model = SeismicPickerForPhasePicking(tester.get_config()).eval()
    output = model(torch.randn(2, 3, length), output_hidden_states=True)
    assert output.logits.shape == (2, 3, length)
    assert output.detection_logits.shape == (2, length)
    assert output.last_hidden_state.shape[:2] == (2, 12)
    assert output.loss is None


def test_loss_and_gradients(tester):
    model = SeismicPickerForPhasePicking(tester.get_config())
    inputs, labels = tester.prepare_inputs()
    output = model(inputs, labels=labels)
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    output.loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="labels must be"):
        model(inputs, labels=labels[:, :3])
    with pytest.raises(ValueError, match="inputs must be"):
        model(torch.randn(2, 2, 100))


def test_config_validation():
    with pytest.raises(ValueError, match="kernel_size"):
        SeismicPickerConfig(kernel_size=4)
    with pytest.raises(ValueError, match="component_order"):
        SeismicPickerConfig(component_order="ZN")
    assert SeismicPickerConfig().id2label == {0: "noise", 1: "P", 2: "S"}


def test_exact_save_load_round_trip_and_auto_classes(tester, tmp_path):
    model = SeismicPickerForPhasePicking(tester.get_config()).eval()
    inputs, _ = tester.prepare_inputs()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    assert isinstance(AutoConfig.from_pretrained(tmp_path), SeismicPickerConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is SeismicPickerForPhasePicking
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs).logits, model(inputs).logits, rtol=0, atol=0)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_feature_extractor_saved_as_preprocessor_config(tmp_path):
    extractor = SeismicFeatureExtractor(window_length=1000, normalization="std")
    extractor.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["window_length"] == 1000
    loaded = SeismicFeatureExtractor.from_pretrained(tmp_path)
    data = np.random.default_rng(0).standard_normal((2, 3, 1000)) * 1e-3 + 5.0
    out = loaded(data)["inputs"]
    assert out.shape == (2, 3, 1000) and out.dtype == torch.float32
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(-1, unbiased=False), torch.ones(2, 3), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="NaN"):
        loaded(np.full((3, 1000), np.nan))
    with pytest.raises(ValueError, match="channels"):
        loaded(np.zeros((2, 1000)))
    with pytest.raises(ValueError, match="resample"):
        loaded(data, sampling_rate=50.0)


def test_picker_labels():
    labels = make_picker_labels(np.array([100, -1]), np.array([300, 5000]), 1000, sigma=10)
    assert labels.shape == (2, 4, 1000)
    np.testing.assert_allclose(labels[:, :3].sum(axis=1), 1.0, atol=1e-6)
    assert labels[0, 1].argmax() == 100 and labels[0, 2].argmax() == 300
    assert labels[0, 3, 99] == 0 and labels[0, 3, 100] == 1 and labels[0, 3, 580] == 1 and labels[0, 3, 581] == 0
    assert labels[1, :3].argmax(axis=0).max() == 0 and labels[1, 3].sum() == 0


def test_one_trainer_step_changes_weights(tester, tmp_path):
    model = SeismicPickerForPhasePicking(tester.get_config())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = synthetic_dataset(8, window_length=1000).with_format("numpy")
    collator = SeismicCollator(SeismicFeatureExtractor(window_length=1000), window_length=1000)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, use_cpu=True,
                             report_to="none", remove_unused_columns=False, save_strategy="no")  # fmt: skip
    trainer = GeoTrainer(model=model, args=args, train_dataset=data, data_collator=collator)
    result = trainer.train()
    assert np.isfinite(result.training_loss)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any("phase_head" in k for k in changed)


def test_pipeline(tester, tmp_path):
    model = SeismicPickerForPhasePicking(tester.get_config())
    model.save_pretrained(tmp_path)
    SeismicFeatureExtractor(window_length=1000).save_pretrained(tmp_path)
    picker = pipeline("seismic-phase-picking", model=str(tmp_path))
    stream, _ = synthetic_stream(25.0)
    out = picker(stream, p_threshold=0.0, detection_threshold=0.0)
    assert set(out) == {"picks", "detections"}
    assert out["picks"] and {p["phase"] for p in out["picks"]} <= {"P", "S"}
    assert all(p["station"] == "GH.SYN." for p in out["picks"])
    assert len(out["detections"]) == 1  # threshold 0: one detection spanning the record
    out = picker(
        {"waveforms": np.stack([t.data for t in stream]), "sampling_rate": 100.0}, p_threshold=1.01, s_threshold=1.01
    )
    assert out["picks"] == []
