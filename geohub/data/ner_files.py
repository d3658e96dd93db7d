"""Labelled entity data from any source, as word-level IOB2 tags with a label set taken from the data.

Readers (each returns a list of `{"id", "tokens", "tags"}` records, tags as IOB2 strings such as `B-ROCK`):

- `read_conll(path)` — CoNLL-style text: one token per line with its tag in the last column (any column
  separator: TAB, spaces, `|`, `;` or `,`), a blank line between sentences, an optional header line, `-DOCSTART-`
  lines skipped. Tags in IOB1, IOB2, BIOES/BILOU or plain (no prefix: consecutive equal tags form one entity,
  as in the BGS files) are all normalised to IOB2.
- `read_span_jsonl(path)` — JSON lines with a `text` and character spans, `{"start", "end", "label"}` objects
  or `[start, end, label]` triples (doccano), under `entities`, `spans` or `label`; records whose entities are
  `{"text", "label"}` only (geohub's corpus schema) tag every occurrence of each surface string. Texts are
  split into sentences so that nothing is truncated.
- `read_ner_dataset(source, split)` — a `datasets` folder (`save_to_disk` or data files) or Hub repo id with
  `tokens` and `ner_tags` columns (`ClassLabel` ids or tag strings).
- `read_ner_source(source)` picks the reader from the suffix.

`ner_dataset(records, labels)` makes a `Dataset` with `NER_FEATURES`-style explicit features over
`ner_label_names(types)`; `relabel(records, label_map, keep)` renames (or drops, mapping to `O`) entity types.
`case_token_types` is the case feature shared by training and inference.

Errors are `geohub.errors.CorpusError` naming the file, the 1-based line (or row) and what was expected.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, Features, Value
from datasets import Sequence as SequenceFeature

from ..errors import CorpusError

__all__ = [
    "CONLL_SUFFIXES",
    "JSONL_SUFFIXES",
    "case_token_types",
    "read_conll",
    "read_span_jsonl",
    "read_ner_dataset",
    "read_ner_source",
    "relabel",
    "entity_types_of",
    "ner_label_names",
    "ner_dataset",
    "split_off",
    "to_iob2",
    "geo_corpus_sentences",
    "ner_splits",
]

CONLL_SUFFIXES = {".conll", ".conllu", ".bio", ".iob", ".iob1", ".iob2", ".bioes", ".tsv", ".txt", ".tags", ".csv"}
JSONL_SUFFIXES = {".jsonl", ".json", ".ndjson"}
_PREFIXES = {"B", "I", "E", "S", "L", "U"}
_HEADER_TAGS = {"tag", "tags", "label", "labels", "ner", "ner_tag", "ner_tags", "entity", "class"}
_SEPARATORS = ("\t", "|", ";", ",")


def case_token_types(word_ids: list[int | None], words: list[str]) -> list[int]:
    """1 for the sub-words of words that start with an upper-case letter, else 0 (the case feature)."""
    return [int(word is not None and words[word][:1].isupper()) for word in word_ids]


# --- tag schemes ---------------------------------------------------------------------------------------------
def _split_tag(tag: str) -> tuple[str | None, str]:
    """`B-ROCK` -> ("B", "ROCK"); `ROCK` -> (None, "ROCK"); `O` -> (None, "O"). Accepts `-` or `_` after the prefix."""
    if tag == "O":
        return None, "O"
    if len(tag) > 2 and tag[0] in _PREFIXES and tag[1] in "-_":
        return tag[0], tag[2:]
    return None, tag


def to_iob2(
    tags: Sequence[str], *, where: str = "", path: Any = None, lines: Sequence[int] | None = None
) -> list[str]:
    """Normalise one sentence's tags (IOB1, IOB2, BIOES/BILOU or plain) to IOB2.

    Prefixed and plain tags may not be mixed in one sentence (an error naming the line). With plain tags a run
    of equal tags is one entity; with prefixes, B/S/U start an entity, I/E/L continue one of the same type
    (an I after O or another type starts one, as IOB1 means).
    """
    parsed = [_split_tag(t) for t in tags]
    prefixed = {p is not None for p, label in parsed if label != "O"}
    if len(prefixed) > 1:
        index = next(i for i, (p, label) in enumerate(parsed) if label != "O" and p is None)
        raise CorpusError(
            f"tag {tags[index]!r} has no B-/I- prefix while others in the sentence do{where}",
            path=path, line=lines[index] if lines else None, expected="one tag scheme per sentence",
        )  # fmt: skip
    out, previous = [], "O"
    for prefix, label in parsed:
        if label == "O":
            out.append("O")
        elif prefix is None or prefix in "IEL":
            out.append(("I-" if previous == label else "B-") + label)
        else:  # B, S, U
            out.append("B-" + label)
        previous = label if prefix not in ("E", "S", "L", "U") else "O"
    return out


# --- CoNLL ---------------------------------------------------------------------------------------------------
_HEADER_WORDS = {"word", "words", "token", "tokens", "text", "form", "term"}
_HEADER_PATTERN = re.compile(r"(label|tag|ner|entity|class|category)", re.IGNORECASE)


def _file_separator(samples: list[str]) -> str | None:
    """The one column separator of a file (None: runs of whitespace), chosen from its content lines: TAB when every
    line holds one, else whitespace when every line has two or more fields, else the first of `|`, `;`, `,` that
    splits every line. Chosen per file, not per line, so that a token `,` or `;` in a space-separated file stays
    a token."""
    if samples and all("\t" in raw for raw in samples):
        return "\t"
    if all(len(raw.split()) >= 2 for raw in samples):
        return None
    for sep in _SEPARATORS[1:]:
        if all(sep in raw[1:] for raw in samples):  # after the first character: the token may be the separator
            return sep
    return None


def _split_line(raw: str, separator: str | None, width: int) -> list[str]:
    """The columns of one line; a separator character inside the token (`,` in a comma-separated file) stays in
    the token: extra columns on the left are joined back into it."""
    if separator is None:
        columns = raw.split()
        return [""] + columns if len(columns) == 1 and raw[:1].isspace() else columns  # " O": an empty token
    columns = [c.strip() for c in raw.split(separator)]
    if width >= 2 and len(columns) > width:
        extra = len(columns) - width
        columns = [separator.join(columns[: extra + 1]).strip()] + columns[extra + 1 :]
    return columns


def _header_kind(columns: list[str], token_column: int, tag_column: int, other_tags: set[str]) -> str | None:
    """ "header" when the first content line names its columns (a tag column name such as `tag`/`ner_tags`, or a
    token column name such as `Word` beside a tag-like name such as `TrueLabel`), "ambiguous" when only one of the
    two looks like a name, None when it is data. A tag that other lines use, `O` or a prefixed tag is data."""
    token, tag = columns[token_column], columns[tag_column]
    if tag in other_tags or tag == "O" or _split_tag(tag)[0] is not None:
        return None
    token_named, tag_named = token.lower() in _HEADER_WORDS, bool(_HEADER_PATTERN.search(tag))
    if tag.lower() in _HEADER_TAGS or (token_named and tag_named):
        return "header"
    return "ambiguous" if token_named or tag_named else None


def read_conll(
    path: str | os.PathLike, *, separator: str | None = None, token_column: int = 0, tag_column: int = -1
) -> list[dict[str, Any]]:
    """Sentences of a CoNLL-style file as `{"id", "tokens", "tags"}` with IOB2 tags (see the module docstring).

    Every token is kept, punctuation included. The column separator is chosen once for the file (`_file_separator`)
    unless given. A first line that names its columns (`token<sep>tag`, `Word TrueLabel`) is skipped as a header
    when its tag occurs on no other line; one that only half looks like a header is refused (`_header_kind`)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError("labelled file not found", path=path, expected="a CoNLL-style or JSON-lines file")
    with path.open(encoding="utf-8") as handle:
        rows = [(n, raw.rstrip("\r\n")) for n, raw in enumerate(handle, start=1)]
    content = [(n, raw) for n, raw in rows if raw.strip() and not raw.startswith(("-DOCSTART-", "#"))]
    if separator is None:
        separator = _file_separator([raw for _, raw in content[:2000]])
    widths = Counter(len(_split_line(raw, separator, 0)) for _, raw in content[:2000])
    width = min((w for w, c in widths.items() if c == max(widths.values())), default=2)
    header_line = None
    if content:
        first = _split_line(content[0][1], separator, width)
        others = {c[tag_column] for _, raw in content[1:] if len(c := _split_line(raw, separator, width)) >= 2}
        kind = _header_kind(first, token_column, tag_column, others) if len(first) >= 2 else None
        if kind == "ambiguous":
            raise CorpusError(
                f"the first line {content[0][1][:60]!r} may be a header (its tag {first[tag_column]!r} is on no "
                "other line)", path=path, line=content[0][0],
                expected="a header naming the columns (e.g. 'token<TAB>tag') or a first data line whose tag recurs",
            )  # fmt: skip
        header_line = content[0][0] if kind == "header" else None
    return _conll_sentences(path, rows, separator, width, header_line, token_column, tag_column)


