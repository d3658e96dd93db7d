"""fp32 PyTorch vs int8 (torch dynamic quantisation) vs ONNX vs ONNX int8 (onnxruntime) for saved geohub models.

    python benchmarks/export.py --model geohub-quickstart/seismic_picking --model geohub-quickstart/eqtransformer \
        --model geohub-quickstart/seismic_magnitude --model geohub-quickstart/landform \
        --model geohub-quickstart/knowledge_extraction --model geohub-quickstart/summarization \
        --data ../shared/data/phasenet-ncedc

For each model folder: export to int8, ONNX and ONNX int8 (`geohub.export`, into a temporary folder; `--formats`
picks), then measure each variant on the same inputs, same threads (`--threads` for torch and onnxruntime):
- size: bytes of the weights files (model.safetensors / model.int8.safetensors / model.onnx [+ model.onnx.data]);
- speed: items per second on one fixed workload (`--batch` windows of the model's window length, `--batch`
  landform patches, `--batch` held-out corpus sentences for the tagger, `--batch // 2` held-out corpus documents
  for the summarizer), the median of `--repeats` timed rounds in which the variants run interleaved, after one
  warm-up; `speedup` is the ratio to fp32 in the same round structure;
- fidelity: largest |difference| of the main output from fp32 on that workload and the share of unchanged
  decisions (the P-probability argmax sample, the argmax class or label, the top sentence);
- quality, by family (each variant on the same held-out data):
  pickers (U-Net, EQTransformer) with `--data`: P-pick MAE (s) and P F1 (0.5 s tolerance) on 2 windows per record
  of the PhaseNet-NCEDC test stations (split as the picking recipe); magnitude: MAE on `--windows` synthetic
  event windows (seed 777, as benchmarks/seismic_magnitude.py); landform: accuracy on `--windows` synthetic
  patches (seed 12345, not a training seed); entity tagger: entity F1 (seqeval) on the corpus' held-out
  sentences; extractive summarizer: ROUGE-1 of the top sentence on the corpus' held-out documents (with titles).
Variants that do not apply are reported with the reason (int8 of a convolution-only model is refused).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.errors import GeohubError  # noqa: E402
from geohub.export import export_int8, export_onnx, export_onnx_int8, load_exported  # noqa: E402

PICKERS = {"geohub_seismic_picker", "geohub_eqtransformer"}
QUALITY_KEYS = {"p_mae_s": "lower", "p_f1": "higher", "magnitude_mae": "lower", "accuracy": "higher",
                "entity_f1": "higher", "rouge1": "higher"}  # fmt: skip


def _main_output(model_type: str, out) -> torch.Tensor:
    if model_type == "geohub_seismic_picker":
        return torch.softmax(out["logits"], dim=1)[:, 1]
    for key in ("p_probabilities", "logits", "denoised", "magnitude", "samples"):
        if key in out:
            return out[key]
    return out[0]


def _decision(model_type: str, main: torch.Tensor) -> np.ndarray:
    if model_type in PICKERS or model_type in {"bert", "geohub_gpd", "geohub_landform"}:
        return main.argmax(-1).numpy()
    if model_type == "geohub_extractive_summarizer":
        return main.argmax(-1).numpy()
    return np.round(main.numpy(), 1)


# --- workloads (speed and fidelity) and held-out data (quality) -------------------------------------------------
def _corpus_sentences() -> list[list[str]]:
    from geohub.data.corpus import ENTITY_TYPES
    from geohub.data.ner_files import geo_corpus_sentences, ner_dataset, ner_label_names

    return ner_dataset(geo_corpus_sentences("test"), ner_label_names(ENTITY_TYPES))


def _corpus_documents():
    from geohub.data.corpus import load_geo_corpus, sentence_spans

    held = load_geo_corpus()["test"]
    documents = [[row["text"][a:b] for a, b in sentence_spans(row["text"])] for row in held]
    return documents, [[s] for s in held["summary"]], list(held["title"])


def _summarizer_batch(tokenizer, documents, titles) -> dict:
    from geohub.models.extractive_summarizer.processing_extractive_summarizer import (
        collate_documents,
        encode_documents,
    )

    encoded = encode_documents(tokenizer, documents, 64, titles=titles)
    return collate_documents([dict(zip(encoded, v)) for v in zip(*encoded.values())], tokenizer.pad_token_id or 0)


def workload(model, processor, args) -> dict:
    """The fixed inputs every variant is timed on (`--batch` items)."""
    config, model_type = model.config, model.config.model_type
    generator = torch.Generator().manual_seed(0)
    if model_type == "geohub_landform":
        from geohub.data.synthetic_terrain import make_landform_dataset

        patches = make_landform_dataset(args.batch, int(config.image_size), float(processor.spacing_m), seed=99)
        return {"pixel_values": processor(np.asarray(patches["elevation"]))["pixel_values"]}
    if model_type == "geohub_extractive_summarizer":
        documents, _, titles = _corpus_documents()
        count = max(args.batch // 2, 1)
        return _summarizer_batch(processor, documents[:count], titles[:count])
    if getattr(model, "main_input_name", "") == "input_ids":
        words = [list(row["tokens"]) for row in _corpus_sentences()][: args.batch]
        encoded = processor(words, is_split_into_words=True, truncation=True, max_length=128, padding=True,
                            return_tensors="pt")  # fmt: skip
        keep = ("input_ids", "attention_mask") + (("token_type_ids",) if getattr(config, "type_vocab_size", 0) else ())
        return {k: v for k, v in encoded.items() if k in keep}
    batch = {"inputs": torch.randn(args.batch, config.in_channels, config.window_length, generator=generator)}
    if model_type == "geohub_seismic_magnitude":
        batch["log_amplitude"] = torch.randn(args.batch, config.in_channels, generator=generator)
    return batch


def _phasenet_windows(data_dir: str, length: int):
    from geohub.data.seismic_datasets import from_phasenet_npz, split_by_group
    from geohub.training.seismic import cut_windows

    splits = split_by_group(from_phasenet_npz(data_dir), by="station_id", validation_fraction=0.15,
                            test_fraction=0.2, seed=0)  # fmt: skip
    windows = cut_windows(splits["test"], length, repeats=2, seed=2, noise_probability=0.0).with_format("numpy")[:]
    return np.asarray(windows["waveforms"]), np.asarray(windows["p_arrival_sample"])


def quality_data(model, processor, args):
    """Held-out data of the model's family (None when the family has no quality metric here)."""
    model_type, config = model.config.model_type, model.config
    if model_type in PICKERS and args.data and processor is not None:
        return _phasenet_windows(args.data, int(config.window_length))
    if model_type == "geohub_seismic_magnitude":
        from geohub.data.synthetic_seismic import generate_synthetic_windows

        batch = generate_synthetic_windows(args.windows, seed=777, noise_fraction=0.0,
                                           window_length=config.window_length)  # fmt: skip
        return processor(batch["waveforms"], return_tensors="pt"), batch["magnitude"].astype(np.float64)
    if model_type == "geohub_landform":
        from geohub.data.synthetic_terrain import make_landform_dataset

        patches = make_landform_dataset(args.windows, int(config.image_size), float(processor.spacing_m), seed=12345)
        return processor(np.asarray(patches["elevation"]))["pixel_values"], np.asarray(patches["label"])
    if model_type == "bert" and getattr(config, "id2label", None):
        return _corpus_sentences()
    if model_type == "geohub_extractive_summarizer":
        return _corpus_documents()
    return None


