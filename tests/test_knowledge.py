"""Relation rules and the knowledge graph: provenance, JSON-LD / GraphML / CSV round trips, bad files."""

from __future__ import annotations

import json

import pytest

from geohub.data.corpus import sentence_spans
from geohub.errors import DataError
from geohub.knowledge import KnowledgeGraph, Mention, extract_relations

TEXT = (
    "The Chalk Group of southern England overlies the Gault Formation, a mudstone of Cretaceous age. "
    "Seismic tomography reveals a mantle plume beneath Iceland. The plume causes dynamic topography."
)


def _mentions(text: str, items: list[tuple[str, str]]) -> list[Mention]:
    spans = sentence_spans(text)
    mentions = []
    for surface, label in items:
        start = text.index(surface)
        sentence = next(i for i, (a, b) in enumerate(spans) if a <= start < b)
        mentions.append(Mention(surface, label, start, start + len(surface), 0.9, sentence))
    return mentions


@pytest.fixture
def mentions():
    return _mentions(
        TEXT,
        [("Chalk Group", "STRAT"), ("southern England", "LOCATION"), ("Gault Formation", "STRAT"),
         ("mudstone", "ROCK"), ("Cretaceous", "TIMESCALE"), ("Seismic tomography", "METHOD"),
         ("mantle plume", "PHENOMENON"), ("Iceland", "LOCATION"), ("dynamic topography", "PHENOMENON")],
    )  # fmt: skip


def test_rules_find_typed_relations_within_sentences(mentions):
    found = {(r.head.text, r.relation, r.tail.text) for r in extract_relations(TEXT, mentions)}
    assert ("Chalk Group", "located_in", "southern England") in found
    assert ("Chalk Group", "overlies", "Gault Formation") in found
    assert ("Cretaceous", "age_of", "mudstone") in found
    assert ("mantle plume", "measured_by", "Seismic tomography") in found
    assert ("mantle plume", "located_in", "Iceland") in found
    # nothing crosses a sentence boundary, and types are respected (a LOCATION is never measured)
    assert not any(h == "Iceland" or t == "Iceland" and rel != "located_in" for h, rel, t in found)
    assert ("Cretaceous", "causes", "Seismic tomography") not in found


@pytest.fixture
def graph(mentions):
    graph = KnowledgeGraph()
    graph.add_document("doc-1", TEXT, mentions, extract_relations(TEXT, mentions))
    graph.add_document("doc-2", "Chalk Group aquifers.", [Mention("Chalk Group", "STRAT", 0, 11, 0.5, 0)], [])
    return graph


def test_graph_keeps_provenance(graph):
    chalk = next(e for e in graph.entities("STRAT") if e["text"] == "Chalk Group")
    assert {m["doc_id"] for m in chalk["mentions"]} == {"doc-1", "doc-2"}
    first = next(m for m in chalk["mentions"] if m["doc_id"] == "doc-1")
    assert TEXT[first["start"] : first["end"]] == "Chalk Group"
    assert first["sentence"].startswith("The Chalk Group of southern England")
    triple = next(t for t in graph.triples() if t["relation"] == "overlies")
    assert TEXT[triple["tail_start"] : triple["tail_end"]] == "Gault Formation"
    assert 0 < triple["confidence"] <= 0.9


@pytest.mark.parametrize("suffix", [".jsonld", ".graphml", ".csv"])
def test_export_round_trips(graph, tmp_path, suffix):
    path = tmp_path / f"kg{suffix}"
    graph.write(path)
    back = KnowledgeGraph.read(path)
    assert back.triples() == graph.triples()
    if suffix != ".csv":  # CSV holds triples only; the others keep every entity and its mentions
        assert sorted(map(json.dumps, back.entities()), key=str) == sorted(map(json.dumps, graph.entities()), key=str)


def test_jsonld_is_linked_data(graph, tmp_path):
    document = graph.to_jsonld(tmp_path / "kg.jsonld")
    assert "@context" in document
    statements = [item for item in document["@graph"] if item["@type"] == "geohub:Relation"]
    assert statements and all(s["subject"]["@id"].startswith("geohub:entity/") for s in statements)
    assert json.loads((tmp_path / "kg.jsonld").read_text())["@graph"] == json.loads(json.dumps(document["@graph"]))


def test_bad_graph_files_are_reported(tmp_path, graph):
    path = tmp_path / "kg.csv"
    graph.to_csv(path)
    lines = path.read_text().splitlines()
    lines[2] = (
        lines[2]
        .replace(",overlies,", ",sits_on,")
        .replace(",located_in,", ",sits_on,")
        .replace(",age_of,", ",sits_on,")
    )
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"kg\.csv:3.*unknown relation"):
        KnowledgeGraph.from_csv(path)
    (tmp_path / "kg.txt").write_text("x")
    with pytest.raises(DataError, match="unknown graph format"):
        KnowledgeGraph.read(tmp_path / "kg.txt")
    (tmp_path / "broken.jsonld").write_text("{")
    with pytest.raises(DataError, match="invalid JSON-LD"):
        KnowledgeGraph.read(tmp_path / "broken.jsonld")


def test_mentions_of_one_entity_merge_across_documents_with_any_label():
    graph = KnowledgeGraph()
    graph.add_document("a", "The Chalk Group is white.", [Mention("Chalk Group", "ROCK_UNIT", 4, 15)], [])
    graph.add_document("b", "the chalk  group.", [Mention("chalk  group", "ROCK_UNIT", 4, 16)], [])
    [node] = graph.entities("ROCK_UNIT")
    assert node["id"] == "ROCK_UNIT:chalk group" and {m["doc_id"] for m in node["mentions"]} == {"a", "b"}
    with pytest.raises(DataError, match="invalid entity label"):
        graph.add_entity("x", "", "x", [])


def test_byte_garbage_is_not_tagged_as_quantity(tmp_path):
    """Issue 13: text made of random bytes gave QUANTITY entities; a tagger that says QUANTITY everywhere must
    find none in garbage, and still find them in text."""
    import os
    import random

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from geohub.environment import offline_minilm_path
    from geohub.inference.text import extract

    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    labels = ["O", "B-QUANTITY", "I-QUANTITY"]
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, id2label=dict(enumerate(labels)),
                        label2id={k: i for i, k in enumerate(labels)})  # fmt: skip
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias[1] = 8.0
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    random.seed(0)
    garbage = [os.urandom(400).decode("latin-1"), os.urandom(400).decode("utf-8", errors="replace"),
               "".join(chr(random.randrange(0, 0x2FF)) for _ in range(400))]  # fmt: skip
    graph = extract(garbage, model=str(tmp_path), relation_model="rules")
    assert graph.entities("QUANTITY") == []
    graph = extract(["The slab dips 45 degrees at 120 km depth."], model=str(tmp_path), relation_model="rules")
    assert {e["text"] for e in graph.entities("QUANTITY")} >= {"45", "120"}
