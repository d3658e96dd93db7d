"""SeismicMagnitudeForRegression: shapes, masked NLL loss, exact save/load, Auto classes, Trainer step, pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, TrainingArguments, pipeline

import geohub  # noqa: F401
from geohub.data.seismic_datasets import synthetic_dataset
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.models.seismic_magnitude import (
    SeismicFeatureExtractor,
    SeismicMagnitudeConfig,
    SeismicMagnitudeForRegression,
)
from geohub.training.seismic import SeismicCollator
from geohub.training.supervised import GeoTrainer


def tiny_config(**kwargs):
    return SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000, **kwargs)


def test_shapes_and_loss():
    model = SeismicMagnitudeForRegression(tiny_config())
    inputs, amplitude = torch.randn(3, 3, 1000), torch.randn(3, 3)
    output = model(inputs, log_amplitude=amplitude)
    assert output.magnitude.shape == output.log_variance.shape == output.detection_logits.shape == (3,)
    labels = torch.tensor([[2.0, 1.0], [float("nan"), 1.0], [float("nan"), 0.0]])
    loss = model(inputs, log_amplitude=amplitude, labels=labels).loss
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(model.head[-1].weight.grad).all()
    assert torch.isfinite(model(inputs, log_amplitude=amplitude, labels=torch.tensor([1.0, 2.0, 3.0])).loss)
    with pytest.raises(ValueError, match="log_amplitude"):
        model(inputs)
    assert SeismicMagnitudeForRegression(tiny_config(use_amplitude=False))(inputs).magnitude.shape == (3,)


def test_magnitude_term_ignores_unknown_magnitudes():
    torch.manual_seed(0)
    model = SeismicMagnitudeForRegression(tiny_config(detection_loss_weight=0.0)).eval()
    inputs, amplitude = torch.randn(2, 3, 1000), torch.randn(2, 3)
    known = model(inputs, log_amplitude=amplitude, labels=torch.tensor([[2.0, 1.0], [3.0, 0.0]])).loss
    other = model(inputs, log_amplitude=amplitude, labels=torch.tensor([[2.0, 1.0], [float("nan"), 1.0]])).loss
    torch.testing.assert_close(known, other)


def test_exact_round_trip_and_auto_model(tmp_path):
    model = SeismicMagnitudeForRegression(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is SeismicMagnitudeForRegression
    inputs, amplitude = torch.randn(2, 3, 1000), torch.randn(2, 3)
    with torch.no_grad():
        a, b = model(inputs, log_amplitude=amplitude), loaded(inputs, log_amplitude=amplitude)
    torch.testing.assert_close(a.magnitude, b.magnitude, rtol=0, atol=0)
    torch.testing.assert_close(a.log_variance, b.log_variance, rtol=0, atol=0)


def test_one_trainer_step(tmp_path):
    model = SeismicMagnitudeForRegression(tiny_config())
    before = model.head[-1].weight.clone()
    data = synthetic_dataset(8, window_length=1000).with_format("numpy")
    extractor = SeismicFeatureExtractor(window_length=1000, return_amplitude=True)
    collator = SeismicCollator(extractor, target="magnitude", window_length=1000)
    batch = collator([data[i] for i in range(4)])
    assert set(batch) == {"inputs", "log_amplitude", "labels"} and batch["labels"].shape == (4, 2)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, use_cpu=True,
                             report_to="none", remove_unused_columns=False, save_strategy="no")  # fmt: skip
    GeoTrainer(model=model, args=args, train_dataset=data, data_collator=collator).train()
    assert not torch.equal(before, model.head[-1].weight)


def test_pipeline(tmp_path):
    SeismicMagnitudeForRegression(tiny_config()).save_pretrained(tmp_path)
    SeismicFeatureExtractor(window_length=1000, return_amplitude=True).save_pretrained(tmp_path)
    estimator = pipeline("seismic-magnitude", model=str(tmp_path))
    stream, _ = synthetic_stream(30.0)
    (result,) = estimator(stream)
    assert result["station"] == "GH.SYN." and np.isfinite(result["magnitude"])
    assert result["uncertainty"] > 0 and 0 <= result["event_probability"] <= 1