def _conll_sentences(path, rows, separator, width, header_line, token_column, tag_column) -> list[dict[str, Any]]:
    sentences: list[dict[str, Any]] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def flush() -> None:
        if tokens:
            iob2 = to_iob2(tags, path=path, lines=lines)
            sentences.append({"id": f"{path.stem}-{len(sentences)}", "tokens": list(tokens), "tags": iob2})
        tokens.clear(), tags.clear(), lines.clear()

    for line, raw in rows:
        if not raw.strip():
            flush()
            continue
        if raw.startswith("-DOCSTART-") or raw.startswith("#") or line == header_line:
            continue
        columns = _split_line(raw, separator, width)
        if len(columns) == 2 and not columns[token_column] and columns[tag_column] == "O":
            continue  # an empty token tagged O carries nothing (the BGS files hold a few)
        if len(columns) < 2 or not columns[tag_column]:
            raise CorpusError(
                f"expected a token and a tag, found {len(columns)} column(s): {raw[:60]!r}",
                path=path, line=line, expected="TOKEN<separator>TAG, a blank line between sentences",
            )  # fmt: skip
        if not columns[token_column]:
            raise CorpusError("empty token", path=path, line=line, expected="a token in the first column")
        tokens.append(columns[token_column])
        tags.append(columns[tag_column])
        lines.append(line)
    flush()
    if not sentences:
        raise CorpusError("no labelled sentences", path=path, expected="token/tag lines")
    return sentences


