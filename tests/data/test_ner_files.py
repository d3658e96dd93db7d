"""Labelled entity data from any source: CoNLL (any scheme, any separator, header), JSONL spans, datasets."""

from __future__ import annotations

import json

import pytest
from datasets import ClassLabel, Dataset, Features, Sequence, Value

from geohub.data.ner_files import (
    case_token_types,
    ner_splits,
    read_conll,
    read_ner_dataset,
    read_span_jsonl,
    relabel,
    split_off,
    to_iob2,
)
from geohub.errors import CorpusError


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["B-ROCK", "I-ROCK", "O", "B-MINERAL"], ["B-ROCK", "I-ROCK", "O", "B-MINERAL"]),  # IOB2
        (["I-ROCK", "I-ROCK", "B-ROCK", "O"], ["B-ROCK", "I-ROCK", "B-ROCK", "O"]),  # IOB1
        (["S-ROCK", "B-ORE", "I-ORE", "E-ORE", "S-ORE"], ["B-ROCK", "B-ORE", "I-ORE", "I-ORE", "B-ORE"]),  # BIOES
        (["U-ROCK", "B-ORE", "L-ORE"], ["B-ROCK", "B-ORE", "I-ORE"]),  # BILOU
        (["ROCK", "ROCK", "O", "MINERAL", "ROCK"], ["B-ROCK", "I-ROCK", "O", "B-MINERAL", "B-ROCK"]),  # plain
        (["B_ROCK", "I_ROCK"], ["B-ROCK", "I-ROCK"]),  # underscore after the prefix
    ],
)
def test_every_tag_scheme_becomes_iob2(tags, expected):
    assert to_iob2(tags) == expected


def test_conll_with_header_docstart_and_any_separator(tmp_path):
    tab = _write(tmp_path, "a.conll", "token\ttag\n-DOCSTART-\tO\n\nBasalt\tB-ROCK\nflows\tO\n\nOlivine\tS-MINERAL\n")
    spaces = _write(tmp_path, "b.txt", "Basalt  NN  I-ROCK\nflows NNS O\n\n\nOlivine NN B-MINERAL\n")
    pipes = _write(tmp_path, "c.bio", "Basalt|ROCK\nflows|O\n\nOlivine|MINERAL\n")
    for path in (tab, spaces, pipes):
        sentences = read_conll(path)
        assert [s["tokens"] for s in sentences] == [["Basalt", "flows"], ["Olivine"]], path.name
        assert [s["tags"] for s in sentences] == [["B-ROCK", "O"], ["B-MINERAL"]], path.name


def test_conll_errors_name_file_line_and_expectation(tmp_path):
    one_column = _write(tmp_path, "bad.conll", "Basalt B-ROCK\nflows\n")
    with pytest.raises(CorpusError, match=r"bad\.conll:2.*token and a tag"):
        read_conll(one_column)
    mixed = _write(tmp_path, "mixed.conll", "Basalt B-ROCK\nflows O\ngranite ROCK\n")
    with pytest.raises(CorpusError, match=r"mixed\.conll:3.*no B-/I- prefix"):
        read_conll(mixed)
    with pytest.raises(CorpusError, match="not found"):
        read_conll(tmp_path / "missing.conll")


def test_jsonl_spans_triples_and_surface_strings(tmp_path):
    text = "Granite hosts cassiterite. The Cornubian Batholith is Permian."
    records = [
        {"id": "a", "text": text, "entities": [{"start": 0, "end": 7, "label": "ROCK"},
                                              {"start": 31, "end": 50, "label": "STRAT"}]},
        {"text": text, "label": [[14, 25, "MINERAL"]]},
        {"text": text, "entities": [{"text": "Permian", "label": "TIMESCALE"}]},
    ]  # fmt: skip
    path = _write(tmp_path, "spans.jsonl", "\n".join(json.dumps(r) for r in records))
    sentences = read_span_jsonl(path)
    assert len(sentences) == 6  # two sentences per record
    assert sentences[0]["tokens"][:2] == ["Granite", "hosts"] and sentences[0]["tags"][0] == "B-ROCK"
    assert sentences[1]["tags"][1:3] == ["B-STRAT", "I-STRAT"]
    assert sentences[2]["tags"][2] == "B-MINERAL"
    assert sentences[5]["tags"][-2:] == ["B-TIMESCALE", "O"]


def test_jsonl_errors_name_the_line(tmp_path):
    path = _write(tmp_path, "bad.jsonl", '{"text": "Granite.", "entities": []}\n{"text": "Basalt.", "entities": '
                  '[{"start": 3, "end": 99, "label": "ROCK"}]}\n')  # fmt: skip
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2.*not inside the text"):
        read_span_jsonl(path)


def test_datasets_folder_with_class_labels(tmp_path):
    names = ["O", "B-ROCK", "I-ROCK"]
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=names))})
    Dataset.from_dict({"tokens": [["Black", "shale", "."]], "ner_tags": [[1, 2, 0]]}, features=features).save_to_disk(
        str(tmp_path / "ds")
    )
    rows = read_ner_dataset(tmp_path / "ds")
    assert rows[0]["tags"] == ["B-ROCK", "I-ROCK", "O"]
    with pytest.raises(CorpusError, match="could not load"):
        read_ner_dataset(tmp_path / "no-such-dataset")


