"""Every model family goes to the Hub and back: train a few steps, push, pull in a fresh process, identical outputs
(`from_pretrained` and `pipeline()`), and load with `trust_remote_code=True` where geohub cannot be imported.

Three subprocesses do all families in one go each (start-up with torch + transformers dominates on 2 cores).
"""

from __future__ import annotations

import importlib
import os

import pytest

from geohub.auto import families

# One tiny spec per family: build(), a few training steps on the model's own loss (GAN: a reconstruction
# objective for the generator), fixed inputs, and the pipeline task serving it, if any.
SPECS = r"""
import numpy as np, torch

def _picker():
    from geohub.models.seismic_picker import SeismicPickerConfig, SeismicPickerForPhasePicking, SeismicFeatureExtractor
    model = SeismicPickerForPhasePicking(SeismicPickerConfig(hidden_sizes=(4, 8), kernel_size=3))
    labels = torch.softmax(torch.randn(2, 4, 3000), dim=1)
    return model, {"inputs": torch.randn(2, 3, 3000)}, labels, [SeismicFeatureExtractor()], (
        "seismic-phase-picking", {"waveforms": np.random.RandomState(0).randn(3, 6000), "sampling_rate": 100.0})

def _magnitude():
    from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression
    from geohub.models.seismic_picker import SeismicFeatureExtractor
    model = SeismicMagnitudeForRegression(SeismicMagnitudeConfig(conv_channels=(4, 8), lstm_hidden_size=8))
    inputs = {"inputs": torch.randn(2, 3, 3000), "log_amplitude": torch.randn(2, 3)}
    return model, inputs, torch.tensor([[3.0, 1.0], [2.0, 1.0]]), [SeismicFeatureExtractor(return_amplitude=True)], (
        "seismic-magnitude", {"waveforms": np.random.RandomState(1).randn(3, 4000), "sampling_rate": 100.0})

def _landform():
    from geohub.models.landform import LandformConfig, LandformCNNForImageClassification
    from geohub.models.terrain_gan import TerrainImageProcessor
    model = LandformCNNForImageClassification(LandformConfig(image_size=32, hidden_sizes=[4, 8], layers_per_stage=1))
    return model, {"pixel_values": torch.randn(2, 1, 32, 32)}, torch.tensor([0, 1]), [
        TerrainImageProcessor(normalization="patch", patch_size=32)], (
        "landform-classification", np.random.RandomState(2).randn(32, 32) * 100.0, {"spacing_m": 30.0})

def _extractive():
    from geohub.models.extractive_summarizer import (ExtractiveSummarizerConfig,
                                                     ExtractiveSummarizerForSentenceExtraction)
    from transformers import AutoTokenizer
    from geohub.environment import offline_minilm_path
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    encoder = {"vocab_size": tokenizer.vocab_size, "hidden_size": 16, "num_hidden_layers": 1,
               "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 128}
    model = ExtractiveSummarizerForSentenceExtraction(
        ExtractiveSummarizerConfig(encoder=encoder, max_sentences=8, num_attention_heads=2))
    inputs = {"input_ids": torch.randint(1000, 2000, (2, 4, 12))}
    text = ("The 2011 Tohoku earthquake ruptured the plate interface. Tsunami waves reached 40 m. "
            "GPS stations moved up to 5 m eastward. Aftershocks continued for years.")
    return model, inputs, torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]]), [tokenizer], (
        "extractive-summarization", text, {"num_sentences": 2})

def _terrain_gan():
    from geohub.models.terrain_gan import TerrainGAN, TerrainGANConfig, TerrainImageProcessor
    config = TerrainGANConfig(image_size=16, latent_dim=8, generator_channels=16, discriminator_channels=4,
                              min_channels=4, max_channels=16)
    return TerrainGAN(config), {"latents": torch.randn(2, *config.latent_shape)}, None, [TerrainImageProcessor(patch_size=16)], (
        "terrain-generation", {"num_samples": 2, "seed": 0})

def _minilm_token_classification():
    # the real all-MiniLM-L6-v2 tokenizer (offline package) in front of a tiny BERT token classifier
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification
    from geohub.environment import offline_minilm_path
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3, id2label={0: "O", 1: "B-ROCK", 2: "I-ROCK"},
                        label2id={"O": 0, "B-ROCK": 1, "I-ROCK": 2})
    return BertForTokenClassification(config), {"input_ids": torch.randint(1000, 2000, (2, 10))}, \
        torch.randint(0, 3, (2, 10)), [tokenizer], (
        "token-classification", "Basaltic andesite erupted from the stratovolcano in 1991.", {"ignore_labels": []})

def _bert2bert():
    from transformers import AutoTokenizer, BertConfig, EncoderDecoderConfig, EncoderDecoderModel
    from geohub.environment import offline_minilm_path
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    tiny = dict(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=32)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(BertConfig(**tiny),
                                                               BertConfig(**tiny, is_decoder=True,
                                                                          add_cross_attention=True))
    config.decoder_start_token_id, config.pad_token_id = tokenizer.cls_token_id, tokenizer.pad_token_id
    config.eos_token_id = tokenizer.sep_token_id
    model = EncoderDecoderModel(config)
    model.generation_config.decoder_start_token_id = tokenizer.cls_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.sep_token_id
    inputs = {"input_ids": torch.randint(1000, 2000, (2, 10)), "decoder_input_ids": torch.randint(1000, 2000, (2, 6))}
    return model, inputs, inputs["decoder_input_ids"], [tokenizer], (
        "geo-summarization", "Seismic tomography images slabs sinking into the lower mantle.",
        {"max_new_tokens": 6, "num_beams": 1})

def _eqtransformer():
    from geohub.models.eqtransformer import (EqTransformerConfig, EqTransformerFeatureExtractor,
                                             EqTransformerForPhasePicking)
    config = EqTransformerConfig(encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2], num_lstm_blocks=1,
                                 lstm_units=4, attention_units=4, feed_forward_units=8,
                                 decoder_filters=[4, 4, 2, 2, 2, 2, 2])
    labels = torch.zeros(2, 3, 6000)
    labels[:, 0, 1000:3000], labels[:, 1, 990:1010], labels[:, 2, 1990:2010] = 1.0, 1.0, 1.0
    return EqTransformerForPhasePicking(config), {"inputs": torch.randn(2, 3, 6000)}, labels, [
        EqTransformerFeatureExtractor()], (
        "seismic-phase-picking", {"waveforms": np.random.RandomState(5).randn(3, 6000), "sampling_rate": 100.0})

def _gpd():
    from geohub.models.gpd import GPDConfig, GPDFeatureExtractor, GPDForWindowClassification
    config = GPDConfig(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3], hidden_sizes=[8])
    return GPDForWindowClassification(config), {"inputs": torch.randn(4, 3, 400)}, torch.tensor([0, 1, 2, 2]), [
        GPDFeatureExtractor()], (
        "seismic-phase-picking", {"waveforms": np.random.RandomState(6).randn(3, 2000), "sampling_rate": 100.0},
        {"p_threshold": 0.3, "s_threshold": 0.3})  # an untrained GPD sits near 1/3: low thresholds give picks

def _seismic_denoiser():
    # no pipeline declared: the model and its feature extractor go to the Hub and back
    from geohub.models.seismic_denoiser import (SeismicDenoiserConfig, SeismicDenoiserFeatureExtractor,
                                                SeismicDenoiserForDenoising)
    model = SeismicDenoiserForDenoising(SeismicDenoiserConfig(hidden_sizes=[4, 8], window_length=600))
    inputs = torch.randn(2, 3, 600)
    return model, {"inputs": inputs}, 0.5 * inputs, [SeismicDenoiserFeatureExtractor()], None

def _relation_classifier():
    # the real all-MiniLM-L6-v2 tokenizer (offline package) as processor; marked documents in, entity pairs scored
    from transformers import AutoTokenizer, BertConfig
    from geohub.environment import offline_minilm_path
    from geohub.models.relation_classifier import RelationClassifierConfig, RelationClassifierForPairClassification
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    encoder = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=128).to_dict()
    model = RelationClassifierForPairClassification(RelationClassifierConfig(
        encoder=encoder, relation_types=["hosts", "overlies"], entity_types=["ROCK", "STRAT"], freeze_encoder=False))
    inputs = {"input_ids": torch.randint(1000, 2000, (2, 12)), "attention_mask": torch.ones(2, 12, dtype=torch.long),
              "mention_index": torch.tensor([[1, 4, 7], [2, 5, 9]]),
              "mention_entity": torch.tensor([[0, 1, 0], [0, 1, -1]]),
              "pair_document": torch.tensor([0, 0, 1]), "pair_head": torch.tensor([0, 1, 0]),
              "pair_tail": torch.tensor([1, 0, 1]), "pair_extra": torch.randn(3, model.config.num_extra_features)}
    return model, inputs, torch.tensor([1, 0, 2]), [tokenizer], None

def _catalog(seed):
    # a small sorted catalogue: times in days (float64) and magnitudes above Mc 1.0
    rng = np.random.RandomState(seed)
    times = torch.from_numpy(np.sort(rng.uniform(0.0, 30.0, 40)))
    return times, torch.from_numpy(1.0 + rng.exponential(1 / 2.3, 40))

def _etas():
    # no processor (a catalogue is read by geohub.data.catalogs); the loss is the model's own negative log-likelihood
    from geohub.models.etas import EtasConfig, EtasForForecasting
    times, magnitudes = _catalog(7)
    return EtasForForecasting(EtasConfig()), {"times": times, "magnitudes": magnitudes, "first_target": 5}, None, [], None

def _neural_point_process():
    from geohub.models.neural_point_process import NeuralPointProcessConfig, NeuralPointProcessForForecasting
    from geohub.models.neural_point_process.modeling_neural_point_process import history_states
    config = NeuralPointProcessConfig(hidden_size=8, num_mixture=2, history_scales=[0.1, 10.0])
    times, magnitudes = _catalog(8)
    states = torch.from_numpy(history_states(times.numpy(), magnitudes.numpy().astype("float32"), config))
    inputs = {"times": times[None], "magnitudes": magnitudes[None].float(), "states": states[None],
              "scored": torch.ones(1, 40, dtype=torch.bool)}
    return NeuralPointProcessForForecasting(config), inputs, None, [], None

SPECS = {"stock.bert2bert_summarizer": _bert2bert, "geohub.models.seismic_picker": _picker, "geohub.models.seismic_magnitude": _magnitude,
         "geohub.models.landform": _landform, "geohub.models.extractive_summarizer": _extractive,
         "geohub.models.terrain_gan": _terrain_gan, "stock.minilm_token_classification": _minilm_token_classification,
         "geohub.models.eqtransformer": _eqtransformer, "geohub.models.gpd": _gpd,
         "geohub.models.seismic_denoiser": _seismic_denoiser,
         "geohub.models.relation_classifier": _relation_classifier, "geohub.models.etas": _etas,
         "geohub.models.neural_point_process": _neural_point_process}

def tensors(output):
    return {k: v.detach() for k, v in output.items() if torch.is_tensor(v)}

def processor_probe(processor):
    # (Auto class name, fixed input) for a geohub processor
    from transformers.image_processing_base import ImageProcessingMixin
    if isinstance(processor, ImageProcessingMixin):
        return "AutoImageProcessor", np.random.RandomState(4).randn(32, 32).astype("float32") * 100.0
    return "AutoFeatureExtractor", np.random.RandomState(3).randn(3, 3000).astype("float32")

def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
"""