# --- JSON lines with character spans -------------------------------------------------------------------------
def _record_spans(record: dict[str, Any], path: Path, line: int) -> list[dict[str, Any]]:
    from .corpus import entity_spans

    text = record["text"]
    key = next((k for k in ("entities", "spans", "label", "labels") if k in record), None)
    items = record.get(key, []) if key else []
    if not isinstance(items, list):
        raise CorpusError(f"{key} must be a list", path=path, line=line, field=key)
    spans, surfaces = [], []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if isinstance(item, (list, tuple)) and len(item) == 3:
            item = {"start": item[0], "end": item[1], "label": item[2]}
        if not isinstance(item, dict) or not isinstance(item.get("label"), str) or not item["label"].strip():
            raise CorpusError(
                "bad entity", path=path, line=line, field=where,
                expected='{"start", "end", "label"}, [start, end, label] or {"text", "label"}',
            )  # fmt: skip
        if "start" not in item and isinstance(item.get("text"), str):
            if item["text"] not in text:
                raise CorpusError(
                    f"entity {item['text']!r} does not occur in the text", path=path, line=line, field=where
                )
            surfaces.append({"text": item["text"], "label": item["label"]})
            continue
        start, end = item.get("start"), item.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            raise CorpusError(
                f"span ({start}, {end}) is not inside the text of {len(text)} characters",
                path=path, line=line, field=where, expected="integer offsets 0 <= start < end <= len(text)",
            )  # fmt: skip
        spans.append({"start": start, "end": end, "label": item["label"]})
    return sorted(spans + entity_spans(text, surfaces), key=lambda s: s["start"])


