"""Literature corpora as `datasets` objects with explicit `Features`.

Public API:

- `load_geo_corpus(path=None) -> DatasetDict` — the geophysics abstracts shipped with geohub
  (`geohub/data/corpus/geophysics_abstracts.jsonl`), split into a fixed `train` / `test` (held-out) split by a
  hash of each record's id, with character offsets of every entity occurrence and word-level BIO tags.
- `load_text_corpus(source, ...) -> Dataset` — a user's corpus: JSONL, CSV, Parquet file or a dataset repo id
  (columns `id`, `text`, optional `summary`).
- `load_scitldr(root, split) -> Dataset` — SciTLDR-A (`../shared/data/scitldr-a`) for summarization.
- `load_bgs_ner(root) -> DatasetDict` — the BGS geology NER set (`../shared/data/bgs-geo-ner`), its labels mapped
  onto geohub's schema by `BGS_LABEL_MAPPING`.
- `word_spans(text)`, `sentence_spans(text)`, `bio_tags(text, entities)` — the tokenisation used everywhere.

Malformed records raise `geohub.errors.CorpusError` naming the file and the line (or row).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from datasets import Sequence as SequenceFeature

from ..errors import CorpusError

__all__ = [
    "ENTITY_TYPES",
    "NER_LABELS",
    "RELATION_TYPES",
    "DOMAINS",
    "BGS_LABEL_MAPPING",
    "CORPUS_PATH",
    "CORPUS_FEATURES",
    "TEXT_FEATURES",
    "NER_FEATURES",
    "word_spans",
    "sentence_spans",
    "entity_spans",
    "bio_tags",
    "read_corpus_records",
    "load_geo_corpus",
    "load_text_corpus",
    "load_scitldr",
    "load_bgs_ner",
    "held_out",
]

ENTITY_TYPES: tuple[str, ...] = (
    "ROCK",
    "MINERAL",
    "STRAT",
    "TIMESCALE",
    "LOCATION",
    "METHOD",
    "PHENOMENON",
    "QUANTITY",
)
NER_LABELS: list[str] = ["O"] + [f"{prefix}-{kind}" for kind in ENTITY_TYPES for prefix in ("B", "I")]
RELATION_TYPES: tuple[str, ...] = ("located_in", "age_of", "hosts", "measured_by", "overlies", "causes", "part_of")
DOMAINS: tuple[str, ...] = (
    "seismology", "geomagnetism", "geodynamics", "gravity", "hydrogeology", "exploration_geophysics",
)  # fmt: skip

# BGS geo-NER labels -> geohub schema. LEXICON entries are named lithostratigraphic units (STRAT) and
# CHRONOSTRAT entries chronostratigraphic names (TIMESCALE). BIOZONE names (17 tokens in train, e.g. graptolite
# zones) are biostratigraphic units used to date rocks, so they are declared TIMESCALE: the schema has no
# biostratigraphy class and a biozone answers "when", like a stage name.
BGS_LABEL_MAPPING: dict[str, str] = {"LEXICON": "STRAT", "CHRONOSTRAT": "TIMESCALE", "BIOZONE": "TIMESCALE"}

CORPUS_PATH = Path(__file__).resolve().parent / "corpus" / "geophysics_abstracts.jsonl"
HELD_OUT_PERCENT = 20

_ENTITY_FEATURE = {
    "text": Value("string"),
    "label": ClassLabel(names=list(ENTITY_TYPES)),
    "start": Value("int32"),
    "end": Value("int32"),
}
_RELATION_FEATURE = {
    "head": Value("string"),
    "relation": ClassLabel(names=list(RELATION_TYPES)),
    "tail": Value("string"),
}
CORPUS_FEATURES = Features(
    {
        "id": Value("string"),
        "domain": ClassLabel(names=list(DOMAINS)),
        "title": Value("string"),
        "text": Value("string"),
        "summary": Value("string"),
        "entities": [_ENTITY_FEATURE],
        "relations": [_RELATION_FEATURE],
        "tokens": SequenceFeature(Value("string")),
        "token_starts": SequenceFeature(Value("int32")),
        "ner_tags": SequenceFeature(ClassLabel(names=NER_LABELS)),
    }
)
TEXT_FEATURES = Features({"id": Value("string"), "text": Value("string"), "summary": Value("string")})
NER_FEATURES = Features(
    {
        "id": Value("string"),
        "tokens": SequenceFeature(Value("string")),
        "ner_tags": SequenceFeature(ClassLabel(names=NER_LABELS)),
    }
)
SCITLDR_FEATURES = Features(
    {
        "id": Value("string"),
        "text": Value("string"),
        "summary": Value("string"),
        "sentences": SequenceFeature(Value("string")),
        "sentence_labels": SequenceFeature(Value("int8")),
        "references": SequenceFeature(Value("string")),
    }
)

_WORD = re.compile(r"\w+(?:[.'’\-/]\w+)*|[^\w\s]")
# a sentence ends at . ! ? followed by space and an upper-case letter/digit, unless the word before is a short
# abbreviation (e.g., i.e., ca., Fig., et al.)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"e.g", "i.e", "ca", "fig", "figs", "al", "approx", "cf", "vs", "eq", "eqs", "no", "mt", "st", "dr"}


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans `(start, end)` of the words and punctuation marks of `text` (geohub's word tokenizer)."""
    return [match.span() for match in _WORD.finditer(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (rule-based; keeps decimals and common abbreviations whole)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue
        spans.append((start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    out = []
    for begin, end in spans:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            out.append((begin, end))
    return out


def entity_spans(text: str, entities: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    """Every occurrence of each entity surface string in `text`, as `{text, label, start, end}` sorted by start.

    Occurrences must start and end on word boundaries; where two entities overlap the longer one wins.
    """
    words = word_spans(text)
    starts, ends = {s for s, _ in words}, {e for _, e in words}
    found = []
    for entity in sorted(entities, key=lambda e: -len(e["text"])):
        surface = entity["text"]
        for match in re.finditer(re.escape(surface), text):
            begin, end = match.span()
            if begin not in starts or end not in ends:
                continue
            if any(begin < other["end"] and other["start"] < end for other in found):
                continue
            found.append({"text": surface, "label": entity["label"], "start": begin, "end": end})
    return sorted(found, key=lambda e: e["start"])


def bio_tags(text: str, spans: Sequence[dict[str, Any]]) -> tuple[list[str], list[int], list[str]]:
    """Words of `text`, their start offsets and their BIO tags given entity character `spans`."""
    tokens, token_starts, tags = [], [], []
    for begin, end in word_spans(text):
        tag = "O"
        for span in spans:
            if span["start"] <= begin and end <= span["end"]:
                tag = ("B-" if begin == span["start"] else "I-") + span["label"]
                break
        tokens.append(text[begin:end])
        token_starts.append(begin)
        tags.append(tag)
    return tokens, token_starts, tags


def held_out(record_id: str) -> bool:
    """The fixed held-out split: a record is `test` iff the SHA-1 of its id falls in the lowest 20 percent."""
    digest = int(hashlib.sha1(record_id.encode("utf-8")).hexdigest()[:8], 16)
    return digest % 100 < HELD_OUT_PERCENT


def _check_record(record: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise CorpusError("a record must be a JSON object", path=path, line=line, expected="{...}")
    for key in ("id", "domain", "title", "text", "summary"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise CorpusError(
                "missing or empty string", path=path, line=line, field=key, expected="a non-empty string"
            )
    if record["domain"] not in DOMAINS:
        raise CorpusError(
            f"unknown domain {record['domain']!r}",
            path=path,
            line=line,
            field="domain",
            expected=f"one of {', '.join(DOMAINS)}",
        )
    entities = record.get("entities", [])
    if not isinstance(entities, list):
        raise CorpusError("entities must be a list", path=path, line=line, field="entities")
    for index, entity in enumerate(entities):
        where = f"entities[{index}]"
        if (
            not isinstance(entity, dict)
            or not isinstance(entity.get("text"), str)
            or entity.get("label") not in ENTITY_TYPES
        ):
            raise CorpusError(
                "bad entity", path=path, line=line, field=where, expected=f"{{text, label in {ENTITY_TYPES}}}"
            )
        if entity["text"] not in record["text"]:
            raise CorpusError(
                f"entity {entity['text']!r} does not occur in the text", path=path, line=line, field=where
            )
    relations = record.get("relations", [])
    names = {e["text"] for e in entities}
    if not isinstance(relations, list):
        raise CorpusError("relations must be a list", path=path, line=line, field="relations")
    for index, relation in enumerate(relations):
        where = f"relations[{index}]"
        if not isinstance(relation, dict) or relation.get("relation") not in RELATION_TYPES:
            raise CorpusError(
                "bad relation", path=path, line=line, field=where, expected=f"relation in {RELATION_TYPES}"
            )
        for end in ("head", "tail"):
            if relation.get(end) not in names:
                raise CorpusError(
                    f"{end} {relation.get(end)!r} is not one of the record's entities",
                    path=path,
                    line=line,
                    field=where,
                )
    return record


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (1-based line, parsed object) for each non-blank line; bad JSON is a CorpusError naming the line."""
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield line, json.loads(raw)
            except json.JSONDecodeError as err:
                raise CorpusError(f"invalid JSON: {err.msg} at column {err.colno}", path=path, line=line) from None


def read_corpus_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate geohub corpus JSONL (the schema of `geohub/data/corpus/README.md`)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError("corpus file not found", path=path, expected="a JSON-lines file")
    records, seen = [], {}
    for line, raw_record in json_lines(path):
        record = _check_record(raw_record, path, line)
        if record["id"] in seen:
            raise CorpusError(
                f"duplicate id {record['id']!r} (first on line {seen[record['id']]})",
                path=path,
                line=line,
                field="id",
            )
        seen[record["id"]] = line
        records.append(record)
    if not records:
        raise CorpusError("the corpus holds no records", path=path)
    return records


def _annotate(record: dict[str, Any]) -> dict[str, Any]:
    spans = entity_spans(record["text"], record.get("entities", []))
    tokens, token_starts, tags = bio_tags(record["text"], spans)
    return {
        "id": record["id"],
        "domain": record["domain"],
        "title": record["title"],
        "text": record["text"],
        "summary": record["summary"],
        "entities": spans,
        "relations": [{k: r[k] for k in ("head", "relation", "tail")} for r in record.get("relations", [])],
        "tokens": tokens,
        "token_starts": token_starts,
        "ner_tags": tags,
    }


def load_geo_corpus(path: str | os.PathLike | None = None) -> DatasetDict:
    """The embedded geophysics corpus (or a file in its schema) as `DatasetDict(train=..., test=...)`.

    `test` is the fixed held-out split (`held_out(id)`); entity `start`/`end` are character offsets of every
    occurrence in `text`; `tokens`/`ner_tags` are word-level BIO tags over `NER_LABELS`.
    """
    path = Path(path) if path is not None else CORPUS_PATH
    records = [_annotate(r) for r in read_corpus_records(path)]
    train = [r for r in records if not held_out(r["id"])]
    test = [r for r in records if held_out(r["id"])]
    if not train or not test:  # a tiny user file: keep at least one record on each side
        train, test = records[: max(1, len(records) - 1)], records[-1:]
    return DatasetDict(
        train=Dataset.from_list(train, features=CORPUS_FEATURES),
        test=Dataset.from_list(test, features=CORPUS_FEATURES),
    )


def _text_row(row: Any, path: str, line: int, text_column: str, summary_column: str, id_column: str) -> dict[str, str]:
    if not isinstance(row, dict):
        raise CorpusError("a record must be an object with named fields", path=path, line=line)
    text = row.get(text_column)
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(
            "missing or empty text", path=path, line=line, field=text_column, expected="a non-empty string"
        )
    summary = row.get(summary_column, "")
    if summary is None:
        summary = ""
    if not isinstance(summary, str):
        raise CorpusError("summary must be a string", path=path, line=line, field=summary_column)
    record_id = row.get(id_column)
    return {
        "id": str(record_id) if record_id not in (None, "") else f"{Path(path).stem}-{line}",
        "text": text,
        "summary": summary,
    }


def load_text_corpus(
    source: str | os.PathLike,
    *,
    text_column: str = "text",
    summary_column: str = "summary",
    id_column: str = "id",
    split: str = "train",
) -> Dataset:
    """A user's corpus (`.jsonl`/`.json`, `.csv`, `.parquet` file, or a `datasets` repo id / folder) as a
    `Dataset` with `TEXT_FEATURES` (`id`, `text`, `summary`; summary is "" where absent).

    Errors name the file and the 1-based line (JSONL, CSV) or row (Parquet, repo) of the bad record.
    """
    source_str = os.fspath(source)
    path = Path(source_str)
    rows: list[dict[str, str]] = []
    args = (text_column, summary_column, id_column)
    if path.is_file() and path.suffix in {".jsonl", ".json"}:
        for line, row in json_lines(path):
            rows.append(_text_row(row, source_str, line, *args))
    elif path.is_file() and path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or text_column not in reader.fieldnames:
                raise CorpusError(f"no column {text_column!r} in the header", path=path, line=1, field=text_column)
            for row in reader:
                rows.append(_text_row(row, source_str, reader.line_num, *args))
    elif path.is_file() and path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several types for unreadable files
            raise CorpusError(f"unreadable Parquet file: {err}", path=path) from None
        for index, row in enumerate(table.to_pylist()):
            rows.append(_text_row(row, source_str, index + 1, *args))
    elif path.is_file():
        raise CorpusError("unsupported corpus format", path=path, expected=".jsonl, .json, .csv or .parquet")
    else:
        rows = _rows_from_repo(source_str, split, args)
    if not rows:
        raise CorpusError("the corpus holds no records", path=source_str)
    return Dataset.from_list(rows, features=TEXT_FEATURES)


def _rows_from_repo(repo_id: str, split: str, args: tuple[str, str, str]) -> list[dict[str, str]]:
    from datasets import load_dataset

    try:
        dataset = load_dataset(repo_id, split=split)
    except Exception as err:  # datasets raises many types for missing repos / offline mode
        raise CorpusError(
            f"could not load the dataset: {err}", path=repo_id, expected="a file or a dataset repo id"
        ) from None
    return [_text_row(row, f"{repo_id}[{split}] row", index + 1, *args) for index, row in enumerate(dataset)]


def load_scitldr(root: str | os.PathLike, split: str = "test") -> Dataset:
    """SciTLDR-A (`<root>/{train,dev,test}.jsonl`): `text` is the abstract, `summary` the first reference TLDR,
    `references` all of them, `sentences`/`sentence_labels` the abstract's sentences and oracle labels."""
    path = Path(root) / f"{split}.jsonl"
    if not path.is_file():
        raise CorpusError("SciTLDR-A split not found", path=path, expected="train.jsonl, dev.jsonl or test.jsonl")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as err:
                raise CorpusError(f"invalid JSON: {err.msg}", path=path, line=line) from None
            source, target = record.get("source"), record.get("target")
            if not isinstance(source, list) or not source or not isinstance(target, list) or not target:
                raise CorpusError(
                    "missing source/target sentence lists", path=path, line=line, expected="non-empty lists"
                )
            sentences = [" ".join(str(s).split()) for s in source]
            labels = record.get("source_labels") or [0] * len(sentences)
            rows.append(
                {
                    "id": str(record.get("paper_id", f"{split}-{line}")),
                    "text": " ".join(sentences),
                    "summary": " ".join(str(target[0]).split()),
                    "sentences": sentences,
                    "sentence_labels": [int(v) for v in labels],
                    "references": [" ".join(str(t).split()) for t in target],
                }
            )
    return Dataset.from_list(rows, features=SCITLDR_FEATURES)


def _read_bgs(path: Path, mapping: dict[str, str]) -> list[dict[str, Any]]:
    sentences, tokens, raw_labels = [], [], []

    def flush():
        if tokens:
            tags, previous = [], "O"
            for label in raw_labels:
                if label == "O":
                    tags.append("O")
                else:
                    mapped = mapping[label]
                    tags.append(("I-" if previous == label else "B-") + mapped)
                previous = label
            sentences.append({"id": f"{path.stem}-{len(sentences)}", "tokens": list(tokens), "ner_tags": tags})
            tokens.clear()
            raw_labels.clear()

    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            raw = raw.rstrip("\n")
            if not raw.strip():
                flush()
                continue
            parts = raw.split("\t")
            if len(parts) == 2 and not parts[0].strip() and parts[1] == "O":
                continue  # the BGS files hold a few empty tokens tagged O; they carry nothing
            if len(parts) != 2 or not parts[0].strip():
                raise CorpusError("expected one token and one label separated by a TAB", path=path, line=line)
            if parts[1] != "O" and parts[1] not in mapping:
                raise CorpusError(
                    f"unknown label {parts[1]!r}", path=path, line=line, expected=f"O or one of {sorted(mapping)}"
                )
            tokens.append(parts[0])
            raw_labels.append(parts[1])
    flush()
    return sentences


def load_bgs_ner(root: str | os.PathLike, mapping: dict[str, str] | None = None) -> DatasetDict:
    """The BGS geology NER set (`<root>/train.tsv`, `<root>/test.tsv`) as BIO tags over geohub's `NER_LABELS`.

    Labels are mapped by `mapping` (default `BGS_LABEL_MAPPING`); consecutive tokens with the same raw label form
    one entity (the files are not BIO), so each run starts with `B-`.
    """
    mapping = dict(mapping or BGS_LABEL_MAPPING)
    bad = {k: v for k, v in mapping.items() if v not in ENTITY_TYPES}
    if bad:
        raise CorpusError(f"label mapping targets outside the schema: {bad}", expected=f"values in {ENTITY_TYPES}")
    splits = {}
    for split in ("train", "test"):
        path = Path(root) / f"{split}.tsv"
        if not path.is_file():
            raise CorpusError("BGS NER split not found", path=path, expected="train.tsv and test.tsv")
        splits[split] = Dataset.from_list(_read_bgs(path, mapping), features=NER_FEATURES)
    return DatasetDict(splits)
