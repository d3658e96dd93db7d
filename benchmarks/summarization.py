"""Summarizers against the simple baselines, in one run: ROUGE-1/-2/-L and mean words of the summaries on the
corpus' held-out split and on SciTLDR-A test (all 618 abstracts; `--scitldr-split dev` for validation).

    python benchmarks/summarization.py                                   # the shipped default
    python benchmarks/summarization.py --models default runs/summarization/scitldr_extractive

Every system chooses among the same sentences (documents go in pre-split; nothing is re-split). Baselines: Lead-1,
the TF-IDF centroid sentence, the MiniLM centroid sentence and the oracle sentence (upper bound). Each model is
scored with titles and on text alone; a model with a compression head also with whole sentences
(`compress=False`), so the gain of the word deletion is measured in the same run. A model row "beats" when it is
above both Lead-1 and the TF-IDF centroid on ROUGE-1, -2 and -L. Prints `BENCHMARK_JSON {...}` and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.literature import embedded_documents, rouge  # noqa: E402

REFERENCES = {"scitldr_rouge1_matchsum": 42.7, "scitldr_rouge1_bart_abstract_only": 43.0, "scitldr_rouge1_paper": 44.0}


def mean_words(texts) -> float:
    return round(float(np.mean([len(t.split()) for t in texts])), 1)


def _resolve(path: str) -> Path:
    if path == "default":
        from geohub.defaults import default_model_path

        return default_model_path("summarization")
    return Path(path)


@torch.no_grad()
def model_summaries(path: Path, documents, titles, with_titles: bool, compress: bool, cache: dict) -> list[str]:
    """What `summarize(documents, model=path, titles=..., compress=...)` returns, from the cached sentence
    embeddings (checked against `summarize` itself on the first 8 documents)."""
    from geohub.inference.text import compress_sentences, load_text_model, summarize
    from geohub.models.extractive_summarizer.processing_extractive_summarizer import (
        collate_documents,
        select_sentence_indices,
    )

    model, tokenizer = load_text_model(path)
    features = []
    for row in embedded_documents(model, tokenizer, documents, titles, cache):
        row = dict(row)
        if not with_titles:  # exactly what summarize(..., titles=None) computes
            row["title_mask"] = 0
            row["sentence_features"] = [values[:3] + [0.0] + values[4:] for values in row["sentence_features"]]
        features.append(row)
    chosen = []
    for begin in range(0, len(features), 32):
        logits = model(**collate_documents(features[begin : begin + 32])).logits.numpy()
        chosen += [select_sentence_indices(r, d, 1) for r, d in zip(logits, documents[begin : begin + 32])]
    if compress:
        items = [(d, c[0], t if with_titles else None) for d, c, t in zip(documents, chosen, titles)]
        summaries = compress_sentences(items, model, tokenizer, batch_size=32)
    else:
        summaries = [d[c[0]] for d, c in zip(documents, chosen)]
    check = summarize(documents[:8], model=model, tokenizer=tokenizer, titles=titles[:8] if with_titles else None,
                      compress=compress)  # fmt: skip
    assert check == summaries[:8], "cached embeddings disagree with summarize()"
    for summary, document, c in zip(summaries, documents, chosen):  # only deletions, order kept
        rest = iter(document[c[0]].split())
        assert all(word in rest for word in summary.split()), (summary, document[c[0]])
    return summaries


def data_rows(name: str, documents, references, titles, args) -> list[dict]:
    from transformers import AutoTokenizer

    from geohub.models.extractive_summarizer import ExtractiveSummarizerForSentenceExtraction
    from geohub.models.extractive_summarizer.processing_extractive_summarizer import tfidf_centroid_scores
    from geohub.training.summarization import oracle_labels
    from geohub.training.text import resolve_model_path

    cache: dict = {"dir": args.embedding_cache or None}
    reference_words = mean_words([r for refs in references for r in refs])

    def row(system: str, summaries: list[str], **extra) -> dict:
        return {"data": name, "system": system, **rouge(summaries, references), "words": mean_words(summaries),
                "reference_words": reference_words, **extra}  # fmt: skip

    rows = [row("Lead-1 (first sentence)", [d[0] for d in documents])]
    rows.append(row("TF-IDF centroid (unsupervised)", [d[int(tfidf_centroid_scores(d).argmax())] for d in documents]))
    minilm = ExtractiveSummarizerForSentenceExtraction.from_encoder(resolve_model_path("minilm")).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    centroid = []
    for embedded, document in zip(embedded_documents(minilm, tokenizer, documents, titles, cache), documents):
        vectors = torch.tensor(embedded["sentence_embeddings"])
        centroid.append(document[int((vectors @ torch.nn.functional.normalize(vectors.mean(0), dim=0)).argmax())])
    rows.append(row("MiniLM centroid (unsupervised)", centroid))
    oracle = [" ".join(s for s, keep in zip(d, oracle_labels(d, r)) if keep) for d, r in zip(documents, references)]
    rows.append(row("oracle sentence (upper bound)", oracle))
    baselines = rows[:2]
    for label in args.models:
        path = _resolve(label)
        if not (path / "config.json").is_file():
            rows.append({"data": name, "system": label, "note": f"model not found at {path}"})
            continue
        config = json.loads((path / "config.json").read_text())
        # (compress, with titles)
        variants = (
            [(True, True), (True, False), (False, True)]
            if config.get("compression")
            else [(False, True), (False, False)]
        )
        for compress, with_titles in variants:
            start = time.perf_counter()
            summaries = model_summaries(path, documents, titles, with_titles, compress, cache)
            system = f"{label}: {'compressed' if compress else 'whole sentence'}, {'with titles' if with_titles else 'text only'}"
            scored = row(system, summaries, model=str(path), seconds=round(time.perf_counter() - start, 1))
            scored["beats_lead1_and_tfidf"] = all(
                scored[k] > b[k] for b in baselines for k in ("rouge1", "rouge2", "rougeL")
            )
            rows.append(scored)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["default"],
                        help="model folders ('default': the shipped default of geohub.defaults)")  # fmt: skip
    parser.add_argument("--shared-data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--scitldr-split", default="test", choices=("test", "dev"))
    parser.add_argument("--max-scitldr", type=int, default=None, help="first N SciTLDR-A documents (default: all)")
    parser.add_argument("--embedding-cache", default="runs/summarization/.embedding_cache",
                        help="MiniLM sentence embeddings kept between runs ('' for none)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from geohub.data.corpus import load_geo_corpus, load_scitldr, sentence_spans
    from geohub.training.summarization import scitldr_titles

    root = Path(args.shared_data) / "scitldr-a"
    if not root.is_dir():
        print(f"benchmarks/summarization.py: SciTLDR-A folder {root} is absent (--shared-data)", file=sys.stderr)
        return 2
    held = load_geo_corpus()["test"]
    corpus_docs = [[row["text"][a:b] for a, b in sentence_spans(row["text"])] for row in held]
    scitldr = load_scitldr(root, args.scitldr_split)
    titles = scitldr_titles(root, args.scitldr_split)
    if args.max_scitldr:
        scitldr, titles = scitldr.select(range(min(args.max_scitldr, len(scitldr)))), titles[: args.max_scitldr]
    rows = data_rows("corpus held-out", corpus_docs, [[s] for s in held["summary"]], list(held["title"]), args)
    rows += data_rows(f"SciTLDR-A {args.scitldr_split}", list(scitldr["sentences"]), list(scitldr["references"]),
                      titles, args)  # fmt: skip
    settings = {"threads": args.threads, "scitldr_split": args.scitldr_split, "scitldr_documents": len(scitldr),
                "corpus_held_out": len(held), "load_average": os.getloadavg()[0],
                "machine": platform.processor() or platform.machine()}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps({"rows": rows, "references": REFERENCES, "settings": settings}))
    print_table(rows)
    return 0


def print_table(rows: list[dict]) -> None:
    print(f"\n{'data':<18} {'system':<62} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'words':>6} {'refs':>5}  beats")
    for row in rows:
        cells = " ".join(f"{row[k]:>6.2f}" if k in row else f"{'':>6}" for k in ("rouge1", "rouge2", "rougeL"))
        beats = {True: "yes", False: "NO"}.get(row.get("beats_lead1_and_tfidf"), "")
        print(f"{row['data']:<18} {row['system'][:62]:<62} {cells} {row.get('words', ''):>6} "
              f"{row.get('reference_words', ''):>5}  {beats}{row.get('note', '')}")  # fmt: skip
    for key, value in REFERENCES.items():
        print(f"{'SciTLDR-A':<18} {'reference: ' + key:<62} {value:>6.2f}")


if __name__ == "__main__":
    sys.exit(main())