def read_span_jsonl(path: str | os.PathLike, *, text_field: str = "text") -> list[dict[str, Any]]:
    """Sentences of a JSON-lines file with character spans as `{"id", "tokens", "tags"}` (IOB2)."""
    from .corpus import bio_tags, json_lines, sentence_spans

    path = Path(path)
    if not path.is_file():
        raise CorpusError("labelled file not found", path=path, expected="a JSON-lines file")
    out = []
    for line, record in json_lines(path):
        if not isinstance(record, dict) or not isinstance(record.get(text_field), str) or not record[text_field]:
            raise CorpusError("a record needs a non-empty text", path=path, line=line, field=text_field,
                              expected='{"text": "...", "entities": [{"start", "end", "label"}, ...]}')  # fmt: skip
        record = {**record, "text": record[text_field]}
        spans = _record_spans(record, path, line)
        record_id = str(record.get("id", f"{path.stem}-{line}"))
        for number, (a, b) in enumerate(sentence_spans(record["text"]) or [(0, len(record["text"]))]):
            inside = [{**s, "start": s["start"] - a, "end": s["end"] - a} for s in spans if a <= s["start"] < b]
            tokens, _, tags = bio_tags(record["text"][a:b], inside)
            if tokens:
                out.append({"id": f"{record_id}-{number}", "tokens": tokens, "tags": to_iob2(tags)})
    if not out:
        raise CorpusError("no labelled records", path=path, expected="JSON lines with text and entities")
    return out


# --- datasets ------------------------------------------------------------------------------------------------
def read_ner_dataset(source: str | os.PathLike, split: str = "train") -> list[dict[str, Any]]:
    """`tokens` + `ner_tags` rows of a `datasets` folder or Hub repo id (tag ids are read through the ClassLabel)."""
    import datasets

    source = os.fspath(source)
    try:
        if (Path(source) / "dataset_dict.json").is_file() or (Path(source) / "dataset_info.json").is_file():
            loaded = datasets.load_from_disk(source)
            loaded = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        else:
            loaded = datasets.load_dataset(source, split=split)
    except Exception as err:  # datasets raises many types for missing repos, splits or offline mode
        raise CorpusError(f"could not load split {split!r}: {err}", path=source,
                          expected="a datasets folder or Hub repo id with tokens and ner_tags") from None  # fmt: skip
    missing = {"tokens", "ner_tags"} - set(loaded.column_names)
    if missing:
        raise CorpusError(f"missing columns {sorted(missing)}", path=source, field=", ".join(sorted(missing)),
                          expected="tokens (list of str) and ner_tags (ClassLabel ids or tag strings)")  # fmt: skip
    feature = loaded.features["ner_tags"]
    names = getattr(getattr(feature, "feature", None), "names", None)
    out = []
    for row_number, row in enumerate(loaded, start=1):
        tags = [names[t] if names is not None else str(t) for t in row["ner_tags"]]
        if len(tags) != len(row["tokens"]):
            raise CorpusError(f"{len(row['tokens'])} tokens but {len(tags)} tags", path=f"{source}[{split}] row",
                              line=row_number, expected="one tag per token")  # fmt: skip
        iob2 = to_iob2(tags, where=f" (row {row_number})", path=f"{source}[{split}]")
        out.append({"id": str(row.get("id", f"{split}-{row_number}")), "tokens": list(row["tokens"]), "tags": iob2})
    return out