TRAIN_AND_PUSH = r"""
import json, torch, geohub
from pathlib import Path
from transformers import pipeline
from geohub import hub
from geohub.hub import auto_class_name
wanted = json.loads(WANTED)
manifest = {}
for name in wanted:
    torch.manual_seed(0)
    model, inputs, labels, processors, pipe = SPECS[name]()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(3):  # a few real optimisation steps
        output = model(**inputs, labels=labels) if labels is not None else model(**inputs)
        # labels, or a model whose loss needs none (point processes); the GAN: a reconstruction objective
        loss = output.loss if output.get("loss") is not None else output.samples.pow(2).mean()
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()), f"{name} did not train"
    model.eval()
    folder = Path("runs") / name.split(".")[-1]
    model.save_pretrained(folder)
    for processor in processors:
        processor.save_pretrained(folder)
    (folder / "all_results.json").write_text(json.dumps({"eval_loss": float(loss)}))
    with torch.no_grad():
        expected = tensors(model(**inputs))
    repo_id = "alice/rt-" + name.split(".")[-1].replace("_", "-")
    hub.push(folder, repo_id)
    if name == "geohub.models.seismic_picker":  # transformers' own PreTrainedModel.push_to_hub works as well
        model.push_to_hub("alice/rt-direct-picker", commit_message="push_to_hub")
        manifest["direct"] = {"repo_id": "alice/rt-direct-picker", "auto": "AutoModel", "geohub_family": False,
                              "same_as": name}
    saved = {"inputs": inputs, "expected": expected}
    entry = {"repo_id": repo_id, "auto": auto_class_name(json.loads((folder / "config.json").read_text())),
             "geohub_family": name.startswith("geohub.")}
    if processors and not hasattr(processors[0], "vocab_size"):  # tokenizers are checked through pipeline()
        entry["processor_auto"], probe = processor_probe(processors[0])
        saved["processor_expected"] = tensors(processors[0](probe))
    torch.save(saved, f"{name}.pt")
    if pipe is not None:
        entry["task"] = pipe[0]
        entry["pipeline_kwargs"] = pipe[2] if len(pipe) > 2 else {}
        entry["pipeline_expected"] = jsonable(pipeline(pipe[0], model=str(folder))(pipe[1], **entry["pipeline_kwargs"]))
    manifest[name] = entry
print("RESULT " + json.dumps(manifest))
"""

