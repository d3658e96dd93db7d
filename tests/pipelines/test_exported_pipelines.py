"""`transformers.pipeline(task, model=EXPORT_FOLDER)` takes a `geohub export` folder (onnx, int8, onnx-int8) like a
model folder, for every geohub pipeline task, and answers like the fp32 model (ONNX within its tolerance, the int8
formats within a few per cent of the output range on these tiny untrained models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import pipeline

import geohub  # noqa: F401  (registers the tasks)
from geohub.export import ExportedModelLoader, OnnxModel, export_model


def _wave(seed: int, samples: int) -> dict:
    return {"waveforms": np.random.RandomState(seed).randn(3, samples), "sampling_rate": 100.0}


def _picker():
    from geohub.models.seismic_picker import SeismicFeatureExtractor, SeismicPickerConfig, SeismicPickerForPhasePicking

    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3))
    return model, [SeismicFeatureExtractor()], "seismic-phase-picking", _wave(0, 6000), {}


def _gpd():
    from geohub.models.gpd import GPDConfig, GPDFeatureExtractor, GPDForWindowClassification

    config = GPDConfig(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3], hidden_sizes=[8])
    options = {"p_threshold": 0.3, "s_threshold": 0.3}  # an untrained GPD sits near 1/3: low thresholds give picks
    return (
        GPDForWindowClassification(config),
        [GPDFeatureExtractor()],
        "seismic-phase-picking",
        _wave(6, 2000),
        options,
    )


def _magnitude():
    from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
    from geohub.models.seismic_picker import SeismicFeatureExtractor

    model = SeismicMagnitudeForRegression(SeismicMagnitudeConfig(conv_channels=(4, 8), lstm_hidden_size=8))
    return model, [SeismicFeatureExtractor(return_amplitude=True)], "seismic-magnitude", _wave(1, 4000), {}


def _denoiser():
    from geohub.models.seismic_denoiser import (
        SeismicDenoiserConfig,
        SeismicDenoiserFeatureExtractor,
        SeismicDenoiserForDenoising,
    )

    model = SeismicDenoiserForDenoising(SeismicDenoiserConfig(hidden_sizes=[4, 8], window_length=600))
    extractor = SeismicDenoiserFeatureExtractor.from_config(model.config)
    return model, [extractor], "seismic-denoising", _wave(2, 2000), {}


def _landform():
    from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
    from geohub.models.terrain_gan import TerrainImageProcessor

    model = LandformCNNForImageClassification(LandformConfig(image_size=32, hidden_sizes=[4, 8], layers_per_stage=1))
    dem = np.random.RandomState(3).randn(64, 64) * 100.0
    processor = TerrainImageProcessor(normalization="patch", patch_size=32)
    return model, [processor], "landform-classification", dem, {"spacing_m": 30.0}


def _terrain_gan():
    from geohub.models.terrain_gan import TerrainGAN, TerrainGANConfig, TerrainImageProcessor

    config = TerrainGANConfig(image_size=16, latent_dim=8, generator_channels=16, discriminator_channels=4,
                              min_channels=4, max_channels=16)  # fmt: skip
    return (
        TerrainGAN(config),
        [TerrainImageProcessor(patch_size=16)],
        "terrain-generation",
        {"num_samples": 2, "seed": 0},
        {},
    )


def _minilm_tokenizer():
    from transformers import AutoTokenizer

    from geohub.environment import offline_minilm_path

    return AutoTokenizer.from_pretrained(offline_minilm_path())


def _tagger():
    from transformers import BertConfig, BertForTokenClassification

    tokenizer = _minilm_tokenizer()
    labels = {0: "O", 1: "B-ROCK", 2: "I-ROCK"}
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3, id2label=labels,
                        label2id={v: k for k, v in labels.items()})  # fmt: skip
    text = "Basaltic andesite erupted from the stratovolcano in 1991. Granite intrudes the schist."
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)  # decisive tags: int8 noise must not flip an untrained model's argmax
    return model, [tokenizer], "knowledge-extraction", text, {"relation_model": "rules"}


def _extractive():
    from geohub.models.extractive_summarizer import (
        ExtractiveSummarizerConfig,
        ExtractiveSummarizerForSentenceExtraction,
    )

    tokenizer = _minilm_tokenizer()
    encoder = {"vocab_size": tokenizer.vocab_size, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
               "intermediate_size": 32, "max_position_embeddings": 128}  # fmt: skip
    config = ExtractiveSummarizerConfig(encoder=encoder, max_sentences=8, num_attention_heads=2)
    text = ("The 2011 Tohoku earthquake ruptured the plate interface. Tsunami waves reached 40 m. "
            "GPS stations moved up to 5 m eastward. Aftershocks continued for years.")  # fmt: skip
    model = ExtractiveSummarizerForSentenceExtraction(config)
    return model, [tokenizer], "extractive-summarization", text, {"num_sentences": 2}


# family -> (builder, export formats); int8 is refused for the convolution-only U-Nets (tested in test_export.py)
ALL = ("onnx", "int8", "onnx-int8")
CASES = {
    "seismic_picker": (_picker, ("onnx",)),
    "gpd": (_gpd, ALL),
    "seismic_magnitude": (_magnitude, ALL),
    "seismic_denoiser": (_denoiser, ("onnx",)),
    "landform": (_landform, ALL),
    "terrain_gan": (_terrain_gan, ("onnx",)),  # the convolutional generator: no Linear layer to quantise
    "entity_tagger": (_tagger, ALL),
    "extractive_summarizer": (_extractive, ALL),
}
# torch.export of the MiniLM encoder: ~10-30 s each on a busy CPU
SLOW = {("extractive_summarizer", "onnx"), ("extractive_summarizer", "onnx-int8")}


def _close(a, b, atol: float, path: str = "", array_atol: float | None = None) -> None:
    """Recursive comparison of pipeline outputs: floats within `atol`, arrays and traces within `array_atol` (default
    `atol`) times their largest |value|; everything else equal."""
    array_atol = atol if array_atol is None else array_atol
    import obspy

    if isinstance(a, obspy.Stream):
        assert [t.id for t in a] == [t.id for t in b], path
        for x, y in zip(a, b):
            assert x.stats.starttime == y.stats.starttime and x.stats.npts == y.stats.npts, path
            np.testing.assert_allclose(x.data, y.data, atol=array_atol * (np.abs(y.data).max() + 1e-9), err_msg=path)
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            _close(a[key], b[key], atol, f"{path}.{key}", array_atol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, atol, f"{path}[{i}]", array_atol)
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape, path
        np.testing.assert_allclose(a, b, atol=array_atol * (np.abs(b).max() + 1e-9), err_msg=path)
        assert np.abs(a - b).mean() <= atol * (np.abs(b).max() + 1e-9), path
    elif isinstance(a, float):
        assert abs(a - b) <= atol, (path, a, b)
    else:
        assert a == b, (path, a, b)


def _similar(entity: dict, entities: list[dict]) -> bool:
    """The same span and label with a score within 0.05."""
    key = (entity["start"], entity["end"], entity["label"])
    return any(
        (e["start"], e["end"], e["label"]) == key and abs(e["score"] - entity["score"]) <= 0.05 for e in entities
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family -> (task, input, options, {"fp32": folder, "onnx": folder, "int8": folder})."""
    root = tmp_path_factory.mktemp("exported-pipelines")
    cache: dict = {}

    def get(family: str, fmt: str):
        if family not in cache:
            torch.manual_seed(0)
            model, processors, task, inputs, options = CASES[family][0]()
            folder = root / family
            model.eval().save_pretrained(folder)
            for processor in processors:
                processor.save_pretrained(folder)
            cache[family] = (task, inputs, options, {"fp32": folder})
        folders = cache[family][3]
        if fmt not in folders:
            folders[fmt] = root / f"{family}-{fmt}"
            export_model(folders["fp32"], fmt, folders[fmt])
        return cache[family]

    return get


