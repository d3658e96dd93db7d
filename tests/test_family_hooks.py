"""A family's knowledge lives in its folder: every hook (explain, export, demo tab and slot, pick rule, input type) is
declared in its `family.py`, the declarations are validated, shared code names no family's model type, and the
documented list of files a family adds is the same in `geohub/family.py` and the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from geohub.auto import demo_slots, families
from geohub.family import (
    DEMO_TABS,
    INPUT_TYPES,
    CardDecl,
    DemoDecl,
    ExportDecl,
    Family,
    OptOut,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "geohub"
CARD = CardDecl("Task", "an architecture", "a citation", "some data")


def test_input_type_is_declared_validated_and_has_room_for_catalogues():
    assert all(f.input_type in INPUT_TYPES for f in families().values())
    assert {"waveform", "image", "text", "latent"} <= {f.input_type for f in families().values()}
    catalogue = Family(name="toy_forecaster", package="pkg.toy_forecaster", card=CARD, input_type="catalog")
    assert catalogue.input_type == "catalog"
    with pytest.raises(ValueError, match="input_type 'tabular' must be one of waveform, image, text, latent, catalog"):
        Family(name="bad", package="pkg.bad", card=CARD, input_type="tabular")


def test_hook_declarations_are_validated():
    with pytest.raises(ValueError, match="formats"):
        ExportDecl(formats=("tflite",))
    with pytest.raises(ValueError, match="length"):
        ExportDecl(length="variable")
    with pytest.raises(ValueError, match="dynamic_axes"):
        ExportDecl(example=".export_x:example_inputs")
    with pytest.raises(TypeError, match="explain= takes"):
        Family(name="bad", package="pkg.bad", card=CARD, input_type="text", explain=42)
    with pytest.raises(TypeError, match="export= takes"):
        Family(name="bad", package="pkg.bad", card=CARD, input_type="text", export="onnx")
    with pytest.raises(ValueError, match="tab 'maps'"):
        DemoDecl("slot", "--flag", "ENV", "what", tab="maps")
    with pytest.raises(ValueError, match="needs choice"):
        DemoDecl("slot", "--flag", "ENV", "what", tab="seismic", role="picker")
    assert isinstance(families()["abstractive_summarizer"].export, OptOut)  # an opt-out says why
    assert "seq2seq" in families()["abstractive_summarizer"].export.reason


@pytest.mark.parametrize("name", sorted(n for n, f in families().items() if f.waveform))
def test_each_seismic_family_owns_its_pick_rule(name):
    """The waveform API's pick rule is the `picks` hook of the family's own `waveform_<family>.py`."""
    family = families()[name]
    module = family.module(family.waveform)
    assert module.__name__ == f"{family.package}.waveform_{name}"
    model = family.tiny_model()
    if model is None:
        pytest.skip(f"{name} declares no tiny_config")
    spec = module.spec(model, lambda _name, default: default)
    assert spec.get("picking") in (None, getattr(module, "picks", None))
    if spec.get("picking") is not None:
        assert family.demo is not None and family.demo.role == "picker"  # every picker is a choice in the demo


def test_demo_tabs_and_pickers_come_from_the_declarations():
    from geohub.demo.app import TAB_BUILDERS, declared_tabs
    from geohub.demo.handlers import best_available_picker, seismic_pickers, tab_slot

    declared = {decl.tab for _, decl in demo_slots().values() if decl.tab}
    assert set(declared_tabs()) == declared and set(TAB_BUILDERS) == set(DEMO_TABS)
    pickers = {decl.choice: slot for slot, (_, decl) in demo_slots().items() if decl.role == "picker"}
    assert seismic_pickers() == {choice: pickers[choice] for choice in seismic_pickers()} and set(pickers) == set(
        seismic_pickers()
    )
    preferred = sorted((d.preference, d.choice) for _, d in demo_slots().values() if d.preference is not None)
    assert best_available_picker() == "best available (" + ", else ".join(c.split(" (")[0] for _, c in preferred) + ")"
    for tab in declared & set(DEMO_TABS):
        assert demo_slots()[tab_slot(tab) if tab != "seismic" else tab_slot(tab, "picker")][1].tab == tab


def _family_model_types() -> set[str]:
    return {
        t for f in families().values() for t in (f.model_type, *f.legacy_model_types) if t and t.startswith("geohub_")
    }


def test_shared_code_names_no_familys_model_type():
    """Outside `geohub/models/`, no string literal is a family's model type: shared code asks the declaration."""
    model_types = _family_model_types()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "models" in path.relative_to(PACKAGE).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in model_types:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert not found, "model_type literals outside geohub/models/ (ask the family's declaration):\n" + "\n".join(found)


def _listed_files(text: str) -> list[str]:
    """The file names of the 'files a family adds' block (lines naming `<family>` or `<task>` paths)."""
    return re.findall(r"^\s*((?:geohub/|recipes/|tests/)?[\w./]*<(?:family|task)>[\w./<>]*|[\w]+(?:_<family>)?\.py)\s",
                      text, re.M)  # fmt: skip


def test_the_files_a_family_adds_are_documented_alike_in_family_py_and_the_readme():
    import geohub.family

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Add a family") :]
    section = section[: section.index("\n## ")]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    docstring = geohub.family.__doc__
    listed = _listed_files(block)
    assert listed == _listed_files(docstring), "README 'Add a family' and geohub/family.py list different files"
    assert {"family.py", "explain_<family>.py", "waveform_<family>.py", "processing_<family>.py"} <= set(listed)
    folder = Path(families()["seismic_picker"].module(".family").__file__).parent
    documented = {name.replace("<family>", "seismic_picker") for name in listed if name.endswith(".py")}
    assert {p.name for p in folder.glob("*.py")} <= documented  # a real family adds only listed files
