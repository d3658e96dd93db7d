"""EQTransformer fine-tuning pieces (task `eqtransformer_picking`): which parameters train, frozen parts and every
BatchNorm kept in eval mode, the collator's windows and EQTransformer-style labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geohub.data.augmentations import RandomWindow
from geohub.errors import ConfigError
from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
from geohub.training.seismic_eqtransformer import EqTransformerCollator, freeze_except

LENGTH = 6000


def tiny_model() -> EqTransformerForPhasePicking:
    torch.manual_seed(0)
    config = EqTransformerConfig(encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2], num_lstm_blocks=1,
                                 lstm_units=4, attention_units=4, feed_forward_units=4, decoder_filters=[2] * 7)  # fmt: skip
    return EqTransformerForPhasePicking(config)


def test_freeze_except_trains_the_named_parts_and_keeps_batchnorm_as_published():
    model = tiny_model()
    frozen = freeze_except(model, "p_branch,s_decoder,eqtransformer.res_blocks.0")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all(n.startswith(("p_branch.", "s_decoder.", "eqtransformer.res_blocks.0.")) for n in trained)
    assert "eqtransformer.res_blocks.0.norm1.weight" in trained and model.eqtransformer.res_blocks[1] in frozen
    assert model.detection_decoder in frozen and model.s_branch in frozen
    assert not any(p.requires_grad for m in frozen for p in m.parameters())
    norm = model.eqtransformer.res_blocks[0].norm1  # a BatchNorm inside a trained block
    before = norm.running_mean.clone()
    model.train()
    out = model(torch.randn(2, 3, LENGTH), labels=torch.rand(2, 3, LENGTH))
    assert not norm.training and not model.detection_decoder.training and model.p_branch.training
    assert model.eqtransformer.res_blocks[0].conv1.training
    torch.testing.assert_close(norm.running_mean, before)  # statistics untouched by a training forward
    out.loss.backward()
    assert model.p_branch.lstm.lstm.weight_hh_l0.grad.abs().sum() > 0
    assert model.detection_decoder.output.weight.grad is None


def test_freeze_except_all_and_bad_prefixes():
    model = tiny_model()
    assert freeze_except(model, "all") == []
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ConfigError, match="unknown module"):
        freeze_except(tiny_model(), "p_decoder,decoder_p")


def test_collator_windows_components_and_labels():
    extractor = EqTransformerFeatureExtractor()
    rng = np.random.default_rng(0)
    z = rng.standard_normal(9001)
    three = {
        "waveforms": rng.standard_normal((3, 9001)),
        "p_arrival_sample": 3000,
        "s_arrival_sample": 3500,
        "label": 1,
    }
    single = {"waveforms": np.stack([z, z, z]), "p_arrival_sample": 3000, "s_arrival_sample": 3400, "label": 1}
    collator = EqTransformerCollator(extractor, window=RandomWindow(LENGTH, p_position_range=(0.05, 0.85)), seed=1)
    batch = collator([three, single])
    assert batch["inputs"].shape == (2, 3, LENGTH) and batch["labels"].shape == (2, 3, LENGTH)
    order = extractor.component_order
    assert all(float(batch["inputs"][1, order.index(c)].abs().max()) == 0.0 for c in "EN")  # single Z: E, N zero
    assert float(batch["inputs"][1, order.index("Z")].abs().max()) > 0
    labels = batch["labels"].numpy()
    p = labels[:, 1].argmax(-1)
    assert np.all((p >= 0.05 * LENGTH - 1) & (p <= 0.85 * LENGTH + 1))  # P anywhere in 5-85 % of the window
    np.testing.assert_array_equal(labels[:, 2].argmax(-1) - p, [500, 400])  # S keeps its distance to P
    assert np.all(labels[:, 1].max(-1) == pytest.approx(1.0)) and np.all(
        labels[[0, 1], 0, p + 10] == 1.0
    )  # detection from P on