LOAD_AND_COMPARE = r"""
import json, os, torch, transformers
from transformers import pipeline
REMOTE = REMOTE_FLAG
if not REMOTE:
    import geohub
    from geohub.hub import pull
manifest = json.loads(MANIFEST)
out = {}
for name, entry in manifest.items():
    if REMOTE and not entry["geohub_family"]:
        continue
    auto = getattr(transformers, entry["auto"])
    model = auto.from_pretrained(entry["repo_id"], trust_remote_code=True) if REMOTE else auto.from_pretrained(
        entry["repo_id"])
    saved = torch.load(f"{entry.get('same_as', name)}.pt", weights_only=True)
    with torch.no_grad():
        got = tensors(model(**saved["inputs"]))
    same = got.keys() == saved["expected"].keys() and all(torch.equal(got[k], saved["expected"][k]) for k in got)
    result = {"same_outputs": same, "module": type(model).__module__}
    if name == "geohub.models.seismic_picker":  # the card's usage snippets work as written
        import re
        from huggingface_hub import hf_hub_download
        card = open(hf_hub_download(entry["repo_id"], "README.md")).read()
        snippets = re.findall(r"```python\n(.*?)```", card, flags=re.DOTALL)
        namespace = {}
        exec(snippets[1] if REMOTE else snippets[0], namespace)
        result["card_snippet"] = type(namespace["model"]).__name__
        if REMOTE:  # remote code runs only when asked
            try:
                auto.from_pretrained(entry["repo_id"])
                result["refused_without_trust"] = False
            except ValueError as err:
                result["refused_without_trust"] = "trust_remote_code" in str(err)
    if REMOTE and entry.get("processor_auto") == "AutoFeatureExtractor":
        processor = getattr(transformers, entry["processor_auto"]).from_pretrained(entry["repo_id"],
                                                                                  trust_remote_code=True)
        got = tensors(processor(processor_probe(processor)[1]))
        want = saved["processor_expected"]
        result["same_processor"] = got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)
        result["processor_module"] = type(processor).__module__
    if "task" in entry and not REMOTE:
        # straight from the repo id: the pipeline fetches the model and its processor from the Hub
        result["same_pipeline"] = jsonable(pipeline(entry["task"], model=entry["repo_id"])(
            SPECS[name]()[4][1], **entry["pipeline_kwargs"])) == entry["pipeline_expected"]
    out[name] = result
try:
    import geohub  # noqa
    out["geohub_importable"] = True
except ImportError:
    out["geohub_importable"] = False
print("RESULT " + json.dumps(out))
"""


