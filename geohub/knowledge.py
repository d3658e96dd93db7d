"""Relations between entities and a knowledge graph that keeps provenance.

- `Mention`: an entity found in a document (text, label, character offsets, sentence, confidence).
- `extract_relations(text, mentions)`: the model-plus-rules half of relation extraction. The entity tagger
  (a learned model) finds the mentions; typed lexical patterns between two mentions of the same sentence decide
  the relation (`located_in`, `age_of`, `hosts`, `measured_by`, `overlies`, `causes`, `part_of`). A relation's
  confidence is the pattern's weight times the smaller of its two mentions' confidences.
- `KnowledgeGraph`: a `networkx.MultiDiGraph` of entities (node id `LABEL:normalised name`, so mentions of one
  entity in different documents merge into one node; entity types are whatever the tagger was trained on) and relations
  (edges keyed by relation), where every node keeps its mentions and every edge its evidence: document id,
  sentence, character offsets of head and tail, confidence. Exports JSON-LD, GraphML and CSV triples and reads
  each back (`KnowledgeGraph.read(path)` picks the reader from the suffix).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from .data.corpus import ENTITY_TYPES, RELATION_TYPES, sentence_spans
from .errors import DataError
from .utils import atomic_write_text

__all__ = ["Mention", "Relation", "extract_relations", "KnowledgeGraph", "node_id"]


@dataclass
class Mention:
    """An entity mention: `text == document[start:end]`; `sentence` is the 0-based sentence index."""

    text: str
    label: str
    start: int
    end: int
    confidence: float = 1.0
    sentence: int = 0


@dataclass
class Relation:
    """A relation between two mentions of one sentence, with the rule that found it."""

    head: Mention
    relation: str
    tail: Mention
    confidence: float
    evidence: str = ""


# (relation, head labels, tail labels, pattern on the text between the two mentions, weight, reversed)
# `reversed` means the first mention in the text is the relation's tail.
_MATERIAL = {"ROCK", "STRAT", "MINERAL"}
_THING = _MATERIAL | {"PHENOMENON", "QUANTITY"}
_RULES: list[tuple[str, set[str], set[str], str, float, bool]] = [
    ("located_in", _THING | {"LOCATION"}, {"LOCATION"},
     r"^(?:,\s*)?(?:\w+\s+){0,4}?(?:in|beneath|below|under|near|across|within|at|off|along|of)\s+(?:the\s+)?(?:\w+\s+)?$", 0.85, False),
    ("age_of", {"TIMESCALE"}, _MATERIAL, r"^$", 0.8, False),
    ("age_of", {"TIMESCALE"}, _MATERIAL, r"^\s*(?:age\s+)?(?:for|of)\s+(?:the\s+)?$", 0.7, False),
    ("age_of", {"TIMESCALE"}, _MATERIAL, r"^(?:,\s*)?(?:\w+\s+){0,5}?(?:is|are|was|were|of|dated\s+(?:to|as)|in)\s+(?:the\s+)?(?:\w+\s+)?$", 0.75, True),
    ("hosts", _MATERIAL, {"MINERAL", "ROCK"}, r"\b(?:host|hosts|hosted|contain|contains|bear|bears|with|rich\s+in)\b", 0.8, False),
    ("hosts", {"MINERAL"}, _MATERIAL, r"\b(?:hosted|contained|found|occurs?)\s+(?:by|in|within)\b", 0.8, True),
    ("measured_by", _THING, {"METHOD"}, r"\b(?:measured|determined|estimated|imaged|mapped|detected|constrained|derived|obtained|resolved|by|using|from|with)\b", 0.75, False),
    ("measured_by", _THING, {"METHOD"}, r"\b(?:reveals?|revealed|shows?|showed|images?|maps?|measures?|detects?|resolves?|constrains?|identif(?:y|ies|ied))\b", 0.75, True),
    ("overlies", _MATERIAL, _MATERIAL, r"\b(?:overlie|overlies|overlying|overlain\s+by|rests?\s+on|above|caps?)\b", 0.85, False),
    ("overlies", _MATERIAL, _MATERIAL, r"\b(?:underlie|underlies|underlying|beneath|below)\b", 0.85, True),
    ("causes", {"PHENOMENON"}, {"PHENOMENON", "QUANTITY"}, r"\b(?:cause|causes|caused|drives?|drove|produces?|produced|generates?|generated|leads?\s+to|triggers?|triggered|controls?)\b", 0.8, False),
    ("causes", {"PHENOMENON"}, {"PHENOMENON", "QUANTITY"}, r"\b(?:caused|driven|produced|generated|triggered|controlled)\s+by\b|\bdue\s+to\b", 0.8, True),
    ("part_of", {"STRAT"}, {"STRAT"}, r"^\s*(?:,\s*)?(?:is\s+)?(?:a\s+)?(?:part\s+of|member\s+of|of|within|in)\s+(?:the\s+)?$", 0.8, False),
]  # fmt: skip
_MAX_GAP_WORDS = 12
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def extract_relations(text: str, mentions: list[Mention]) -> list[Relation]:
    """Relations between mentions of the same sentence of `text`, by typed patterns on the text between them.

    Each ordered pair (a before b) is tested against the rules in order; the first rule that matches wins, so a
    pair yields at most one relation. Pairs more than 12 words apart are skipped.
    """
    relations: list[Relation] = []
    ordered = sorted(mentions, key=lambda m: m.start)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.sentence != first.sentence or second.start < first.end:
                continue
            between = text[first.end : second.start]
            if len(between.split()) > _MAX_GAP_WORDS:
                break
            words = " ".join(between.split())
            found = _match_rule(first, second, words + " " if words else "")
            if found is not None:
                relations.append(found)
    return relations


def _match_rule(first: Mention, second: Mention, between: str) -> Relation | None:
    for relation, heads, tails, pattern, weight, reverse in _RULES:
        head, tail = (second, first) if reverse else (first, second)
        if head.label not in heads or tail.label not in tails:
            continue
        if re.search(pattern, between, flags=re.IGNORECASE):
            confidence = weight * min(head.confidence, tail.confidence)
            return Relation(head=head, relation=relation, tail=tail, confidence=confidence, evidence=between.strip())
    return None


_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"} | {"\u2019": "'", "\u2018": "'"})
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def normalise_name(text: str) -> str:
    """The name under which mentions of one entity merge, across documents: Unicode NFKC, case-folded, dashes
    and quotes unified, whitespace collapsed (also around hyphens and slashes), a leading article and
    surrounding punctuation dropped. `"the  Bushveld\u2013Complex"` -> `"bushveld-complex"`."""
    import unicodedata

    name = unicodedata.normalize("NFKC", text).translate(_DASHES).casefold()
    name = " ".join(name.split())
    name = re.sub(r"\s*([-/])\s*", r"\1", name)
    name = _ARTICLE.sub("", name).strip(" .,;:()[]{}\"'")
    return name or " ".join(text.split()).casefold()


def node_id(label: str, text: str) -> str:
    """`LABEL:normalised name` (see `normalise_name`): mentions of one entity, in any document, share a node."""
    return f"{label}:{normalise_name(text)}"


class KnowledgeGraph:
    """Entities and relations extracted from documents, with provenance on every node mention and edge.

    Attributes:
        graph: `networkx.MultiDiGraph`; node attrs `label`, `text`, `mentions` (list of dicts with `doc_id`,
            `sentence` (text), `start`, `end` (character offsets in the document), `confidence`); edge key =
            relation, edge attrs `relation`, `confidence`, `doc_id`, `sentence`, `head_start`, `head_end`,
            `tail_start`, `tail_end`.
    """

    def __init__(self, graph: nx.MultiDiGraph | None = None):
        self.graph = graph if graph is not None else nx.MultiDiGraph()

    # --- building ----------------------------------------------------------------------------------------------
    def add_document(self, doc_id: str, text: str, mentions: list[Mention], relations: list[Relation]) -> None:
        """Add one document's mentions and relations (sentence texts are taken from `text`)."""
        spans = sentence_spans(text) or [(0, len(text))]

        def sentence_of(mention: Mention) -> str:
            begin, end = spans[min(mention.sentence, len(spans) - 1)]
            return text[begin:end]

        for mention in mentions:
            self._add_mention(doc_id, mention, sentence_of(mention))
        for relation in relations:
            self._add_mention(doc_id, relation.head, sentence_of(relation.head))
            self._add_mention(doc_id, relation.tail, sentence_of(relation.tail))
            self.add_relation(
                node_id(relation.head.label, relation.head.text),
                relation.relation,
                node_id(relation.tail.label, relation.tail.text),
                confidence=relation.confidence,
                doc_id=doc_id,
                sentence=sentence_of(relation.head),
                head_start=relation.head.start,
                head_end=relation.head.end,
                tail_start=relation.tail.start,
                tail_end=relation.tail.end,
            )

    def _add_mention(self, doc_id: str, mention: Mention, sentence: str) -> None:
        key = node_id(mention.label, mention.text)
        provenance = {"doc_id": doc_id, "sentence": sentence, "start": mention.start, "end": mention.end,
                      "confidence": round(float(mention.confidence), 6)}  # fmt: skip
        self.add_entity(key, mention.label, mention.text, [provenance])

    def add_entity(self, key: str, label: str, text: str, mentions: list[dict[str, Any]]) -> None:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise DataError(
                f"invalid entity label {label!r}", field="label",
                expected=f"a type name such as {', '.join(ENTITY_TYPES[:3])} (letters, digits, _ or -)",
            )  # fmt: skip
        if key not in self.graph:
            self.graph.add_node(key, label=label, text=text, mentions=[])
        known = self.graph.nodes[key]["mentions"]
        for mention in mentions:
            if mention not in known:
                known.append(dict(mention))

    def add_relation(self, head: str, relation: str, tail: str, **provenance: Any) -> None:
        if relation not in RELATION_TYPES:
            raise DataError(f"unknown relation {relation!r}", field="relation", expected=f"one of {RELATION_TYPES}")
        for key in (head, tail):
            if key not in self.graph:
                label, _, text = key.partition(":")
                self.add_entity(key, label, text, [])
        edge_key = f"{relation}@{provenance.get('doc_id', '')}:{provenance.get('head_start', '')}:{provenance.get('tail_start', '')}"
        self.graph.add_edge(head, tail, key=edge_key, relation=relation, **provenance)

    # --- reading -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def entities(self, label: str | None = None) -> list[dict[str, Any]]:
        """Entity nodes as dicts (`id`, `label`, `text`, `mentions`), optionally of one label."""
        return [
            {"id": key, **data} for key, data in self.graph.nodes(data=True) if label is None or data["label"] == label
        ]

    def triples(self) -> list[dict[str, Any]]:
        """One dict per relation edge: head/tail text and label, relation, confidence and provenance."""
        rows = []
        for head, tail, data in self.graph.edges(data=True):
            rows.append({
                "head": self.graph.nodes[head]["text"], "head_label": self.graph.nodes[head]["label"],
                "relation": data["relation"],
                "tail": self.graph.nodes[tail]["text"], "tail_label": self.graph.nodes[tail]["label"],
                **{k: data.get(k) for k in _EDGE_FIELDS},
            })  # fmt: skip
        return sorted(rows, key=lambda r: (str(r["doc_id"]), r["head_start"] or 0, r["relation"], r["tail"]))

    def to_dict(self) -> dict[str, Any]:
        return {"entities": self.entities(), "triples": self.triples()}

    # --- export / import ---------------------------------------------------------------------------------------
    def to_jsonld(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """JSON-LD document: entities as typed nodes with their mentions, relations as reified statements."""
        nodes = [
            {"@id": _iri(key), "@type": f"geohub:{data['label']}", "name": data["text"], "mentions": data["mentions"]}
            for key, data in self.graph.nodes(data=True)
        ]
        statements = [
            {"@type": "geohub:Relation", "subject": {"@id": _iri(head)}, "predicate": f"geohub:{data['relation']}",
             "object": {"@id": _iri(tail)}, **{k: data.get(k) for k in _EDGE_FIELDS}}
            for head, tail, data in self.graph.edges(data=True)
        ]  # fmt: skip
        document = {"@context": _CONTEXT, "@graph": nodes + statements}
        if path is not None:
            atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False))
        return document

    @classmethod
    def from_jsonld(cls, source: str | os.PathLike | dict) -> KnowledgeGraph:
        document = source if isinstance(source, dict) else _read_json(source)
        graph = cls()
        items = document.get("@graph", [])
        for item in items:
            if item.get("@type") != "geohub:Relation":
                key = _from_iri(item["@id"])
                graph.add_entity(key, item["@type"].split(":", 1)[1], item["name"], item.get("mentions", []))
        for item in items:
            if item.get("@type") == "geohub:Relation":
                graph.add_relation(
                    _from_iri(item["subject"]["@id"]), item["predicate"].split(":", 1)[1], _from_iri(item["object"]["@id"]),
                    **{k: item.get(k) for k in _EDGE_FIELDS},
                )  # fmt: skip
        return graph

    def to_graphml(self, path: str | os.PathLike) -> None:
        """GraphML (mentions stored as a JSON string attribute, since GraphML attributes are scalars)."""
        flat = nx.MultiDiGraph()
        for key, data in self.graph.nodes(data=True):
            flat.add_node(
                key, label=data["label"], text=data["text"], mentions=json.dumps(data["mentions"], ensure_ascii=False)
            )
        for head, tail, key, data in self.graph.edges(keys=True, data=True):
            flat.add_edge(head, tail, key=key, **{k: v for k, v in data.items() if v is not None})
        buffer = io.BytesIO()
        nx.write_graphml(flat, buffer)
        atomic_write_text(path, buffer.getvalue().decode("utf-8"))

    @classmethod
    def from_graphml(cls, path: str | os.PathLike) -> KnowledgeGraph:
        try:
            flat = nx.read_graphml(path, force_multigraph=True)
        except Exception as err:  # networkx raises several types for malformed XML
            raise DataError(f"unreadable GraphML: {err}", path=path) from None
        graph = cls()
        for key, data in flat.nodes(data=True):
            graph.add_entity(key, data["label"], data["text"], json.loads(data.get("mentions", "[]")))
        for head, tail, data in flat.edges(data=True):
            graph.add_relation(head, data["relation"], tail, **{k: _restore(k, data.get(k)) for k in _EDGE_FIELDS})
        return graph

    def to_csv(self, path: str | os.PathLike) -> None:
        """CSV triples, one row per relation edge (entities without relations are not written)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS)
        writer.writeheader()
        writer.writerows(self.triples())
        atomic_write_text(path, buffer.getvalue())

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> KnowledgeGraph:
        graph = cls()
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(_CSV_FIELDS) - set(reader.fieldnames or [])
            if missing:
                raise DataError(
                    f"missing columns {sorted(missing)}", path=path, line=1, expected=", ".join(_CSV_FIELDS)
                )
            for row in reader:
                try:
                    head, tail = node_id(row["head_label"], row["head"]), node_id(row["tail_label"], row["tail"])
                    graph.add_entity(head, row["head_label"], row["head"], [])
                    graph.add_entity(tail, row["tail_label"], row["tail"], [])
                    graph.add_relation(head, row["relation"], tail, **{k: _restore(k, row[k]) for k in _EDGE_FIELDS})
                except DataError as err:
                    raise DataError(str(err), path=path, line=reader.line_num) from None
        return graph

    def write(self, path: str | os.PathLike) -> None:
        """Write by suffix: `.jsonld`/`.json`, `.graphml` or `.csv`."""
        suffix = Path(path).suffix.lower()
        if suffix in {".jsonld", ".json"}:
            self.to_jsonld(path)
        elif suffix == ".graphml":
            self.to_graphml(path)
        elif suffix == ".csv":
            self.to_csv(path)
        else:
            raise DataError("unknown graph format", path=path, expected=".jsonld, .json, .graphml or .csv")

    @classmethod
    def read(cls, path: str | os.PathLike) -> KnowledgeGraph:
        """Read a file written by `write` (format from the suffix)."""
        suffix = Path(path).suffix.lower()
        if suffix in {".jsonld", ".json"}:
            return cls.from_jsonld(path)
        if suffix == ".graphml":
            return cls.from_graphml(path)
        if suffix == ".csv":
            return cls.from_csv(path)
        raise DataError("unknown graph format", path=path, expected=".jsonld, .json, .graphml or .csv")


_EDGE_FIELDS = ("confidence", "doc_id", "sentence", "head_start", "head_end", "tail_start", "tail_end")
_CSV_FIELDS = ["head", "head_label", "relation", "tail", "tail_label", *_EDGE_FIELDS]
_CONTEXT = {
    "geohub": "https://github.com/geohub/geohub/schema#",
    "name": "http://schema.org/name",
    "subject": {"@id": "http://www.w3.org/1999/02/22-rdf-syntax-ns#subject"},
    "predicate": {"@id": "http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate", "@type": "@vocab"},
    "object": {"@id": "http://www.w3.org/1999/02/22-rdf-syntax-ns#object"},
    "mentions": "geohub:mention",
    "confidence": "geohub:confidence",
    "doc_id": "geohub:documentId",
    "sentence": "geohub:sentence",
}


def _iri(key: str) -> str:
    from urllib.parse import quote

    return "geohub:entity/" + quote(key, safe="")


def _from_iri(iri: str) -> str:
    from urllib.parse import unquote

    return unquote(iri.split("geohub:entity/", 1)[-1])


def _restore(field: str, value: Any) -> Any:
    """CSV and GraphML give strings back: restore the confidence (float) and offsets (int)."""
    if value is None or value == "":
        return None
    if field == "confidence":
        return float(value)
    if field.endswith(("_start", "_end")):
        return int(value)
    return str(value)


def _read_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON-LD: {err.msg}", path=path, line=err.lineno) from None