def read_ner_source(source: str | os.PathLike, split: str = "train") -> list[dict[str, Any]]:
    """Dispatch on the source: a JSON-lines file, a CoNLL-style file, or a datasets folder / Hub repo id."""
    path = Path(os.fspath(source))
    if path.is_file():
        return read_span_jsonl(path) if path.suffix.lower() in JSONL_SUFFIXES else read_conll(path)
    if path.suffix.lower() in CONLL_SUFFIXES | JSONL_SUFFIXES:
        raise CorpusError("labelled file not found", path=path, expected="an existing file")
    return read_ner_dataset(source, split)


# --- label sets ----------------------------------------------------------------------------------------------
def relabel(
    records: Iterable[dict[str, Any]], label_map: dict[str, str] | None = None, keep: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Rename entity types by `label_map` (a target of "O" drops the type), then keep only types in `keep`."""
    label_map, keep = dict(label_map or {}), set(keep) if keep is not None else None
    out = []
    for record in records:
        tags = []
        for tag in record["tags"]:
            prefix, label = _split_tag(tag)
            label = label_map.get(label, label)
            tags.append("O" if label == "O" or (keep is not None and label not in keep) else f"{prefix}-{label}")
        out.append({**record, "tags": to_iob2(tags)})
    return out


def entity_types_of(*record_sets: Iterable[dict[str, Any]]) -> list[str]:
    """The sorted entity types that occur in the records."""
    return sorted({t[2:] for records in record_sets for r in records for t in r["tags"] if t != "O"})


def ner_label_names(types: Sequence[str]) -> list[str]:
    """`["O", "B-T1", "I-T1", "B-T2", ...]` for entity types `types` (in that order)."""
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]


def ner_dataset(records: Sequence[dict[str, Any]], label_names: Sequence[str]) -> Dataset:
    """`Dataset` with features `id`, `tokens`, `ner_tags` (ClassLabel over `label_names`)."""
    features = Features(
        {
            "id": Value("string"),
            "tokens": SequenceFeature(Value("string")),
            "ner_tags": SequenceFeature(ClassLabel(names=list(label_names))),
        }
    )
    index = {name: i for i, name in enumerate(label_names)}
    rows = [{"id": r["id"], "tokens": list(r["tokens"]), "ner_tags": [index[t] for t in r["tags"]]} for r in records]
    return Dataset.from_list(rows, features=features)


def split_off(records: list[dict[str, Any]], fraction: float, seed: int | None = None) -> tuple[list, list]:
    """(rest, held) with `fraction` of the records held: the last ones, or a random choice when `seed` is given."""
    if not 0 < fraction < 1:
        raise CorpusError(f"validation fraction {fraction} is not between 0 and 1", field="validation_fraction",
                          expected="a number such as 0.1")  # fmt: skip
    count = max(1, round(len(records) * fraction))
    if count >= len(records):
        raise CorpusError(
            f"{len(records)} records are too few to hold out {fraction:.0%}", field="validation_fraction"
        )
    if seed is None:
        return records[:-count], records[-count:]
    import random

    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = set(order[:count])
    return [r for i, r in enumerate(records) if i not in held], [r for i, r in enumerate(records) if i in held]


# --- the splits of a training run ----------------------------------------------------------------------------
def geo_corpus_sentences(split: str, summaries: bool = False) -> list[dict[str, Any]]:
    """The embedded corpus' `train` or `test` (held-out) split as one record per sentence (IOB2 string tags).

    With `summaries`, each record's one-sentence summary is added too (id `<id>-summary`), weakly labelled: every
    occurrence (on word boundaries, longer spans first) of the record's own entity strings and of the split's other
    entity strings whose type is unambiguous. More training text in the same annotation, for the training split."""
    from .corpus import ENTITY_TYPES as types
    from .corpus import bio_tags, entity_spans, load_geo_corpus, sentence_spans

    dataset = load_geo_corpus()[split]
    names = dataset.features["ner_tags"].feature.names
    lexicon: dict[str, str | None] = {}  # surface -> type over the whole split; None where the type is ambiguous
    for row in dataset if summaries else ():
        for entity in row["entities"]:
            label = types[entity["label"]]
            lexicon[entity["text"]] = label if lexicon.get(entity["text"], label) == label else None
    out = []
    for row in dataset:
        if summaries:
            entities = {e["text"]: types[e["label"]] for e in row["entities"]}
            entities.update({t: k for t, k in lexicon.items() if k and t not in entities and t in row["summary"]})
            spans = entity_spans(row["summary"], [{"text": t, "label": k} for t, k in entities.items()])
            tokens, _, tags = bio_tags(row["summary"], spans)
            out.append({"id": f"{row['id']}-summary", "tokens": tokens, "tags": tags})
        starts = row["token_starts"]
        for number, (a, b) in enumerate(sentence_spans(row["text"])):
            keep = [i for i, s in enumerate(starts) if a <= s < b]
            if keep:
                tokens = [row["tokens"][i] for i in keep]
                tags = to_iob2([names[row["ner_tags"][i]] for i in keep])
                out.append({"id": f"{row['id']}-{number}", "tokens": tokens, "tags": tags})
    return out


def _read_split(source: str | None, split: str | None, fallback_source: str) -> list[dict[str, Any]] | None:
    if source:
        return read_ner_source(source)
    if split:
        return read_ner_source(fallback_source, split)
    return None


def ner_splits(
    dataset: str,
    *,
    validation_file: str | None = None,
    validation_split: str | None = None,
    validation_fraction: float = 0.0,
    validation_seed: int | None = None,
    test_file: str | None = None,
    test_split: str | None = None,
    label_map: dict[str, str] | None = None,
    labels: Sequence[str] | None = None,
    default_types: Sequence[str] | None = None,
    corpus_summaries: bool = False,
) -> tuple[dict[str, Dataset | None], list[str]]:
    """Read the training data and its validation and test data; returns ({"train", "validation", "test"} -> Dataset
    or None, label names). The entity types come from the data (sorted), from `labels` (in that order, others
    dropped), or `default_types` (in that order) when the data's types are all among them. With `corpus_summaries`
    the embedded corpus' training split also holds its weakly labelled summaries (`geo_corpus_sentences`)."""
    if dataset == "geo_corpus":
        train = geo_corpus_sentences("train", summaries=corpus_summaries)
        validation = geo_corpus_sentences("test") if not (validation_file or validation_fraction) else None
    else:
        train, validation = read_ner_source(dataset), None
    if validation_file or validation_split:
        validation = _read_split(validation_file, validation_split, dataset)
    elif validation_fraction:
        train, validation = split_off(train, validation_fraction, validation_seed)
    test = _read_split(test_file, test_split, dataset)
    parts = {"train": train, "validation": validation, "test": test}
    present = entity_types_of(*(p for p in parts.values() if p))
    unknown = sorted(set(label_map or {}) - set(present))
    if unknown:
        raise CorpusError(f"label_map names types that do not occur in the data: {unknown}", field="label_map",
                          expected=f"keys among {present}")  # fmt: skip
    parts = {k: relabel(v, label_map) if v else v for k, v in parts.items()}
    present = entity_types_of(*(p for p in parts.values() if p))
    if labels:
        missing = sorted(set(labels) - set(present))
        if missing:
            raise CorpusError(f"labels {missing} do not occur in the data (after label_map)", field="labels",
                              expected=f"types among {present}")  # fmt: skip
        types = list(labels)
        parts = {k: relabel(v, keep=types) if v else v for k, v in parts.items()}
    elif default_types and set(present) <= set(default_types):
        types = list(default_types)
    else:
        types = present
    if not types:
        raise CorpusError("the training data holds no entities", path=dataset, expected="tags other than O")
    names = ner_label_names(types)
    return {k: ner_dataset(v, names) if v else None for k, v in parts.items()}, names
