"""Literature corpora: the embedded corpus, user corpora (JSONL/CSV/Parquet), SciTLDR-A and BGS geo-NER."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import ClassLabel

from geohub.data.corpus import (
    BGS_LABEL_MAPPING,
    DOMAINS,
    ENTITY_TYPES,
    NER_LABELS,
    bio_tags,
    entity_spans,
    held_out,
    load_bgs_ner,
    load_geo_corpus,
    load_scitldr,
    load_text_corpus,
    sentence_spans,
)
from geohub.errors import CorpusError

FIXTURE = Path(__file__).parent / "fixtures" / "geo_corpus_sample.jsonl"


@pytest.fixture(scope="module")
def corpus():
    return load_geo_corpus()


def test_embedded_corpus_is_large_annotated_and_split(corpus):
    train, test = corpus["train"], corpus["test"]
    assert len(train) + len(test) >= 150
    assert isinstance(train.features["ner_tags"].feature, ClassLabel)
    assert train.features["ner_tags"].feature.names == NER_LABELS
    assert set(train.features["domain"].names) == set(DOMAINS)
    assert set(train["id"]).isdisjoint(test["id"])
    assert all(held_out(i) for i in test["id"]) and not any(held_out(i) for i in train["id"])
    assert len(set(test["domain"])) == len(DOMAINS)  # every domain is represented in the held-out split


def test_offsets_and_bio_tags_agree_with_the_text(corpus):
    names = corpus["train"].features["ner_tags"].feature.names
    for record in corpus["train"].select(range(30)):
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
        tags = [names[t] for t in record["ner_tags"]]
        assert len(tags) == len(record["tokens"])
        for start, token in zip(record["token_starts"], record["tokens"]):
            assert record["text"][start : start + len(token)] == token
        begins = sum(t.startswith("B-") for t in tags)
        assert begins == len(record["entities"])


def test_every_occurrence_is_tagged_and_longest_entity_wins():
    text = "Triassic sandstone overlies Triassic mudstone of the Triassic Sherwood Sandstone Group."
    spans = entity_spans(
        text,
        [{"text": "Triassic", "label": "TIMESCALE"}, {"text": "Sherwood Sandstone Group", "label": "STRAT"},
         {"text": "Sandstone", "label": "ROCK"}],
    )  # fmt: skip
    assert [(s["text"], s["start"]) for s in spans] == [
        ("Triassic", 0), ("Triassic", 28), ("Triassic", 53), ("Sherwood Sandstone Group", 62),
    ]  # fmt: skip
    tokens, _, tags = bio_tags(text, spans)
    assert tags[tokens.index("Sherwood") : tokens.index("Group") + 1] == ["B-STRAT", "I-STRAT", "I-STRAT"]


def test_sentence_spans_keep_decimals_and_abbreviations():
    text = "Ages are ca. 2.5 Ma, e.g. in Fig. 3 of the study. Velocities reach 6.1 km/s. The end"
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == ["Ages are ca. 2.5 Ma, e.g. in Fig. 3 of the study.", "Velocities reach 6.1 km/s.", "The end"]


def test_malformed_corpus_names_file_and_line(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    bad = json.loads(lines[2])
    bad["entities"].append({"text": "not in the text at all", "label": "ROCK"})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([lines[0], lines[1], json.dumps(bad)]) + "\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:3 .*entities\[\d+\]"):
        load_geo_corpus(path)
    path.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: invalid JSON"):
        load_geo_corpus(path)
    wrong = json.loads(lines[0]) | {"domain": "astrology"}
    path.write_text(json.dumps(wrong) + "\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:1 field 'domain'"):
        load_geo_corpus(path)


def test_user_corpora_jsonl_csv_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": "a", "text": "First abstract.", "summary": "One."}, {"id": "b", "text": "Second abstract."}]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    csv_path = tmp_path / "c.csv"
    csv_path.write_text('id,text,summary\na,"First abstract.",One.\nb,"Second, abstract.",\n')
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "a", "text": "First abstract.", "summary": "One."}]), parquet)
    assert load_text_corpus(jsonl)["summary"] == ["One.", ""]
    assert load_text_corpus(csv_path)["text"] == ["First abstract.", "Second, abstract."]
    assert load_text_corpus(parquet)[0] == {"id": "a", "text": "First abstract.", "summary": "One."}
    csv_path.write_text("id,text\na,fine\nb,\n")
    with pytest.raises(CorpusError, match=r"c\.csv:3 field 'text'"):
        load_text_corpus(csv_path)
    jsonl.write_text('{"id": "x", "text": "ok"}\n{"id": "y", "text": 5}\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl:2 field 'text'"):
        load_text_corpus(jsonl)
    with pytest.raises(CorpusError, match="could not load the dataset"):
        load_text_corpus("no-such-user/no-such-dataset")


def test_bgs_labels_map_onto_the_schema(shared_data):
    splits = load_bgs_ner(shared_data / "bgs-geo-ner")
    assert len(splits["train"]) > 2400 and len(splits["test"]) > 550
    assert set(BGS_LABEL_MAPPING.values()) <= set(ENTITY_TYPES)
    first = splits["train"][0]
    names = splits["train"].features["ner_tags"].feature.names
    tagged = [(w, names[t]) for w, t in zip(first["tokens"], first["ner_tags"]) if t]
    assert tagged[:3] == [("Mearns", "B-STRAT"), ("Glacigenic", "I-STRAT"), ("Subgroup", "I-STRAT")]
    labels = {names[t] for row in splits["train"]["ner_tags"] for t in row}
    assert {"B-STRAT", "B-TIMESCALE"} <= labels and not any("LEXICON" in label for label in labels)


def test_bgs_malformed_line_is_reported(tmp_path):
    (tmp_path / "train.tsv").write_text("Chalk\tLEXICON\nGroup\tLEXICON\n\nbroken line without tab\n")
    (tmp_path / "test.tsv").write_text("x\tO\n")
    with pytest.raises(CorpusError, match=r"train\.tsv:4"):
        load_bgs_ner(tmp_path)


def test_scitldr_loader(shared_data):
    test = load_scitldr(shared_data / "scitldr-a", "test")
    assert len(test) == 618
    row = test[0]
    assert row["text"].startswith(row["sentences"][0]) and len(row["sentence_labels"]) == len(row["sentences"])
    assert row["summary"] == row["references"][0]
