"""fp32 PyTorch vs int8 (dynamic quantisation) vs ONNX (onnxruntime) for saved geohub models, one run.

    python benchmarks/export.py --model runs/seismic_picking/phasenet --model runs/eqtransformer-original \
        --model runs/seismic_denoiser/phasenet_noise [--minilm] [--data ../shared/data/phasenet-ncedc]

For each model folder: export to ONNX and int8 (`geohub.export`, into a temporary folder), then on one fixed batch
(`--batch` windows of the model's window length; for text `--batch` sequences of 128 tokens) measure:
- size: bytes of the weights file (model.safetensors / model.int8.safetensors / model.onnx);
- speed: windows (or sequences) per second, best of `--repeats` timed runs after one warm-up, torch and
  onnxruntime both on `--threads` threads;
- fidelity: largest |difference| of the main output from fp32 and the share of windows whose decision (argmax
  sample of the P probability for pickers, argmax label per token for taggers) is unchanged;
- quality (pickers with --data): P-pick MAE (s) and P F1 (0.5 s tolerance) on 30 s windows of the PhaseNet-NCEDC
  test stations (split as the picking recipe), for each variant.
`--minilm` adds the offline all-MiniLM-L6-v2 encoder with a token-classification head (5 labels, head untrained:
speed and fidelity only). Variants that do not apply are reported with the reason (int8 of a convolution-only
model is refused by geohub.export).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.errors import GeohubError  # noqa: E402
from geohub.export import export_int8, export_onnx, load_exported  # noqa: E402


def _main_output(out):
    for key in ("p_probabilities", "logits", "denoised", "magnitude", "samples"):
        if key in out:
            return out[key]
    return out[0]


def _decision(model_type: str, main: torch.Tensor) -> np.ndarray:
    if model_type == "geohub_seismic_picker":
        return torch.softmax(main, dim=1)[:, 1].argmax(-1).numpy()
    if model_type == "geohub_eqtransformer":
        return main.argmax(-1).numpy()
    if main.dim() >= 2 and model_type in {"bert", "geohub_gpd", "geohub_landform"}:
        return main.argmax(-1).numpy()
    return np.round(main.numpy(), 2)


def _timed(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _batch(model, size: int) -> dict:
    config = model.config
    generator = torch.Generator().manual_seed(0)
    if getattr(model, "main_input_name", "") == "input_ids":
        ids = torch.randint(1000, int(config.vocab_size), (size, 128), generator=generator)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    return {"inputs": torch.randn(size, config.in_channels, config.window_length, generator=generator)}


def _phasenet_windows(data_dir: str, length: int):
    from geohub.data.seismic_datasets import from_phasenet_npz, split_by_group
    from geohub.training.seismic import cut_windows

    splits = split_by_group(from_phasenet_npz(data_dir), by="station_id", validation_fraction=0.15,
                            test_fraction=0.2, seed=0)  # fmt: skip
    windows = cut_windows(splits["test"], length, repeats=2, seed=2, noise_probability=0.0).with_format("numpy")[:]
    return np.asarray(windows["waveforms"]), np.asarray(windows["p_arrival_sample"])


def _p_quality(model, extractor, windows, p_true, rate: float, threshold: float, eqt: bool) -> dict:
    picks = []
    for start in range(0, len(windows), 32):
        inputs = extractor(windows[start : start + 32])["inputs"]
        with torch.no_grad():
            out = model(inputs=inputs)
        prob = out["p_probabilities"] if eqt else torch.softmax(out["logits"], dim=1)[:, 1]
        prob = prob.numpy()
        picks += list(np.where(prob.max(-1) >= threshold, prob.argmax(-1), -1))
    picks = np.asarray(picks)
    hit = (picks >= 0) & (np.abs(picks - p_true) <= 0.5 * rate)
    from geohub.metrics.scores import precision_recall_f1, residual_stats

    tp = int(hit.sum())
    f1 = precision_recall_f1(tp, int((picks >= 0).sum()) - tp, len(p_true) - tp)[2]
    return {"p_mae_s": residual_stats((picks[hit] - p_true[hit]) / rate)["mae"], "p_f1": f1}


def bench_model(name: str, model, extractor, source: Path | None, args, work: Path) -> dict:
    model = model.eval()
    model_type = model.config.model_type
    batch = _batch(model, args.batch)
    if "token_type_ids" in batch and not getattr(model.config, "type_vocab_size", 0):
        batch.pop("token_type_ids")
    variants: dict = {"fp32": model}
    sizes = {"fp32": (source / "model.safetensors").stat().st_size if source else
             sum(p.numel() * 4 for p in model.parameters())}  # fmt: skip
    notes = {}
    for fmt, export in (("int8", export_int8), ("onnx", export_onnx)):
        if fmt not in args.formats.split(","):
            continue
        try:
            export(model, work / f"{name}-{fmt}", source=source)
            variants[fmt] = load_exported(work / f"{name}-{fmt}")
            file = "model.int8.safetensors" if fmt == "int8" else "model.onnx"
            sizes[fmt] = (work / f"{name}-{fmt}" / file).stat().st_size
        except GeohubError as err:
            notes[fmt] = str(err)[:160]
    if "onnx" in variants:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        variants["onnx"].session = onnxruntime.InferenceSession(
            str(work / f"{name}-onnx" / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
    with torch.no_grad():
        reference = _main_output(model(**batch))
    rows = {}
    for variant, runner in variants.items():
        with torch.no_grad():
            seconds = _timed(lambda runner=runner: runner(**batch), args.repeats)
            main = _main_output(runner(**batch))
        rows[variant] = {
            "size_mb": sizes[variant] / 1e6,
            "per_second": args.batch / seconds,
            "max_abs_diff": float((main.float() - reference.float()).abs().max()),
            "decision_agreement": float((_decision(model_type, main) == _decision(model_type, reference)).mean()),
        }
    if args.data and model_type in {"geohub_seismic_picker", "geohub_eqtransformer"} and extractor is not None:
        windows, p_true = _phasenet_windows(args.data, int(model.config.window_length))
        for variant, runner in variants.items():
            rows[variant].update(_p_quality(runner, extractor, windows, p_true, model.config.sampling_rate,
                                            model.config.p_threshold, model_type == "geohub_eqtransformer"))  # fmt: skip
    fp32 = rows["fp32"]["per_second"]
    for row in rows.values():
        row["speedup"] = row["per_second"] / fp32
    return {"model": name, "model_type": model_type, "rows": rows, "not_exported": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="saved model folder (repeatable)")
    parser.add_argument("--minilm", action="store_true", help="also the offline MiniLM token classifier")
    parser.add_argument("--data", help="PhaseNet-NCEDC folder for the pickers' P quality")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--formats", default="int8,onnx", help="comma-separated subset of int8,onnx")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from geohub.inference.loading import load_model_and_processor

    results = []
    with tempfile.TemporaryDirectory(prefix="geohub-export-bench-") as tmp:
        for folder in args.model:
            model, processor = load_model_and_processor(folder)
            results.append(bench_model(Path(folder).name, model, processor, Path(folder), args, Path(tmp)))
        if args.minilm:
            from transformers import BertForTokenClassification

            from geohub.environment import offline_minilm_path

            torch.manual_seed(0)
            tagger = BertForTokenClassification.from_pretrained(offline_minilm_path(), num_labels=5)
            results.append(bench_model("minilm-token-classifier", tagger, None, None, args, Path(tmp)))
    record = {"benchmark": "export", "batch": args.batch, "threads": args.threads, "results": results,
              "torch": torch.__version__, "machine": platform.machine()}  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(record, default=float))
    for result in results:
        print(f"\n{result['model']} ({result['model_type']})")
        columns = sorted({c for row in result["rows"].values() for c in row})
        print(f"{'variant':<8}" + "".join(f"{c:>20}" for c in columns))
        for variant, row in result["rows"].items():
            print(f"{variant:<8}" + "".join(f"{row.get(c, float('nan')):>20.4g}" for c in columns))
        for fmt, note in result["not_exported"].items():
            print(f"{fmt}: not exported: {note}")


if __name__ == "__main__":
    main()
