"""EqTransformerForPhasePicking on tiny configs: shapes, Keras layer semantics, loss, save/load, feature extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

import geohub  # noqa: F401  (registers the Auto classes)
from geohub.models.eqtransformer import (
    EqTransformerConfig,
    EqTransformerFeatureExtractor,
    EqTransformerForPhasePicking,
    modeling_eqtransformer,
)
from geohub.models.eqtransformer.modeling_eqtransformer import (
    EqTransformerAttention,
    EqTransformerLSTM,
    KerasSameConv1d,
)


def tiny_config(**overrides) -> EqTransformerConfig:
    kwargs = dict(
        encoder_filters=[2, 2, 2, 2, 2, 4, 4],
        res_kernel_sizes=[3, 2],
        num_lstm_blocks=1,
        lstm_units=4,
        attention_units=4,
        feed_forward_units=8,
        decoder_filters=[4, 4, 2, 2, 2, 2, 2],
    )
    kwargs.update(overrides)
    return EqTransformerConfig(**kwargs)


@pytest.mark.parametrize("gate", ["hard_sigmoid", "sigmoid"])
def test_forward_shapes_loss_and_gradients(gate):
    torch.manual_seed(0)
    model = EqTransformerForPhasePicking(tiny_config(lstm_gate=gate))
    from geohub.models.eqtransformer import modeling_eqtransformer

    modeling_eqtransformer._POLYPHASE_CACHE.clear()
    with torch.inference_mode():  # an inference-mode call first (as the waveform API makes) must not break training
        model.eval()(torch.randn(1, 3, 6000))
    model.train()
    inputs = torch.randn(2, 3, 6000)
    labels = torch.zeros(2, 3, 6000)
    labels[:, 0, 1000:3000] = 1.0
    labels[:, 1, 990:1010] = 1.0
    out = model(inputs, labels=labels, output_hidden_states=True)
    assert out.logits.shape == (2, 3, 6000)
    for probs in (out.detection_probabilities, out.p_probabilities, out.s_probabilities):
        assert probs.shape == (2, 6000) and float(probs.detach().min()) >= 0.0 and float(probs.detach().max()) <= 1.0
    assert out.last_hidden_state.shape == (2, 47, 4)
    expected = sum(
        w * F.binary_cross_entropy_with_logits(out.logits[:, i], labels[:, i])
        for i, w in enumerate(model.config.loss_weights)
    )
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_bad_inputs_and_configs_are_refused():
    model = EqTransformerForPhasePicking(tiny_config()).eval()
    with pytest.raises(ValueError, match="samples"):
        model(torch.randn(1, 3, 3000))
    with pytest.raises(ValueError, match=r"\(batch, 3, samples\)"):
        model(torch.randn(1, 2, 6000))
    with pytest.raises(ValueError, match="labels"):
        model(torch.randn(1, 3, 6000), labels=torch.zeros(1, 6000))
    with pytest.raises(ValueError, match="lstm_gate"):
        tiny_config(lstm_gate="relu")
    with pytest.raises(ValueError, match="window_length 3001"):
        tiny_config(window_length=3001)


def test_hard_sigmoid_lstm_matches_a_step_by_step_reference():
    torch.manual_seed(1)
    lstm = EqTransformerLSTM(5, 3, bidirectional=True, gate="hard_sigmoid", dropout=0.0).eval()
    for param in lstm.lstm.parameters():
        torch.nn.init.normal_(param, std=0.5)
    x = torch.randn(2, 7, 5)

    def reference(seq, suffix):
        w_ih, w_hh = getattr(lstm.lstm, f"weight_ih_l0{suffix}"), getattr(lstm.lstm, f"weight_hh_l0{suffix}")
        b = getattr(lstm.lstm, f"bias_ih_l0{suffix}") + getattr(lstm.lstm, f"bias_hh_l0{suffix}")
        h = c = torch.zeros(seq.shape[0], 3)
        hs = []
        for t in range(seq.shape[1]):
            i, f, g, o = (seq[:, t] @ w_ih.T + h @ w_hh.T + b).chunk(4, 1)
            hard = lambda v: torch.clamp(0.2 * v + 0.5, 0, 1)  # noqa: E731
            c = hard(f) * c + hard(i) * torch.tanh(g)
            h = hard(o) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs, 1)

    expected = torch.cat([reference(x, ""), reference(x.flip(1), "_reverse").flip(1)], dim=-1)
    torch.testing.assert_close(lstm(x), expected)
    lstm.gate = "sigmoid"  # the sigmoid variant is nn.LSTM itself, and differs
    assert not torch.allclose(lstm(x), expected, atol=1e-3)


def test_channels_last_max_pool_is_keras_same_pooling():
    for length in (375, 376):  # odd: the last sample alone (Keras pads with -inf); even: plain pairs
        x = torch.randn(2, 3, length) - 5.0  # all negative, so zero padding would show
        got = modeling_eqtransformer._channels_last_max_pool(modeling_eqtransformer._to_channels_last(x))
        torch.testing.assert_close(got.squeeze(2), F.max_pool1d(x, 2, 2, ceil_mode=True), atol=0, rtol=0)


@pytest.mark.parametrize("kernel_size", [7, 4])
def test_fused_conv_relu_equals_conv_then_relu(kernel_size):
    assert modeling_eqtransformer._fused_conv_relu()  # the pinned torch has oneDNN's fused op: the fast path runs
    torch.manual_seed(4)
    conv, x = KerasSameConv1d(3, 5, kernel_size), torch.randn(2, 3, 50)
    expected = F.relu(conv(x))
    hidden = modeling_eqtransformer._to_channels_last(x)
    with torch.inference_mode():
        fused = modeling_eqtransformer._channels_last_conv(hidden, conv, relu=True).squeeze(2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fused_bf16 = modeling_eqtransformer._channels_last_conv(hidden, conv, relu=True).squeeze(2)
            plain_bf16 = F.relu(conv(x))
    torch.testing.assert_close(fused, expected, atol=1e-6, rtol=1e-6)
    assert fused_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(fused_bf16.float(), plain_bf16.float(), atol=0.05, rtol=0.02)


def test_attention_in_blocks_of_windows_equals_all_at_once(monkeypatch):
    torch.manual_seed(5)
    attention, x = EqTransformerAttention(4, 6, width=3).eval(), torch.randn(5, 9, 4)
    with torch.no_grad():
        whole = attention(x)
        monkeypatch.setattr(modeling_eqtransformer, "_ATTENTION_BLOCK_ELEMENTS", 9 * 9 * 6 * 2)  # 2 windows a block
        blocks = attention(x)
    for a, b in zip(whole, blocks):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_a_traced_attention_keeps_the_batch_dynamic(monkeypatch):
    torch.manual_seed(5)
    attention = EqTransformerAttention(4, 6).eval()
    monkeypatch.setattr(modeling_eqtransformer, "_ATTENTION_BLOCK_ELEMENTS", 1)  # one window a block when not traced
    with torch.no_grad():
        traced = torch.jit.trace(attention, torch.randn(2, 9, 4), check_trace=False)
        x = torch.randn(5, 9, 4)
        torch.testing.assert_close(traced(x)[0], attention(x)[0])  # not unrolled over the 2 windows traced


def test_lstm_and_attention_run_in_float32_under_autocast():
    torch.manual_seed(6)
    lstm, attention, x = EqTransformerLSTM(4, 3, True, "hard_sigmoid", 0.0).eval(), EqTransformerAttention(6, 4), \
        torch.randn(2, 7, 4)  # fmt: skip
    with torch.no_grad():
        expected = attention(lstm(x))[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = attention(lstm(x))[0]
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


def test_inference_path_equals_the_training_path():
    torch.manual_seed(7)
    model = EqTransformerForPhasePicking(tiny_config()).eval()
    x = torch.randn(2, 3, 6000)
    reference = model(x).logits.detach()  # gradients on: unfused convolutions, no fast paths
    with torch.inference_mode():
        fast = model(x).logits
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-5)


def test_keras_same_padding_pads_even_kernels_on_the_right():
    conv = KerasSameConv1d(1, 1, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 10.0]]]))
        conv.bias.zero_()
    out = conv(torch.tensor([[[1.0, 2.0, 3.0]]]))
    torch.testing.assert_close(out, torch.tensor([[[21.0, 32.0, 3.0]]]))  # last: 3*1 + 0*10 (right pad)


def test_local_attention_sees_plus_minus_one_step():
    torch.manual_seed(2)
    attention = EqTransformerAttention(4, 6, width=3)
    with torch.no_grad():
        _, weights = attention(torch.randn(2, 9, 4))
    rows, cols = torch.meshgrid(torch.arange(9), torch.arange(9), indexing="ij")
    assert float(weights[:, (rows - cols).abs() > 1].abs().max()) == 0.0
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 9), atol=1e-5, rtol=0)
    with torch.no_grad():
        _, full = EqTransformerAttention(4, 6)(torch.randn(1, 9, 4))
    assert float(full.min()) > 0.0


def test_save_load_round_trip_through_auto_classes(tmp_path):
    torch.manual_seed(3)
    model = EqTransformerForPhasePicking(tiny_config()).eval()
    extractor = EqTransformerFeatureExtractor(p_threshold=0.2)
    model.save_pretrained(tmp_path)
    extractor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "geohub_eqtransformer"
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, EqTransformerForPhasePicking)
    x = torch.randn(1, 3, 6000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, model(x).logits)
    loaded_extractor = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded_extractor, EqTransformerFeatureExtractor) and loaded_extractor.p_threshold == 0.2


def test_feature_extractor_standardises_each_window_and_channel():
    extractor = EqTransformerFeatureExtractor()
    rng = np.random.default_rng(0)
    windows = rng.normal(5.0, [[[1.0], [20.0], [0.0]]], size=(2, 3, 6000))
    inputs = extractor(windows)["inputs"]
    assert inputs.shape == (2, 3, 6000) and inputs.dtype == torch.float32
    np.testing.assert_allclose(inputs[:, :2].mean(-1).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(inputs[:, :2].std(-1, unbiased=False).numpy(), 1.0, atol=1e-4)
    assert float(inputs[:, 2].abs().max()) == 0.0  # a constant (missing) channel stays zero, no NaN
    with pytest.raises(ValueError, match="ENZ"):
        extractor(np.zeros((2, 6000)))
    with pytest.raises(ValueError, match="resample"):
        extractor(windows, sampling_rate=50)


def test_record_filter_matches_obspy():
    obspy = pytest.importorskip("obspy")
    rng = np.random.default_rng(1)
    data = np.cumsum(rng.normal(size=3000)) + np.linspace(0, 50, 3000)
    trace = obspy.Trace(data.copy(), header={"sampling_rate": 100.0, "channel": "HHZ"})
    expected = obspy.Stream([trace]).copy()
    expected.detrend("linear")
    expected.filter("bandpass", freqmin=1.0, freqmax=45.0, corners=2, zerophase=True)
    expected.taper(max_percentage=0.001, type="cosine", max_length=2)
    extractor = EqTransformerFeatureExtractor()
    got = extractor.filter_stream(obspy.Stream([trace]))[0].data
    np.testing.assert_allclose(got, expected[0].data, atol=1e-6 * np.abs(expected[0].data).max())
    # 45 Hz at or above Nyquist (e.g. 80 Hz records): ObsPy's high-pass fallback, no NaN
    assert np.isfinite(extractor.filter_waveforms(data, 80.0)).all()


def test_picks_are_every_peak_inside_detections():
    from geohub.models.eqtransformer.waveform_eqtransformer import eqt_picks

    thresholds = {"D": 0.3, "P": 0.1, "S": 0.1}
    t = np.arange(6000)
    detection = ((t >= 1000) & (t < 2500)).astype(float) * 0.9
    p = 0.8 * np.exp(-0.5 * ((t - 1005) / 10) ** 2) + 0.5 * np.exp(-0.5 * ((t - 2000) / 10) ** 2)
    p += 0.9 * np.exp(-0.5 * ((t - 4000) / 10) ** 2)  # outside every detection: no pick
    s = 0.6 * np.exp(-0.5 * ((t - 1400) / 10) ** 2) + 0.05 * np.exp(-0.5 * ((t - 1800) / 10) ** 2)
    result = eqt_picks(detection, p, s, thresholds)
    assert [(a, b) for a, b, _ in result["detections"]] == [(1000, 2499)]
    assert [(phase, sample) for phase, sample, _ in result["picks"]] == [("P", 1005), ("S", 1400), ("P", 2000)]
    assert eqt_picks(detection, p, s, {**thresholds, "P": 0.6})["picks"][0][:2] == ("P", 1005)
    # a P peak may lead its detection by p_lead_samples, an S peak may not
    early = 0.8 * np.exp(-0.5 * ((t - 950) / 10) ** 2)
    assert [pick[:2] for pick in eqt_picks(detection, early, early, thresholds)["picks"]] == [("P", 950)]
    assert eqt_picks(detection, early, early, thresholds, p_lead_samples=10)["picks"] == []
