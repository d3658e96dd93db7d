"""GPDForWindowClassification on tiny configs: shapes, channels-last flatten, loss, save/load, feature extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

import geohub  # noqa: F401  (registers the Auto classes)
from geohub.models.gpd import GPDConfig, GPDFeatureExtractor, GPDForWindowClassification


def tiny_config(**overrides) -> GPDConfig:
    kwargs = dict(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3], hidden_sizes=[8])
    kwargs.update(overrides)
    return GPDConfig(**kwargs)


def test_forward_shapes_and_losses():
    torch.manual_seed(0)
    model = GPDForWindowClassification(tiny_config())
    inputs = torch.randn(4, 3, 400)
    out = model(inputs, labels=torch.tensor([0, 1, 2, 2]), output_hidden_states=True)
    assert out.logits.shape == (4, 3) and out.pooler_output.shape == (4, 8)
    torch.testing.assert_close(out.probabilities.sum(-1), torch.ones(4))
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 2, 2])))
    soft = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    torch.testing.assert_close(model(inputs, labels=soft).loss, out.loss)
    out.loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0
    assert model.config.id2label == {0: "P", 1: "S", 2: "Noise"}
    with pytest.raises(ValueError, match=r"\(batch, 3, 400\)"):
        model(torch.randn(1, 3, 300))


def test_flatten_is_channels_last():
    """The first dense layer sees features in Keras' (time, channel) order: feature index t * C + c."""
    model = GPDForWindowClassification(tiny_config(hidden_sizes=[]))
    model.eval()
    captured = {}
    model.classifier.register_forward_hook(lambda m, args, out: captured.setdefault("x", args[0]))
    x = torch.randn(1, 3, 400)
    model(x)
    hidden = x
    for block in model.convs:  # the plain Conv1d / BatchNorm1d / ReLU / max-pool path, channels first
        hidden = torch.nn.functional.max_pool1d(torch.relu(block.norm(block.conv(hidden))), 2)
    torch.testing.assert_close(captured["x"][0], hidden[0].T.reshape(-1), atol=1e-5, rtol=1e-5)


def test_save_load_round_trip_through_auto_classes(tmp_path):
    torch.manual_seed(1)
    model = GPDForWindowClassification(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    GPDFeatureExtractor(trigger_threshold=0.9).save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "geohub_gpd"
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, GPDForWindowClassification)
    x = torch.randn(2, 3, 400)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, model(x).logits)
    extractor = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(extractor, GPDFeatureExtractor) and extractor.trigger_threshold == 0.9


def test_windows_and_max_abs_normalisation():
    extractor = GPDFeatureExtractor()
    record = np.arange(3 * 1000, dtype=float).reshape(3, 1000)
    windows, starts = extractor.sliding_windows(record)
    assert windows.shape == (61, 3, 400) and list(starts[:3]) == [0, 10, 20] and starts[-1] == 600
    np.testing.assert_array_equal(windows[5, 1], record[1, 50:450])
    inputs = extractor(windows[:2])["inputs"]
    assert float(inputs.abs().amax(dim=(1, 2)).min()) == pytest.approx(1.0)
    np.testing.assert_allclose(inputs[0, 2].numpy(), record[2, :400] / record[2, 399], rtol=1e-6)
    assert float(extractor(np.zeros((3, 400)))["inputs"].abs().max()) == 0.0
    with pytest.raises(ValueError, match="400 samples"):
        extractor.sliding_windows(record[:, :100])


def test_record_filter_matches_obspy():
    obspy = pytest.importorskip("obspy")
    rng = np.random.default_rng(1)
    data = np.cumsum(rng.normal(size=2000)) + np.linspace(0, 30, 2000)
    trace = obspy.Trace(data.copy(), header={"sampling_rate": 100.0, "channel": "HHN"})
    expected = obspy.Stream([trace]).copy()
    expected.detrend("linear")
    expected.filter("bandpass", freqmin=3.0, freqmax=20.0)
    got = GPDFeatureExtractor().filter_stream(obspy.Stream([trace]))[0].data
    np.testing.assert_allclose(got, expected[0].data, atol=1e-8 * np.abs(expected[0].data).max())