def _wanted() -> list[str]:
    families_with_code = [family.package for family in families().values() if family.config]
    return families_with_code + ["stock.minilm_token_classification", "stock.bert2bert_summarizer"]


def test_specs_cover_every_registered_family():
    namespace: dict = {}
    exec(SPECS, namespace)  # noqa: S102 - the spec source shared with the subprocesses
    missing = [module for module in _wanted() if module not in namespace["SPECS"]]
    assert not missing, f"add a round-trip spec for {missing}"
    for module in _wanted():
        if module.startswith("geohub."):
            importlib.import_module(module)


@pytest.mark.slow
def test_round_trip_every_family(hub_client, tmp_path):
    wanted = _wanted()
    manifest, _ = hub_client(SPECS + f"WANTED = {os.fspath(repr(__import__('json').dumps(wanted)))}\n" + TRAIN_AND_PUSH,
                             timeout=600)  # fmt: skip
    assert manifest.pop("direct")["repo_id"] == "alice/rt-direct-picker"
    assert sorted(manifest) == sorted(wanted)
    manifest["direct"] = {"repo_id": "alice/rt-direct-picker", "auto": "AutoModel", "geohub_family": False,
                          "same_as": "geohub.models.seismic_picker"}  # fmt: skip
    fresh_home = tmp_path / "fresh-hf-home"  # nothing cached: the fresh process downloads everything
    # the manifest (pipeline results included) can exceed the 128 KiB limit of one command-line argument: a file
    (tmp_path / "manifest.json").write_text(__import__("json").dumps(manifest))  # the clients' working directory
    code = SPECS + "MANIFEST = open('manifest.json').read()\n"
    local, proc = hub_client(code + LOAD_AND_COMPARE.replace("REMOTE_FLAG", "False"), hf_home=fresh_home)
    assert "Do you wish to run the custom code" not in proc.stdout + proc.stderr, "geohub must not prompt"
    assert local.pop("geohub_importable") is True
    assert local["geohub.models.seismic_picker"]["card_snippet"] == "SeismicPickerForPhasePicking"
    for name, result in local.items():
        assert result["same_outputs"], f"{name}: outputs differ after push/pull"
        if "task" in manifest[name]:
            assert manifest[name]["pipeline_expected"], f"{name}: the pipeline returned nothing to compare"
            assert result["same_pipeline"], f"{name}: pipeline() results differ after push/pull"
    remote_code = code.replace("import numpy as np, torch", "import numpy as np, torch")
    remote, proc = hub_client(remote_code + LOAD_AND_COMPARE.replace("REMOTE_FLAG", "True"), isolated=True,
                              hf_home=tmp_path / "remote-hf-home")  # fmt: skip
    assert remote.pop("geohub_importable") is False, "the remote-code process could import geohub"
    families = [name for name in wanted if name.startswith("geohub.")]
    assert sorted(remote) == sorted(families)
    assert remote["geohub.models.seismic_picker"]["card_snippet"] == "SeismicPickerForPhasePicking"
    assert remote["geohub.models.seismic_picker"]["refused_without_trust"] is True
    for name, result in remote.items():
        assert result["same_outputs"], f"{name}: remote-code model gives different outputs"
        assert not result["module"].startswith("geohub"), result["module"]
        if manifest[name].get("processor_auto") == "AutoFeatureExtractor":  # image processors: see geohub/hub.py
            assert result["same_processor"], f"{name}: remote-code processor differs"
            assert not result["processor_module"].startswith("geohub"), result["processor_module"]
