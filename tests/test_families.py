"""The one declaration per family: every registry is derived from it, and processors are first-class.

Checked for every family found under geohub/models/ (a new family is covered without editing this file).
"""

from __future__ import annotations

import json

import pytest
import transformers
from transformers import AutoConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

import geohub  # noqa: F401  (registers the families)
from geohub.auto import demo_slots, families, family_for_config, pipeline_tasks, training_tasks
from geohub.family import Family
from geohub.inference.loading import load_processor

FAMILIES = sorted(families().values(), key=lambda f: f.name)
WITH_CODE = [f for f in FAMILIES if f.config]
WITH_PROCESSOR = [f for f in WITH_CODE if f.processor]


def test_every_model_folder_declares_its_family():
    from pathlib import Path

    folders = {p.parent.name for p in (Path(geohub.__file__).parent / "models").glob("*/__init__.py")}
    assert folders == {f.name for f in FAMILIES}, "a folder under geohub/models/ lacks family.py (or vice versa)"


@pytest.mark.parametrize("family", WITH_CODE, ids=lambda f: f.name)
def test_config_is_registered_under_its_prefixed_type_and_legacy_names(family: Family, tmp_path):
    config_class = family.config_class()
    assert config_class.model_type == family.model_type and family.model_type.startswith("geohub_")
    assert CONFIG_MAPPING[family.model_type] is config_class
    for legacy in family.legacy_model_types:  # folders saved under an older name still load
        assert CONFIG_MAPPING[legacy] is config_class
        config_class().save_pretrained(tmp_path)
        data = json.loads((tmp_path / "config.json").read_text())
        (tmp_path / "config.json").write_text(json.dumps({**data, "model_type": legacy}))
        assert type(AutoConfig.from_pretrained(tmp_path)) is config_class
        assert family_for_config({"model_type": legacy}) is family
    for path, auto_name in family.models.items():
        model_class = family.load(path)
        assert getattr(transformers, auto_name)._model_mapping[config_class] is model_class


def test_a_clash_with_another_librarys_model_type_is_an_error():
    from geohub.auto import _register_config

    class Impostor(transformers.PretrainedConfig):
        model_type = "geohub_landform"

    with pytest.raises(RuntimeError, match="already registered"):
        _register_config("geohub_landform", Impostor)
    with pytest.raises(RuntimeError, match="already registered"):
        _register_config("bert", Impostor, alias=True)


@pytest.mark.parametrize("family", WITH_PROCESSOR, ids=lambda f: f.name)
def test_processor_loads_through_its_auto_class_from_a_saved_folder(family: Family, tmp_path):
    config_class, processor_class = family.config_class(), family.processor_class()
    config_class().save_pretrained(tmp_path)
    processor_class().save_pretrained(tmp_path)
    auto = getattr(transformers, family.processor_auto)
    assert isinstance(auto.from_pretrained(tmp_path), processor_class)
    assert isinstance(load_processor(tmp_path), processor_class)
    (tmp_path / "preprocessor_config.json").unlink()
    with pytest.raises(geohub.HubError, match="no processor"):
        load_processor(tmp_path)


def test_registries_are_derived_from_the_declarations():
    tasks = training_tasks()
    assert {f.task for f in FAMILIES if f.task} == set(tasks)
    pipelines = pipeline_tasks()
    assert {d.task for f in FAMILIES for d in f.pipelines} == set(pipelines)
    from transformers.pipelines import PIPELINE_REGISTRY

    for task, (family, decl) in pipelines.items():
        assert PIPELINE_REGISTRY.check_task(task)[1]["impl"] is family.load(decl.pipeline_class)
    slots = demo_slots()
    assert {f.demo.slot for f in FAMILIES if f.demo} == set(slots)
    flags = [decl.flag for _, decl in slots.values()]
    assert len(flags) == len(set(flags)), "two demo slots share a CLI flag"
    from geohub.demo.models import model_specs

    assert set(model_specs()) == set(slots)


@pytest.mark.parametrize("family", [f for f in WITH_CODE if f.waveform], ids=lambda f: f.name)
def test_waveform_api_reads_the_familys_own_adapter(family: Family):
    """The waveform API knows a seismic family only through its `waveform=` declaration."""
    from geohub.inference.waveform import WaveformModel, waveform_model_types

    model = family.load(next(iter(family.models)))(family.config_class()())
    api = WaveformModel(model)  # feature extractor: saved one, else the family's default
    module = family.module(family.waveform)
    assert api.spec.code == module.spec(model, lambda name, default: default)["code"]
    assert len(api.adapter.empty) == len(api.spec.labels)
    assert family.model_type in waveform_model_types()


def test_a_model_without_a_waveform_declaration_is_refused_by_the_waveform_api():
    from geohub.errors import WaveformError
    from geohub.inference.waveform import WaveformModel

    landform = families()["landform"]
    model = landform.load(next(iter(landform.models)))(landform.config_class()())
    with pytest.raises(WaveformError, match="no waveform adapter"):
        WaveformModel(model)


def test_conversions_are_the_families_declarations():
    from geohub.convert import convertible

    declared = {d.name: f for f in FAMILIES for d in f.conversions}
    assert set(convertible()) == set(declared) and {"eqtransformer-original", "gpd-original"} <= set(declared)
    for name, family in declared.items():
        assert callable(family.load(convertible()[name].converter)), name


def test_cards_come_from_the_family_and_stock_models_stay_generic(tmp_path):
    from geohub.hub import build_model_card

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    card = build_model_card(tmp_path, "alice/plain-bert")
    assert "entity extraction" not in card.lower() and "pipeline_tag" not in card  # a plain BERT is not our tagger
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "geohub_family": "entity_tagger",
                                                      "architectures": ["BertForTokenClassification"]}))  # fmt: skip
    card = build_model_card(tmp_path, "alice/tagger")
    assert "geoscience entity extraction" in card.lower() and "pipeline_tag: token-classification" in card