def test_stream_to_array_orders_n_e_z_and_zero_fills():
    obspy = pytest.importorskip("obspy")
    traces = [obspy.Trace(np.full(50, v), header={"channel": c}) for c, v in (("HHZ", 3.0), ("HH1", 1.0))]
    array = GPDFeatureExtractor().stream_to_array(obspy.Stream(traces))
    np.testing.assert_array_equal(array[:, 0], [1.0, 0.0, 3.0])


def test_picks_follow_gpd_trigger_rules():
    from geohub.models.gpd.waveform_gpd import gpd_picks

    probabilities = np.zeros((100, 3))
    probabilities[:, 2] = 1.0
    probabilities[20:26, 0] = [0.995, 0.999, 0.9995, 0.998, 0.5, 0.05]  # trigger 20..24, arg-max at 22
    probabilities[60:62, 1] = [0.9999, 0.05]  # a one-sample trigger is dropped, as in the original
    probabilities[70:74, 1] = [0.997, 0.9999, 0.2, 0.01]
    picks = gpd_picks({"P": probabilities[:, 0], "S": probabilities[:, 1]}, 0.994, 0.1)
    assert picks == [("P", 22, pytest.approx(0.9995)), ("S", 71, pytest.approx(0.9999))]
    assert gpd_picks({"P": probabilities[:, 0]}, 0.99999, 0.1) == []


def _randomise_batchnorm(model):
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)


def test_inference_path_folds_batchnorm_and_matches_the_layer_path():
    """Eval + no grad runs the folded, TorchScript-frozen `GPDInference`: same logits as the layer-by-layer path
    (float32 rounding), any batch size, rebuilt when a weight changes; bfloat16 stays close."""
    torch.manual_seed(2)
    model = GPDForWindowClassification(tiny_config(conv_kernel_sizes=[5, 4])).eval()  # an even kernel pads right
    _randomise_batchnorm(model)
    x = torch.randn(5, 3, 400)
    reference = model(x).logits.detach()  # gradients on: the layer path
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, reference, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(x[:2]).logits, reference[:2], atol=1e-5, rtol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(model(x).probabilities, reference.softmax(-1), atol=1e-6, rtol=1e-5)
        model.classifier.bias.add_(1.0)  # a changed parameter rebuilds the cached inference module
        torch.testing.assert_close(model(x).logits, reference + 1.0, atol=1e-5, rtol=1e-5)
    model.config.inference_dtype = "bfloat16"
    with torch.no_grad():
        fast = model(x)
    assert fast.logits.dtype == torch.float32
    torch.testing.assert_close(fast.probabilities, (reference + 1.0).softmax(-1), atol=2e-2, rtol=0)
    with pytest.raises(ValueError, match="inference_dtype"):
        tiny_config(inference_dtype="float16")


def test_training_and_gradients_keep_the_layer_path():
    torch.manual_seed(3)
    model = GPDForWindowClassification(tiny_config())
    model.train()
    x = torch.randn(4, 3, 400)
    with torch.no_grad():
        train_logits = model(x).logits  # training mode: batch statistics, not the folded eval weights
    model.eval()
    with torch.no_grad():
        eval_logits = model(x).logits
    assert not torch.allclose(train_logits, eval_logits, atol=1e-3)
    out = model(x)
    assert out.logits.requires_grad


def test_quantised_layers_fall_back_to_the_layer_path():
    torch.manual_seed(4)
    model = GPDForWindowClassification(tiny_config()).eval()
    x = torch.randn(3, 3, 400)
    with torch.no_grad():
        fast = model(x).logits  # builds the folded path
        quantised = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        out = quantised(x).logits  # layers replaced: no stale folded path, the quantised modules run
    assert type(quantised.classifier) is not torch.nn.Linear
    torch.testing.assert_close(out, fast, atol=0.1, rtol=0.1)
    assert not torch.equal(out, fast)
