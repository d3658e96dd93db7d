"""Literature models: ROUGE on SciTLDR-A test and the corpus' held-out split; entity F1 per class with a gazetteer
baseline on BGS test, the corpus' held-out split and any `--conll-test` file; relation P/R/F1 on the corpus'
held-out split (rules vs the relation classifier, on gold and on predicted entities); CPU speed; with baselines
and published reference points.

    python benchmarks/literature.py \
        --summarizer runs/summarization/extractive --tagger runs/knowledge_extraction/bgs_full
    python benchmarks/literature.py --ner-data FILE.conll --test-file FILE.conll   # your own labelled data

With `--ner-data` the tagger of `recipes/knowledge_extraction/config_own_data.yaml` is trained on that file
(`geohub train`, only the paths changed) and printed beside the dictionary baseline per type, with its training
time; nothing else runs.

Models that are absent are reported as such; the baselines (Lead-1, MiniLM centroid, oracle sentence, a gazetteer
tagger built from the BGS training entities) are computed in the same run on the same data. Speed figures use one
torch thread, medians over `--repeats` timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REFERENCES = {
    "bgs_crf_f1": 0.893,  # BGS's CRF (Stanford CoreNLP) on bgs-geo-ner test, overall entity F1
    "geobert_f1": "0.95-0.98",  # GeoBERT (SciBERT fine-tuned) on its own classes
    "scitldr_rouge1": 44.0,  # best abstract-only systems of the SciTLDR paper, ROUGE-1
}


def rouge(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    from geohub.metrics.text import load_rouge

    scores = load_rouge().compute(predictions=predictions, references=references)
    return {k: round(100 * scores[k], 2) for k in ("rouge1", "rouge2", "rougeL")}


SUMMARIZER_ROW = "extractive on MiniLM (geohub)"


@torch.no_grad()
def embedded_documents(model, tokenizer, documents: list[list[str]], titles: list[str], cache: dict):
    """The documents encoded for the extractive model with their MiniLM sentence and title embeddings, computed
    once per data set and shared by every model whose (frozen) encoder has the same weights (and kept in the
    training recipes' embedding cache, `--embedding-cache`)."""
    from datasets import Dataset

    from geohub.models.extractive_summarizer.processing_extractive_summarizer import encode_documents
    from geohub.training.summarization import precompute_sentence_embeddings

    fingerprint = (id(documents), round(float(sum(p.double().sum() for p in model.encoder.parameters())), 3))
    if fingerprint not in cache:
        encoded = Dataset.from_dict(encode_documents(tokenizer, documents, 64, titles=titles))
        cache[fingerprint] = precompute_sentence_embeddings(
            model, encoded, tokenizer.pad_token_id or 0, cache_dir=cache.get("dir")
        ).to_list()
    return cache[fingerprint]


def extractive_rows_summaries(path, documents, titles, with_titles: bool, cache: dict) -> list[str]:
    """Whole sentences: `summarize(documents, model=path, titles=..., compress=False)` from cached embeddings
    (compressed summaries and the check against summarize itself: benchmarks/summarization.py)."""
    from benchmarks.summarization import model_summaries

    return model_summaries(path, documents, titles, with_titles, compress=False, cache=cache)


def summarization_rows(name: str, documents: list[list[str]], references: list[list[str]], titles, args) -> list[dict]:
    """Baselines and models on one data set. Documents go in as their lists of sentences (no re-splitting), so
    every system picks among the same sentences; `titles` feed the extractive model's title features."""
    from transformers import AutoTokenizer

    from geohub.inference.text import summarize
    from geohub.models.extractive_summarizer import ExtractiveSummarizerForSentenceExtraction
    from geohub.models.extractive_summarizer.processing_extractive_summarizer import tfidf_centroid_scores
    from geohub.training.summarization import oracle_labels
    from geohub.training.text import resolve_model_path

    cache: dict = {"dir": args.embedding_cache or None}
    rows = [{"data": name, "system": "Lead-1 (first sentence)", **rouge([d[0] for d in documents], references)}]
    tfidf = [d[int(tfidf_centroid_scores(d).argmax())] for d in documents]
    rows.append({"data": name, "system": "TF-IDF centroid (unsupervised)", **rouge(tfidf, references)})
    minilm = ExtractiveSummarizerForSentenceExtraction.from_encoder(resolve_model_path("minilm")).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    embedded = embedded_documents(minilm, tokenizer, documents, titles, cache)
    centroid = []
    for row, document in zip(embedded, documents):
        vectors = torch.tensor(row["sentence_embeddings"])
        centroid.append(document[int((vectors @ torch.nn.functional.normalize(vectors.mean(0), dim=0)).argmax())])
    rows.append({"data": name, "system": "MiniLM centroid (unsupervised)", **rouge(centroid, references)})
    oracle = [" ".join(s for s, keep in zip(d, oracle_labels(d, r)) if keep) for d, r in zip(documents, references)]
    rows.append({"data": name, "system": "oracle sentence (upper bound)", **rouge(oracle, references)})
    for label, path, with_titles in (
        (SUMMARIZER_ROW + ", with titles", args.summarizer, True),
        (SUMMARIZER_ROW + ", text only", args.summarizer, False),
        ("extractive (SciTLDR-A recipe), with titles", args.scitldr_summarizer, True),
        ("extractive (SciTLDR-A recipe), text only", args.scitldr_summarizer, False),
    ):
        if _model_dir(path):
            summaries = extractive_rows_summaries(path, documents, titles, with_titles, cache)
            assert all(s in d for s, d in zip(summaries, documents))  # exact source sentences
            rows.append({"data": name, "system": label, "model": str(path), **rouge(summaries, references)})
        elif "text only" not in label:
            rows.append({"data": name, "system": label, "note": f"model not found at {path}"})
    if _model_dir(args.bert2bert):
        summaries = summarize(documents, model=args.bert2bert, batch_size=16)
        rows.append({"data": name, "system": "bert2bert warm-started MiniLM", **rouge(summaries, references)})
    baselines = [r["rouge1"] for r in rows[:3]]
    for row in rows[4:]:
        if "rouge1" in row and "bert2bert" not in row["system"]:
            row["beats_lead1_and_centroids"] = bool(row["rouge1"] > max(baselines))
    return rows


def gazetteer_tags(train, test, names: list[str]) -> list[list[str]]:
    """Baseline: longest match of the training entities' token sequences, with the training label."""
    lexicon: dict[tuple[str, ...], str] = {}
    for row in train:
        tags = [names[t] for t in row["ner_tags"]]
        i = 0
        while i < len(tags):
            if tags[i].startswith("B-"):
                j = i + 1
                while j < len(tags) and tags[j] == "I-" + tags[i][2:]:
                    j += 1
                lexicon[tuple(row["tokens"][i:j])] = tags[i][2:]
                i = j
            else:
                i += 1
    longest = max(len(k) for k in lexicon)
    predictions = []
    for row in test:
        tokens, tags, i = row["tokens"], ["O"] * len(row["tokens"]), 0
        while i < len(tokens):
            for size in range(min(longest, len(tokens) - i), 0, -1):
                label = lexicon.get(tuple(tokens[i : i + size]))
                if label:
                    tags[i : i + size] = ["B-" + label] + ["I-" + label] * (size - 1)
                    i += size
                    break
            else:
                i += 1
        predictions.append(tags)
    return predictions


def entity_scores(predictions, references) -> dict:
    from geohub.metrics.text import load_seqeval

    scores = load_seqeval().compute(predictions=predictions, references=references)
    out = {"f1": round(scores["overall_f1"], 4), "precision": round(scores["overall_precision"], 4),
           "recall": round(scores["overall_recall"], 4)}  # fmt: skip
    out.update({f"f1_{k}": round(v["f1"], 4) for k, v in scores.items() if isinstance(v, dict)})
    return out


def _model_dir(path) -> bool:
    return bool(path) and (Path(path) / "config.json").is_file()


def entity_set_rows(data: str, train, test, taggers: list[tuple[str, str]]) -> list[dict]:
    """Gazetteer of `train`'s entities and each tagger (label, folder) on `test` (sentence rows, IOB2 ClassLabel
    tags), entity F1 per type, all in this run."""
    from geohub.inference.text import load_text_model, predict_word_tags

    names = test.features["ner_tags"].feature.names
    references = [[names[t] for t in row["ner_tags"]] for row in test]
    rows = [{"data": data, "system": "gazetteer of the training entities (baseline)",
             **entity_scores(gazetteer_tags(train, test, train.features["ner_tags"].feature.names), references)}]  # fmt: skip
    words = [list(row["tokens"]) for row in test]
    for label, path in taggers:
        if not _model_dir(path):
            rows.append({"data": data, "system": label, "note": f"model not found at {path}"})
            continue
        model, tokenizer = load_text_model(path)
        predicted = [[tag for tag, _ in row] for row in predict_word_tags(words, model, tokenizer, batch_size=32)]
        rows.append({"data": data, "system": f"{label} ({path})", **entity_scores(predicted, references)})
    return rows


def tagger_speed(path: str, words: list[list[str]], repeats: int) -> dict:
    from geohub.inference.text import load_text_model, predict_word_tags

    model, tokenizer = load_text_model(path)
    tokens = sum(len(tokenizer(w, is_split_into_words=True)["input_ids"]) for w in words)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_word_tags(words, model, tokenizer, batch_size=32)
        times.append(time.perf_counter() - start)
    return {"tagger_tokens_per_s": round(tokens / statistics.median(times), 1),
            "tagger_sentences_per_s": round(len(words) / statistics.median(times), 2)}  # fmt: skip


def ner_rows(args) -> tuple[list[dict], dict]:
    """Entity F1 per type with the gazetteer baseline: BGS test, the corpus' held-out split (sentences) and each
    `--conll-test` file (gazetteer from `--conll-train`)."""
    from geohub.data.corpus import BGS_LABEL_MAPPING, ENTITY_TYPES
    from geohub.data.ner_files import geo_corpus_sentences, ner_dataset, ner_label_names, ner_splits

    rows, speed = [], {}
    root = Path(args.shared_data) / "bgs-geo-ner"
    bgs, _ = ner_splits(str(root / "train.tsv"), test_file=str(root / "test.tsv"), label_map=BGS_LABEL_MAPPING)
    rows += entity_set_rows("BGS test", bgs["train"], bgs["test"], [("MiniLM tagger", args.tagger)])
    if _model_dir(args.tagger):
        speed.update(tagger_speed(args.tagger, [list(r["tokens"]) for r in bgs["test"]][: args.speed_sentences],
                                  args.repeats))  # fmt: skip
    names = ner_label_names(ENTITY_TYPES)
    train, test = ner_dataset(geo_corpus_sentences("train"), names), ner_dataset(geo_corpus_sentences("test"), names)
    taggers = [("MiniLM tagger", path) for path in [args.corpus_tagger, *args.more_corpus_taggers]]
    rows += entity_set_rows("corpus held-out", train, test, taggers)
    for conll_test in args.conll_test:
        if not args.conll_train:
            rows.append({"data": conll_test, "system": "gazetteer", "note": "--conll-train is needed"})
            continue
        splits, _ = ner_splits(args.conll_train, test_file=conll_test, label_map=_label_map(args.conll_label_map))
        rows += entity_set_rows(f"{Path(conll_test).name}", splits["train"], splits["test"],
                                [("tagger", args.conll_tagger)])  # fmt: skip
    return rows, speed


def _label_map(text: str | None) -> dict | None:
    return json.loads(text) if text else None


OWN_DATA_RECIPE = REPO / "recipes" / "knowledge_extraction" / "config_own_data.yaml"


def train_own_tagger(args) -> dict:
    """`geohub train <own-data recipe> --dataset NER_DATA --test_file TEST_FILE --output_dir ...` (the recipe's
    defaults, only the paths changed, as a user runs it); wall and CPU time of the training process, with load."""
    import resource

    command = [sys.executable, "-m", "geohub.cli", "train", str(args.recipe), "--dataset", args.ner_data,
               "--test_file", args.test_file, "--output_dir", str(args.output_dir)]  # fmt: skip
    if args.label_map:
        command += ["--label_map", args.label_map]
    for override in args.set:
        key, _, value = override.partition("=")
        command += [f"--{key}", value]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before, start = os.getloadavg()[0], time.perf_counter()
    completed = __import__("subprocess").run(command, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"benchmarks/literature.py: training failed ({' '.join(command)})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results = json.loads((Path(args.output_dir) / "all_results.json").read_text(encoding="utf-8"))
    return {"command": " ".join(command[2:]).replace("geohub.cli", "geohub", 1), "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "train_runtime_s": round(float(results.get("train_runtime", 0)), 1),
            "epochs": results.get("epoch"), "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}  # fmt: skip


def own_data_rows(args) -> tuple[list[dict], dict]:
    """The dictionary of all `--ner-data` entities (longest match) and the tagger trained on `--ner-data` with the
    own-data recipe (or `--own-tagger`), side by side on `--test-file`, entity P/R/F1 per type with support."""
    from geohub.data.ner_files import ner_splits

    for path in (args.ner_data, args.test_file):
        if not Path(path).is_file():
            raise SystemExit(f"benchmarks/literature.py: {path}: labelled file not found")
    splits, names = ner_splits(args.ner_data, test_file=args.test_file, label_map=_label_map(args.label_map))
    training = {}
    if not args.own_tagger:
        training = train_own_tagger(args)
    tagger = args.own_tagger or str(args.output_dir)
    rows = entity_set_rows(Path(args.test_file).name, splits["train"], splits["test"], [("tagger", tagger)])
    references = [[names[t] for t in row["ner_tags"]] for row in splits["test"]]
    support = {kind: sum(tag == f"B-{kind}" for row in references for tag in row)
               for kind in (n[2:] for n in names if n.startswith("B-"))}  # fmt: skip
    for row in rows:
        row["support"] = support
    config = json.loads((Path(tagger) / "config.json").read_text(encoding="utf-8"))
    decoding = {"transition_weight": config.get("transition_weight", 0.0) if config.get("tag_transitions") else None}
    return rows, {"training": training, "train_sentences": len(splits["train"]), "test_sentences": len(splits["test"]),
                  "decoding": decoding}  # fmt: skip


def print_own_data_table(rows: list[dict], info: dict, minimum: int) -> None:
    """Per type: test entities, dictionary F1, tagger F1, and whether the tagger is ahead."""
    dictionary, tagger = rows[0], rows[-1]
    print(f"\n{'type':<16} {'test entities':>13} {'dictionary F1':>14} {'tagger F1':>10}  tagger ahead")
    for kind, count in [("overall", sum(dictionary["support"].values())), *sorted(dictionary["support"].items())]:
        key = "f1" if kind == "overall" else f"f1_{kind}"
        mine, base = tagger.get(key), dictionary.get(key)
        ahead = "" if mine is None or base is None else ("yes" if mine > base else "tie" if mine == base else "NO")
        ahead += f" (under {minimum} entities: not judged)" if kind != "overall" and count < minimum else ""
        cell = f"{mine:>10.3f}" if mine is not None else f"{tagger.get('note', '-'):>10}"
        base_cell = f"{base:>14.3f}" if base is not None else f"{'-':>14}"  # e.g. a type absent from the test file
        print(f"{kind:<16} {count:>13} {base_cell} {cell}  {ahead}")
    training = info.get("training") or {}
    if training:
        print(
            f"\ntraining: {training['wall_s']} s wall, {training['cpu_s']} s CPU (OMP_NUM_THREADS="
            f"{training['omp_num_threads']}, load {training['load_1min'][0]} -> {training['load_1min'][1]}), "
            f"{training['epochs']} epochs; {info['train_sentences']} training / {info['test_sentences']} test "
            f"sentences\n  {training['command']}"
        )
    weight = (info.get("decoding") or {}).get("transition_weight")
    print("decoding: IOB2 Viterbi" + ("" if weight is None else f" + {weight:g} x the training tags' transition scores "
                                      "(weight chosen on the validation share)"))  # fmt: skip


def _triples(relations) -> set[tuple[str, str, str]]:
    from geohub.knowledge import normalise_name

    return {(normalise_name(r.head.text), r.relation, normalise_name(r.tail.text)) for r in relations}


def _scores(found: list[set], gold: list[set]) -> dict:
    tp = sum(len(f & g) for f, g in zip(found, gold))
    fp, fn = sum(len(f) for f in found) - tp, sum(len(g) for g in gold) - tp
    from geohub.metrics.scores import precision_recall_f1

    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "gold_relations": tp + fn,
    }


def relation_rows(args) -> list[dict]:
    """Relation P/R/F1 on the corpus' held-out split, document level ((head, relation, tail) with normalised
    names): the rules and the relation classifier, on gold entities and on the corpus tagger's entities."""
    from geohub.data.corpus import ENTITY_TYPES, RELATION_TYPES, load_geo_corpus, sentence_spans
    from geohub.inference.relations import classify_relations, load_relation_model
    from geohub.inference.text import load_text_model, predict_entities
    from geohub.knowledge import Mention, extract_relations, normalise_name

    held = load_geo_corpus()["test"]
    texts = list(held["text"])
    gold_mentions = []
    for row in held:
        spans = sentence_spans(row["text"])
        gold_mentions.append([
            Mention(e["text"], ENTITY_TYPES[e["label"]], e["start"], e["end"], 1.0,
                    next((i for i, (a, b) in enumerate(spans) if a <= e["start"] < b), 0))
            for e in row["entities"]
        ])  # fmt: skip
    gold = [{(normalise_name(r["head"]), RELATION_TYPES[r["relation"]], normalise_name(r["tail"])) for r in row["relations"]}
            for row in held]  # fmt: skip
    entity_sets = [("gold entities", gold_mentions)]
    if _model_dir(args.corpus_tagger):
        model, tokenizer = load_text_model(args.corpus_tagger)
        entity_sets.append(("predicted entities", predict_entities(texts, model, tokenizer)))
    systems = [("relation rules", extract_relations)]
    relation_models = [args.relation_model, *args.more_relation_models]
    for path in filter(_model_dir, relation_models):
        classifier, relation_tokenizer = load_relation_model(path)
        systems.append((f"relation classifier ({path})", lambda text, mentions, c=classifier, t=relation_tokenizer:
                        classify_relations(text, mentions, c, t)))  # fmt: skip
    rows = []
    for entities, mentions in entity_sets:
        for name, relate in systems:
            found = [_triples(relate(text, m)) for text, m in zip(texts, mentions)]
            rows.append({"data": f"corpus held-out ({entities})", "system": name, **_scores(found, gold)})
    if not _model_dir(args.relation_model):
        rows.append({"data": "corpus held-out", "system": "relation classifier",
                     "note": f"model not found at {args.relation_model}"})  # fmt: skip
    return rows


def summary_speed(args, documents: list[list[str]], titles: list[str]) -> dict:
    """Documents per second of the extractive summarizer (pre-split SciTLDR-A abstracts with titles)."""
    from geohub.inference.text import load_text_model, summarize

    if not (args.summarizer and (Path(args.summarizer) / "config.json").is_file()):
        return {}
    model, tokenizer = load_text_model(args.summarizer)
    sample, sample_titles = documents[: args.speed_documents], titles[: args.speed_documents]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        summarize(sample, model=model, tokenizer=tokenizer, titles=sample_titles, batch_size=16)
        times.append(time.perf_counter() - start)
    return {"extractive_documents_per_s": round(len(sample) / statistics.median(times), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--summarizer", default="runs/summarization/extractive")
    parser.add_argument("--bert2bert", default="runs/summarization/bert2bert")
    parser.add_argument("--scitldr-summarizer", default="runs/summarization/scitldr_extractive")
    parser.add_argument("--embedding-cache", default="runs/summarization/.embedding_cache",
                        help="MiniLM sentence embeddings kept between runs ('' for none)")  # fmt: skip
    parser.add_argument("--tagger", default="runs/knowledge_extraction/bgs_full")
    parser.add_argument("--corpus-tagger", default="runs/knowledge_extraction/corpus_full")
    parser.add_argument("--more-corpus-taggers", default=[], nargs="*",
                        help="further taggers scored on the corpus' held-out split in the same run")  # fmt: skip
    parser.add_argument("--relation-model", default="runs/knowledge_extraction/relations")
    parser.add_argument("--more-relation-models", nargs="*", default=[],
                        help="further relation classifiers scored in the same run (ablations)")  # fmt: skip
    parser.add_argument("--conll-test", action="append", default=[], help="a CoNLL-style test file (repeatable)")
    parser.add_argument("--conll-train", default=None, help="training file of --conll-test (gazetteer baseline)")
    parser.add_argument("--conll-tagger", default=None, help="tagger trained on --conll-train")
    parser.add_argument("--conll-label-map", default=None, help='JSON label map, e.g. {"LEXICON": "STRAT"}')
    parser.add_argument("--ner-data", default=None,
                        help="your labelled training file (CoNLL, JSONL spans, ...): trains the own-data recipe on it "
                        "and prints it against the dictionary baseline on --test-file (nothing else runs)")  # fmt: skip
    parser.add_argument("--test-file", default=None, help="test file of --ner-data")
    parser.add_argument("--recipe", default=str(OWN_DATA_RECIPE), help="recipe trained on --ner-data")
    parser.add_argument("--output-dir", default=None, help="where --ner-data's tagger is saved (runs/own_data/<name>)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a recipe field for --ner-data (repeatable), e.g. num_train_epochs=3")  # fmt: skip
    parser.add_argument("--label-map", default=None, help='JSON label map for --ner-data, e.g. {"DEPOSIT": "ORE"}')
    parser.add_argument("--own-tagger", default=None, help="score this tagger on --test-file instead of training")
    parser.add_argument("--min-support", type=int, default=30, help="types with fewer test entities are not judged")
    parser.add_argument("--max-scitldr", type=int, default=618, help="SciTLDR-A test documents (618 = all)")
    parser.add_argument("--speed-documents", type=int, default=32)
    parser.add_argument("--speed-sentences", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-summarization", action="store_true", help="only the entity and relation rows")
    parser.add_argument("--only-summarization", action="store_true", help="only the summarization rows and speed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import geohub  # noqa: F401
    from geohub.data.corpus import load_geo_corpus, load_scitldr, sentence_spans

    if args.ner_data or args.test_file:
        return own_data_main(args, parser)

    if not Path(args.shared_data).is_dir():
        print(
            f"benchmarks/literature.py: real data folder {args.shared_data} is absent (--shared-data)", file=sys.stderr
        )
        return 2
    held = load_geo_corpus()["test"]
    corpus_docs = [[row["text"][a:b] for a, b in sentence_spans(row["text"])] for row in held]
    scitldr = load_scitldr(Path(args.shared_data) / "scitldr-a", "test").select(range(args.max_scitldr))
    rows = []
    speed = {}
    if not args.skip_summarization:
        from geohub.training.summarization import scitldr_titles

        sci_titles = scitldr_titles(Path(args.shared_data) / "scitldr-a", "test")[: len(scitldr)]
        rows += summarization_rows("corpus held-out", corpus_docs, [[s] for s in held["summary"]],
                                   list(held["title"]), args)  # fmt: skip
        rows += summarization_rows("SciTLDR-A test", list(scitldr["sentences"]), list(scitldr["references"]),
                                   sci_titles, args)  # fmt: skip
    if not args.only_summarization:
        ner, speed = ner_rows(args)
        rows += ner + relation_rows(args)
    if not args.skip_summarization:
        speed.update(summary_speed(args, list(scitldr["sentences"]), sci_titles))
    settings = {"threads": args.threads, "repeats": args.repeats, "scitldr_documents": len(scitldr),
                "corpus_held_out": len(held), "machine": platform.processor() or platform.machine()}  # fmt: skip
    print(
        "BENCHMARK_JSON " + json.dumps({"rows": rows, "speed": speed, "references": REFERENCES, "settings": settings})
    )
    print_table(rows, speed)
    return 0


def own_data_main(args, parser) -> int:
    """`--ner-data FILE --test-file FILE`: the user's benchmark (JSON line + table)."""
    if not (args.ner_data and args.test_file):
        parser.error("--ner-data and --test-file go together")
    args.output_dir = args.output_dir or str(REPO / "runs" / "own_data" / Path(args.ner_data).stem)
    rows, info = own_data_rows(args)
    print("BENCHMARK_JSON " + json.dumps({"rows": rows, **info, "min_support": args.min_support}))
    print_own_data_table(rows, info, args.min_support)
    return 0


def print_table(rows: list[dict], speed: dict) -> None:
    print(f"\n{'data':<32} {'system':<58} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'F1':>7} {'P':>7} {'R':>7}")
    for row in rows:
        cells = [f"{row[k]:>6.2f}" if k in row else f"{'':>6}" for k in ("rouge1", "rouge2", "rougeL")]
        cells += [f"{row[k]:>7.3f}" if k in row else f"{'':>7}" for k in ("f1", "precision", "recall")]
        print(f"{row['data']:<32} {row['system'][:58]:<58} {' '.join(cells)} {row.get('note', '')}")
        per_class = {k[3:]: v for k, v in row.items() if k.startswith("f1_")}
        if per_class:
            print(f"{'':<32}   per class F1: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(per_class.items())))
    print(f"{'SciTLDR-A test':<32} {'reference: best abstract-only system (paper)':<58} {44.0:>6.2f}")
    print(f"{'BGS test':<32} {'reference: BGS CRF (Stanford CoreNLP)':<58} {'':>20} {0.893:>7.3f}")
    print(f"{'GeoBERT classes':<32} {'reference: GeoBERT (SciBERT fine-tuned)':<58} {'':>20} {'0.95-0.98':>9}")
    print("\nCPU speed (1 thread, median): " + ", ".join(f"{k} {v}" for k, v in speed.items()))


if __name__ == "__main__":
    sys.exit(main())
