"""The corpus as tagger training data: sentence rows, weakly labelled summaries, and the annotation guidelines of
`geohub/data/corpus/README.md` (units kept whole, every unit quantity tagged, names tagged where they recur)."""

import re
from collections import Counter, defaultdict

import pytest

from geohub.data.corpus import CORPUS_PATH, entity_spans, read_corpus_records, word_spans
from geohub.data.ner_files import geo_corpus_sentences, ner_splits

# a number with a unit (or a moment magnitude): what QUANTITY covers by the guidelines
_UNIT = (
    r"(?:km/s|m/s|km/day|mm/yr|cm/yr|m/yr|km³/yr|Gt/yr|km|cm|mm|m|Ma|Ga|ka|kyr|Myr|years|yr|mGal|μGal|nT|μT|"
    r"ohm m|S/m|°C|g/cm³|kg/m³|mg/L|g/L|μg/L|Hz|MHz|kHz|mV/V|mrad|MPa|GPa|kPa|km²|m²/day|m²|m³|%|mW/m²|mD)"
)
_QUANTITY = re.compile(
    rf"(?:Mw \d(?:\.\d)?|(?<![\^\w.])\d[\d,]*(?:\.\d+)?(?:\s?[-–]\s?\d[\d,]*(?:\.\d+)?)?\s?{_UNIT})(?![\w/³²])"
)
# generic words deliberately left untagged (see the guidelines)
_GENERIC = {"lithosphere", "asthenosphere", "craton", "iron", "paleomagnetic", "magnetotelluric", "dynamo",
            "induction", "anisotropy", "heterogeneity", "enrichment", "ambient noise", "fluid flow", "gravity field",
            "gravity changes", "elastic thickness", "Jordan"}  # fmt: skip


@pytest.fixture(scope="module")
def records():
    return read_corpus_records(CORPUS_PATH)


def _untagged(record, begin, end, spans, starts, ends):
    return begin in starts and end in ends and not any(s["start"] < end and begin < s["end"] for s in spans)


def test_every_unit_quantity_is_tagged_whole(records):
    missed = []
    for record in records:
        spans = entity_spans(record["text"], record["entities"])
        words = word_spans(record["text"])
        starts, ends = {s for s, _ in words}, {e for _, e in words}
        for match in _QUANTITY.finditer(record["text"]):
            if _untagged(record, *match.span(), spans, starts, ends):
                missed.append((record["id"], match.group()))
    assert not missed, missed[:20]


def test_names_are_tagged_wherever_they_recur(records):
    types = defaultdict(Counter)
    for record in records:
        for entity in record["entities"]:
            types[entity["text"]][entity["label"]] += 1
    missed = []
    for record in records:
        spans = entity_spans(record["text"], record["entities"])
        words = word_spans(record["text"])
        starts, ends = {s for s, _ in words}, {e for _, e in words}
        for surface, labels in types.items():
            if surface in _GENERIC or len(labels) > 1 or not re.search(r"[A-Za-z]", surface):
                continue
            if surface not in record["text"]:
                continue
            for match in re.finditer(re.escape(surface), record["text"]):
                if _untagged(record, *match.span(), spans, starts, ends):
                    missed.append((record["id"], surface))
    assert not missed, missed[:20]


@pytest.fixture(scope="module")
def train_rows():
    return geo_corpus_sentences("train"), geo_corpus_sentences("train", summaries=True)


def test_summaries_are_weakly_labelled_training_sentences(train_rows):
    plain, rows = train_rows
    summaries = [r for r in rows if r["id"].endswith("-summary")]
    assert len(rows) == len(plain) + len(summaries) and len(summaries) > 150
    assert {r["id"] for r in plain} <= {r["id"] for r in rows}
    tagged = [r for r in summaries if any(t != "O" for t in r["tags"])]
    assert len(tagged) > 0.8 * len(summaries)
    for row in summaries:
        assert len(row["tokens"]) == len(row["tags"])
        for previous, tag in zip(["O"] + row["tags"], row["tags"]):  # IOB2: an I- continues the same type
            assert not tag.startswith("I-") or previous[2:] == tag[2:], row
    first = next(r for r in summaries if r["id"] == "seis-001-summary")
    assert first["tags"][first["tokens"].index("afterslip")] == "B-PHENOMENON"


def test_held_out_split_has_no_summaries_and_training_does(train_rows):
    splits, names = ner_splits("geo_corpus", corpus_summaries=True)
    assert "B-PHENOMENON" in names
    assert len(splits["validation"]) == len(geo_corpus_sentences("test"))
    assert len(splits["train"]) == len(train_rows[1])
    assert len(ner_splits("geo_corpus")[0]["train"]) == len(train_rows[0])