@torch.no_grad()
def quality(model_type: str, runner, processor, data, config) -> dict:
    """The family's quality metric of one variant on `quality_data`."""
    if model_type in PICKERS:
        windows, p_true = data
        return _p_quality(runner, processor, windows, p_true, config.sampling_rate, config.p_threshold,
                          model_type == "geohub_eqtransformer")  # fmt: skip
    if model_type == "geohub_seismic_magnitude":
        features, truth = data
        predicted = np.concatenate([runner(inputs=features["inputs"][i : i + 128],
                                           log_amplitude=features["log_amplitude"][i : i + 128]).magnitude.numpy()
                                    for i in range(0, len(truth), 128)])  # fmt: skip
        return {"magnitude_mae": float(np.abs(predicted - truth).mean())}
    if model_type == "geohub_landform":
        pixels, labels = data
        predicted = np.concatenate([runner(pixel_values=pixels[i : i + 128]).logits.argmax(-1).numpy()
                                    for i in range(0, len(labels), 128)])  # fmt: skip
        return {"accuracy": float((predicted == labels).mean())}
    if model_type == "bert":
        from geohub.inference.text import predict_word_tags
        from geohub.metrics.text import load_seqeval

        names = data.features["ner_tags"].feature.names
        references = [[names[t] for t in row["ner_tags"]] for row in data]
        words = [list(row["tokens"]) for row in data]
        predicted = [[tag for tag, _ in row] for row in predict_word_tags(words, runner, processor, batch_size=32)]
        return {"entity_f1": float(load_seqeval().compute(predictions=predicted, references=references)["overall_f1"])}
    if model_type == "geohub_extractive_summarizer":
        from geohub.inference.text import score_sentences
        from geohub.metrics.text import load_rouge
        from geohub.models.extractive_summarizer.processing_extractive_summarizer import select_sentences

        documents, references, titles = data
        scores = score_sentences(documents, runner, processor, titles, batch_size=8)
        summaries = [select_sentences(row, sentences, 1) for row, sentences in zip(scores, documents)]
        return {"rouge1": 100 * float(load_rouge().compute(predictions=summaries, references=references)["rouge1"])}
    return {}


def _p_quality(model, extractor, windows, p_true, rate: float, threshold: float, eqt: bool) -> dict:
    from geohub.metrics.scores import precision_recall_f1, residual_stats

    picks = []
    for start in range(0, len(windows), 32):
        out = model(inputs=extractor(windows[start : start + 32])["inputs"])
        prob = (out["p_probabilities"] if eqt else torch.softmax(out["logits"], dim=1)[:, 1]).numpy()
        picks += list(np.where(prob.max(-1) >= threshold, prob.argmax(-1), -1))
    picks = np.asarray(picks)
    hit = (picks >= 0) & (np.abs(picks - p_true) <= 0.5 * rate)
    tp = int(hit.sum())
    f1 = precision_recall_f1(tp, int((picks >= 0).sum()) - tp, len(p_true) - tp)[2]
    return {"p_mae_s": residual_stats((picks[hit] - p_true[hit]) / rate)["mae"], "p_f1": f1}