PARAMS = [
    pytest.param(family, fmt, marks=[pytest.mark.slow] if (family, fmt) in SLOW else [], id=f"{family}-{fmt}")
    for family, (_, formats) in CASES.items()
    for fmt in formats
]


@pytest.mark.parametrize("family,fmt", PARAMS)
def test_pipeline_takes_an_export_folder(exported, family, fmt):
    task, inputs, options, folders = exported(family, fmt)
    reference = pipeline(task, model=str(folders["fp32"]))
    served = pipeline(task, model=str(folders[fmt]))
    if fmt == "onnx":
        assert isinstance(served.model, OnnxModel)
    elif fmt == "onnx-int8":
        assert isinstance(served.model, OnnxModel) and served.model.info["quantized_nodes"] > 0
    else:
        assert any("quantized" in type(m).__module__ for m in served.model.modules())
    # the processor saved beside the export (non-default settings in these cases) is the one the pipeline uses
    for name in ("tokenizer", "image_processor", "feature_extractor"):
        want, got = getattr(reference, name), getattr(served, name)
        assert (want is None) == (got is None), name
        if want is not None and hasattr(want, "vocab_size"):
            assert got.vocab_size == want.vocab_size and folders[fmt].name in got.name_or_path
        elif want is not None:
            assert got.to_dict() == want.to_dict(), name
    expected, actual = reference(inputs, **options), served(inputs, **options)
    if fmt == "onnx":
        _close(actual, expected, atol=1e-4)
    elif task == "knowledge-extraction":  # int8 may flip near-tie tags of this untrained tagger (merging spans)
        same = [e for e in expected["entities"] if e in actual["entities"] or _similar(e, actual["entities"])]
        assert len(same) >= 0.5 * len(expected["entities"]) > 0
        for entity in (e for e in expected["entities"] if e["score"] >= 0.6):  # a confident one stays (overlapping)
            assert any(a["label"] == entity["label"] and a["start"] < entity["end"] and entity["start"] < a["end"]
                       for a in actual["entities"]), entity  # fmt: skip
    else:  # int8: scores within 0.05, arrays within 5 % of their range on average and 15 % at worst
        _close(actual, expected, atol=0.05, array_atol=0.15)


def test_loader_falls_through_for_model_folders_and_names_them(exported, tmp_path):
    _, _, _, folders = exported("landform", "onnx")
    assert isinstance(ExportedModelLoader.from_pretrained(str(folders["onnx"])), OnnxModel)
    with pytest.raises(OSError, match="no export.json"):
        ExportedModelLoader.from_pretrained(str(folders["fp32"]))  # pipeline() then tries the task's Auto class
    import shutil

    shutil.copy(folders["fp32"] / "config.json", tmp_path / "config.json")  # a config, but no weights, no export
    with pytest.raises(ValueError, match="(?s)ExportedModelLoader.*no export.json"):
        pipeline("landform-classification", model=str(tmp_path))
