"""Validate the shipped geophysics literature corpus (`geohub/data/corpus/geophysics_abstracts.jsonl`).

The checks read the file line by line with the standard library, so a failure names the record that broke the
schema described in `geohub/data/corpus/README.md`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2] / "geohub" / "data" / "corpus"
CORPUS_FILE = CORPUS_DIR / "geophysics_abstracts.jsonl"

DOMAIN_PREFIX = {
    "seismology": "seis",
    "geomagnetism": "geomag",
    "geodynamics": "geodyn",
    "gravity": "grav",
    "hydrogeology": "hydro",
    "exploration_geophysics": "expl",
}
LABELS = {"ROCK", "MINERAL", "STRAT", "TIMESCALE", "LOCATION", "METHOD", "PHENOMENON", "QUANTITY"}
RELATIONS = {"located_in", "age_of", "hosts", "measured_by", "overlies", "causes", "part_of"}
# Allowed (head labels, tail labels) per relation; None = any label.
RELATION_TYPES = {
    "located_in": (None, {"LOCATION"}),
    "age_of": ({"TIMESCALE"}, {"ROCK", "STRAT"}),
    "hosts": ({"ROCK", "STRAT"}, {"MINERAL", "PHENOMENON"}),
    "measured_by": ({"PHENOMENON", "QUANTITY"}, {"METHOD"}),
    "overlies": ({"STRAT", "ROCK"}, {"STRAT", "ROCK"}),
    "causes": ({"PHENOMENON"}, {"PHENOMENON"}),
    "part_of": ({"LOCATION", "STRAT"}, {"LOCATION", "STRAT"}),
}
FIELDS = {"id", "domain", "title", "text", "summary", "entities", "relations"}
SENTENCE_BREAK = re.compile(r"[.!?]\s+[A-Z]")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    out = []
    with CORPUS_FILE.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            assert line.strip(), f"{CORPUS_FILE}:{lineno}: blank line"
            record = json.loads(line)
            assert set(record) == FIELDS, f"{CORPUS_FILE}:{lineno}: fields {sorted(record)}"
            out.append(record)
    return out


def test_size_ids_and_domains(records):
    assert len(records) >= 150
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    per_domain = Counter(r["domain"] for r in records)
    assert set(per_domain) == set(DOMAIN_PREFIX), per_domain
    assert min(per_domain.values()) >= 20, per_domain
    for r in records:
        assert re.fullmatch(rf"{DOMAIN_PREFIX[r['domain']]}-\d{{3}}", r["id"]), r["id"]


def test_text_and_summary_shape(records):
    for r in records:
        for field in ("title", "text", "summary"):
            assert isinstance(r[field], str) and r[field].strip(), (r["id"], field)
        assert 50 <= len(r["text"].split()) <= 200, (r["id"], len(r["text"].split()))
        summary = r["summary"]
        assert summary.endswith("."), r["id"]
        assert not SENTENCE_BREAK.search(summary), (r["id"], "summary has more than one sentence")
        assert 8 <= len(summary.split()) <= 40, (r["id"], len(summary.split()))
        assert summary not in r["text"], (r["id"], "summary copies the text")
    assert len({r["text"] for r in records}) == len(records), "duplicate abstracts"


def test_entities_are_substrings_with_known_labels(records):
    for r in records:
        assert r["entities"], r["id"]
        for entity in r["entities"]:
            assert set(entity) == {"text", "label"}, (r["id"], entity)
            assert entity["label"] in LABELS, (r["id"], entity)
            assert entity["text"] and entity["text"] in r["text"], (r["id"], entity["text"])
            assert entity["text"] == entity["text"].strip(), (r["id"], entity["text"])


def test_relations_use_entities_of_the_same_record(records):
    for r in records:
        labels = {e["text"]: e["label"] for e in r["entities"]}
        for rel in r["relations"]:
            assert set(rel) == {"head", "relation", "tail"}, (r["id"], rel)
            assert rel["relation"] in RELATIONS, (r["id"], rel)
            assert rel["head"] in labels and rel["tail"] in labels, (r["id"], rel)
            heads, tails = RELATION_TYPES[rel["relation"]]
            assert heads is None or labels[rel["head"]] in heads, (r["id"], rel, labels[rel["head"]])
            assert labels[rel["tail"]] in tails, (r["id"], rel, labels[rel["tail"]])


def test_every_label_and_relation_is_well_represented(records):
    per_label = Counter(e["label"] for r in records for e in r["entities"])
    assert set(per_label) == LABELS, per_label
    assert min(per_label.values()) >= 40, per_label
    per_relation = Counter(rel["relation"] for r in records for rel in r["relations"])
    assert set(per_relation) == RELATIONS, per_relation


def test_dataset_card_statistics_match_the_file(records):
    card = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "license: cc-by-4.0" in card
    assert f"| **total** | **{len(records)}** |" in card
    for label, count in Counter(e["label"] for r in records for e in r["entities"]).items():
        assert f"| {label} | {count} |" in card, label


def test_loads_through_geohub_loader(records):
    from geohub.data.corpus import load_geo_corpus

    corpus = load_geo_corpus()
    assert sum(len(split) for split in corpus.values()) == len(records)