# --- one model ---------------------------------------------------------------------------------------------------
def _variants(name: str, model, source: Path, args, work: Path) -> tuple[dict, dict, dict]:
    variants, notes = {"fp32": model}, {}
    sizes = {"fp32": (source / "model.safetensors").stat().st_size}
    for fmt, export in (("int8", export_int8), ("onnx", export_onnx), ("onnx-int8", export_onnx_int8)):
        if fmt not in args.formats.split(","):
            continue
        folder = work / f"{name}-{fmt}"
        try:
            info = export(model, folder, source=source)
        except GeohubError as err:
            notes[fmt] = str(err)[:200]
            continue
        variants[fmt] = load_exported(folder)
        sizes[fmt] = sum((folder / file).stat().st_size for file in info["files"])  # model.onnx (+ .data)
        if fmt.startswith("onnx"):
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = args.threads
            variants[fmt].session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options,
                                                                 providers=["CPUExecutionProvider"])  # fmt: skip
    return variants, sizes, notes


@torch.no_grad()
def bench_model(name: str, model, processor, source: Path, args, work: Path) -> dict:
    model = model.eval()
    model_type = model.config.model_type
    variants, sizes, notes = _variants(name, model, source, args, work)
    batch = workload(model, processor, args)
    items = next(iter(batch.values())).shape[0]
    for runner in variants.values():  # warm-up
        runner(**batch)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):  # interleaved rounds: the machine's load hits every variant alike
        for variant, runner in variants.items():
            start = time.perf_counter()
            runner(**batch)
            times[variant].append(time.perf_counter() - start)
    reference = _main_output(model_type, model(**batch)).float()
    data = quality_data(model, processor, args)
    rows = {}
    for variant, runner in variants.items():
        main = _main_output(model_type, runner(**batch)).float()
        finite = torch.isfinite(reference)
        rows[variant] = {
            "size_mb": sizes[variant] / 1e6,
            "per_second": items / statistics.median(times[variant]),
            "speedup": statistics.median(times["fp32"]) / statistics.median(times[variant]),
            "max_abs_diff": float((main[finite] - reference[finite]).abs().max()),
            "decision_agreement": float((_decision(model_type, main) == _decision(model_type, reference)).mean()),
        }
        if data is not None:
            rows[variant].update(quality(model_type, runner, processor, data, model.config))
    for row in rows.values():
        for key in set(row) & set(QUALITY_KEYS):
            base = rows["fp32"][key]
            row[f"{key}_change_pct"] = 100.0 * (row[key] - base) / abs(base) if base else float("nan")
    return {"model": name, "source": str(source), "model_type": model_type, "items": items, "rows": rows,
            "not_exported": notes}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="saved model folder (repeatable)")
    parser.add_argument("--data", help="PhaseNet-NCEDC folder for the pickers' P quality")
    parser.add_argument("--batch", type=int, default=32, help="items of the timed workload")
    parser.add_argument("--windows", type=int, default=600, help="magnitude windows / landform patches for quality")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds (median)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--formats", default="int8,onnx,onnx-int8", help="comma-separated subset of int8,onnx,onnx-int8"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from geohub.inference.loading import load_model_and_processor

    results = []
    with tempfile.TemporaryDirectory(prefix="geohub-export-bench-") as tmp:
        for folder in args.model:
            model, processor = load_model_and_processor(folder)
            if hasattr(model, "set_attn_implementation"):
                try:
                    model.set_attn_implementation("eager")  # what geohub.export traces
                except Exception:  # models without the switch keep their attention
                    pass
            name = Path(folder).name
            print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
            results.append(bench_model(name, model, processor, Path(folder), args, Path(tmp)))
    record = {"benchmark": "export", "batch": args.batch, "repeats": args.repeats, "threads": args.threads,
              "data": args.data, "results": results, "torch": torch.__version__, "machine": platform.machine()}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(record, default=float))
    print_tables(results)


def print_tables(results: list[dict]) -> None:
    for result in results:
        print(f"\n{result['model']} ({result['model_type']}; {result['items']} items per timed call)")
        columns = [c for c in ("size_mb", "per_second", "speedup", "max_abs_diff", "decision_agreement")]
        columns += sorted({c for row in result["rows"].values() for c in row} - set(columns))
        print(f"{'variant':<10}" + "".join(f"{c:>24}" for c in columns))
        for variant, row in result["rows"].items():
            print(f"{variant:<10}" + "".join(f"{row.get(c, float('nan')):>24.4g}" for c in columns))
        for fmt, note in result["not_exported"].items():
            print(f"{fmt}: not exported: {note}")


if __name__ == "__main__":
    main()