def test_label_map_restriction_and_label_set_from_the_data(tmp_path):
    train = _write(tmp_path, "train.conll", "Chalk LEXICON\nGroup LEXICON\nis O\nCretaceous CHRONOSTRAT\n\n"
                   "Granite ROCK\n.\tO\n")  # fmt: skip
    splits, names = ner_splits(str(train), label_map={"LEXICON": "ROCK_UNIT"})
    assert names == ["O", "B-CHRONOSTRAT", "I-CHRONOSTRAT", "B-ROCK", "I-ROCK", "B-ROCK_UNIT", "I-ROCK_UNIT"]
    assert splits["validation"] is None and splits["test"] is None
    splits, names = ner_splits(
        str(train), label_map={"LEXICON": "ROCK_UNIT", "CHRONOSTRAT": "O"}, labels=["ROCK_UNIT"]
    )
    assert names == ["O", "B-ROCK_UNIT", "I-ROCK_UNIT"]
    tags = [names[t] for t in splits["train"][0]["ner_tags"]]
    assert tags == ["B-ROCK_UNIT", "I-ROCK_UNIT", "O", "O"]
    with pytest.raises(CorpusError, match="label_map names types that do not occur"):
        ner_splits(str(train), label_map={"LEXICN": "X"})
    with pytest.raises(CorpusError, match="do not occur in the data"):
        ner_splits(str(train), labels=["MINERAL"])


def test_validation_fraction_from_the_end_or_seeded():
    records = [{"id": str(i), "tokens": ["x"], "tags": ["O"]} for i in range(10)]
    rest, held = split_off(records, 0.2)
    assert [r["id"] for r in held] == ["8", "9"] and len(rest) == 8
    _, seeded = split_off(records, 0.2, seed=1)
    assert seeded == split_off(records, 0.2, seed=1)[1] and len(seeded) == 2
    with pytest.raises(CorpusError, match="between 0 and 1"):
        split_off(records, 1.5)


def test_relabel_keeps_iob2_consistent():
    out = relabel([{"id": "a", "tokens": list("abc"), "tags": ["B-X", "I-X", "B-Y"]}], {"X": "Z"}, keep=["Z"])
    assert out[0]["tags"] == ["B-Z", "I-Z", "O"]


def test_case_feature_marks_capitalised_words():
    assert case_token_types([None, 0, 0, 1, None], ["Granite", "hosts"]) == [0, 1, 1, 0, 0]


# --- issue #21 case 8: every token kept, header lines recognised or refused ------------------------------------
def test_punctuation_tokens_are_kept_in_space_separated_files(tmp_path):
    """Before: `,` and `;` tagged O were dropped (393 of 11,894 tokens of a real set) and a comma inside an entity
    was an 'empty token' error."""
    text = "Rocks O\n, O\nsands O\n; O\nthe O\nRoss B-FM\n, I-FM\nFm I-FM\n. O\n"
    sentences = read_conll(_write(tmp_path, "s.txt", text))
    assert sentences[0]["tokens"] == ["Rocks", ",", "sands", ";", "the", "Ross", ",", "Fm", "."]
    assert sentences[0]["tags"] == ["O", "O", "O", "O", "O", "B-FM", "I-FM", "I-FM", "O"]


@pytest.mark.parametrize("sep", ["\t", ",", ";", "|"])
def test_the_separator_character_as_a_token_is_kept(tmp_path, sep):
    rows = [("Basalt", "B-ROCK"), (",", "O"), (";", "O"), ("|", "O"), ("flows", "O")]
    sentences = read_conll(_write(tmp_path, "x.conll", "".join(f"{t}{sep}{g}\n" for t, g in rows)))
    assert sentences[0]["tokens"] == [t for t, _ in rows] and sentences[0]["tags"][0] == "B-ROCK"


@pytest.mark.parametrize("header", ["Word TrueLabel", "token\ttag", "Token NER_Tag", "word label"])
def test_header_lines_are_recognised_when_the_first_sentence_is_all_o(tmp_path, header):
    """Before: `Word TrueLabel` over an all-O first sentence became a fake entity type TrueLabel."""
    sep = "\t" if "\t" in header else " "
    body = "".join(f"{t}{sep}O\n" for t in ("The", "till", "is", "thick")) + f"\nGranite{sep}ROCK\n"
    sentences = read_conll(_write(tmp_path, "h.txt", header + "\n" + body))
    assert sentences[0]["tokens"] == ["The", "till", "is", "thick"]
    assert {tag for s in sentences for tag in s["tags"]} == {"O", "B-ROCK"}


def test_a_half_header_is_refused_and_a_recurring_tag_is_data(tmp_path):
    with pytest.raises(CorpusError, match=r"h\.txt:1.*may be a header"):
        read_conll(_write(tmp_path, "h.txt", "Word GRANITE\nThe O\ntill O\n"))
    data = read_conll(_write(tmp_path, "d.txt", "Word LABEL\nThe O\n\nLabel LABEL\n"))
    assert data[0]["tokens"] == ["Word", "The"] and data[0]["tags"] == ["B-LABEL", "O"]


def test_a_real_tsv_and_its_space_separated_copy_give_the_same_tokens(shared_data, tmp_path):
    tsv = shared_data / "bgs-geo-ner" / "train.tsv"
    if not tsv.is_file():
        pytest.skip("bgs-geo-ner is absent")
    spaced = tmp_path / "train.txt"
    spaced.write_text(tsv.read_text(encoding="utf-8").replace("\t", " "), encoding="utf-8")
    a, b = read_conll(tsv), read_conll(spaced)
    assert [s["tokens"] for s in a] == [s["tokens"] for s in b]
    assert [s["tags"] for s in a] == [s["tags"] for s in b]
    assert sum(t in {",", ";"} for s in b for t in s["tokens"]) > 100
