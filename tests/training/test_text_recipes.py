"""Tiny training runs of the literature tasks: CLI launch, LoRA save/load/merge, a from-scratch T5 on the domain
sentencepiece tokenizer, the extractive summarizer, the warm-started encoder-decoder, quickstart recipes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from transformers import (
    AutoModel,
    AutoModelForSeq2SeqLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    T5Config,
    T5ForConditionalGeneration,
)

import geohub  # noqa: F401
from geohub.data.corpus import NER_LABELS, sentence_spans
from geohub.data.tokenization import corpus_texts, train_domain_tokenizer
from geohub.environment import offline_minilm_path
from geohub.errors import ConfigError
from geohub.inference.text import summarize
from geohub.quickstart import quickstart_recipes
from geohub.training.launch import run_recipe
from geohub.training.summarization import warm_started_encoder_decoder
from tests.conftest import run_command

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "geo_corpus_sample.jsonl"
FAST = {"report_to": "none", "eval_strategy": "no", "save_strategy": "no", "logging_steps": 1, "seed": 0}


def _recipe(tmp_path: Path, name: str, values: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.slow
def test_knowledge_extraction_lora_from_the_cli_merges_for_export(tmp_path, repo_root):
    out = tmp_path / "ke"
    recipe = _recipe(tmp_path, "ke", {
        "task": "knowledge_extraction", "model_name_or_path": "minilm", "use_lora": True, "lora_r": 4,
        "dataset": str(FIXTURE), "validation_fraction": 0.25, "output_dir": str(out), "max_steps": 2,
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-2, **FAST,
    })  # fmt: skip
    result = run_command(
        [
            sys.executable,
            "-m",
            "geohub.cli",
            "train",
            str(recipe),
            "--config_file",
            "recipes/accelerate_configs/cpu.yaml",
        ],
        cwd=repo_root,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "adapter" / "all_results.json").read_text())
    assert "eval_f1" in metrics and any(k.startswith("eval_f1_") for k in metrics)
    assert (out / "adapter" / "adapter_config.json").is_file()
    # the merged export loads without peft and equals base + adapter
    from peft import PeftModel

    merged = AutoModelForTokenClassification.from_pretrained(out).eval()
    labels = list(merged.config.id2label.values())  # the fixture's types (all within geohub's schema), sorted
    assert labels[0] == "O" and set(labels) <= set(NER_LABELS) and merged.config.case_token_types
    base = AutoModelForTokenClassification.from_pretrained(offline_minilm_path(), num_labels=len(labels))
    adapted = PeftModel.from_pretrained(base, out / "adapter").eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    batch = tokenizer(["The Chalk Group overlies the Gault Formation."], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits, adapted(**batch).logits, atol=1e-4, rtol=1e-4)


def test_tiny_t5_from_scratch_with_domain_tokenizer_and_lora(tmp_path):
    tokenizer = train_domain_tokenizer(corpus_texts(FIXTURE), tmp_path / "t5", vocab_size=300)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2,
                      decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path / "t5")
    assert type(AutoTokenizer.from_pretrained(tmp_path / "t5")).__name__ == "T5Tokenizer"
    out = tmp_path / "run"
    recipe = _recipe(tmp_path, "t5", {
        "task": "summarization", "model_name_or_path": str(tmp_path / "t5"), "architecture": "seq2seq",
        "use_lora": True, "lora_target_modules": "q,v", "dataset": str(FIXTURE), "source_prefix": "summarize: ",
        "max_source_length": 64, "max_target_length": 16, "output_dir": str(out), "max_steps": 3,
        "per_device_train_batch_size": 2, "learning_rate": 1e-2, "predict_with_generate": True,
        "generation_max_length": 8, **FAST,
    })  # fmt: skip
    metrics = run_recipe(str(recipe))
    assert {"eval_rouge1", "eval_rouge2", "eval_rougeL"} <= set(metrics)
    merged = AutoModelForSeq2SeqLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    summaries = summarize(["The Chalk Group overlies the Gault Formation. " * 40], model=out, max_new_tokens=4)
    assert len(summaries) == 1 and isinstance(summaries[0], str)  # 40 sentences: chunked, then re-summarised


def test_extractive_summarization_trains_and_resumes(tmp_path):
    out = tmp_path / "ext"
    values = {
        "task": "summarization", "model_name_or_path": "minilm", "architecture": "extractive",
        "dataset": str(FIXTURE), "output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 2,
        "learning_rate": 1e-3, **FAST, "save_strategy": "steps", "save_steps": 2,
        "resume_from_checkpoint": "last",
    }  # fmt: skip
    metrics = run_recipe(str(_recipe(tmp_path, "ext", values)))
    assert metrics["eval_rouge1"] > 0 and (out / "checkpoint-2").is_dir()
    texts = [json.loads(line)["text"] for line in FIXTURE.read_text().splitlines()[:2]]
    for text, summary in zip(texts, summarize(texts, model=out)):
        assert summary in text
    # the same recipe resumes from checkpoint-2 and trains to step 3 only
    metrics = run_recipe(str(_recipe(tmp_path, "ext", values | {"max_steps": 3, "save_steps": 3})))
    assert (out / "checkpoint-3").is_dir() and metrics["train_epoch"] > 0


def test_extractive_quickstart_recipe_trains_the_features_scorer(tmp_path):
    # the quickstart's summarization recipe (features-only scorer, soft oracle labels) through the real task path
    out = tmp_path / "quick"
    values = {"task": "summarization"} | quickstart_recipes()["summarization"]
    values |= {"dataset": str(FIXTURE), "output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 2,
               "extra_train_dataset": None, "embedding_cache_dir": None, "compression_epochs": 2}  # fmt: skip
    metrics = run_recipe(str(_recipe(tmp_path, "quick", values)))
    assert 0 < metrics["eval_rouge1"] <= 100
    model = AutoModel.from_pretrained(out)
    assert model.config.use_features and not model.config.embedding_scorer and model.config.loss == "listwise"
    assert model.config.compression and model.config.num_lexical_features == 6
    texts = [json.loads(line)["text"] for line in FIXTURE.read_text().splitlines()[:3]]
    whole = summarize(texts, model=out, num_sentences=2, compress=False)
    for text, summary, shortened in zip(texts, whole, summarize(texts, model=out, num_sentences=2)):
        sentences = [text[a:b] for a, b in sentence_spans(text)]
        assert summary in {f"{a} {b}" for i, a in enumerate(sentences) for b in sentences[i + 1 :]}
        words = iter(summary.split())  # the compressed summary only deletes words of the chosen sentences
        assert all(word in words for word in shortened.split()) and len(shortened.split()) >= min(8, len(summary.split()))
    with pytest.raises(ConfigError, match="summary_sentences"):
        run_recipe(str(_recipe(tmp_path, "bad", values | {"summary_sentences": 0})))


def test_warm_started_encoder_decoder_computes_a_loss_and_generates():
    path = str(offline_minilm_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = warm_started_encoder_decoder(path, tokenizer)
    batch = tokenizer(["Seismic tomography images a mantle plume beneath Iceland."], return_tensors="pt")
    labels = tokenizer(["A plume beneath Iceland."], return_tensors="pt")["input_ids"]
    output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
    assert torch.isfinite(output.loss)
    torch.testing.assert_close(
        model.encoder.embeddings.word_embeddings.weight, model.decoder.bert.embeddings.word_embeddings.weight
    )
    generated = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=3)
    assert generated[0, 0].item() == tokenizer.cls_token_id


def test_corpus_recipe_field_adds_weakly_labelled_summaries(tmp_path):
    """`corpus_summaries: true` in a recipe reaches the data loader: the training split gains one row per
    training record (its summary), the held-out validation split is unchanged."""
    from geohub.training.arguments import parse_recipe
    from geohub.training.text import KNOWLEDGE_EXTRACTION, load_ner_splits

    values = {"task": "knowledge_extraction", "dataset": "geo_corpus", "output_dir": str(tmp_path / "o"), **FAST}
    plain = parse_recipe(
        KNOWLEDGE_EXTRACTION.argument_types, _recipe(tmp_path, "plain", {**values, "corpus_summaries": False})
    )[1]
    weak = parse_recipe(KNOWLEDGE_EXTRACTION.argument_types, _recipe(tmp_path, "weak", values))[1]
    assert weak.corpus_summaries and not plain.corpus_summaries  # on by default
    (plain_splits, names), (weak_splits, weak_names) = load_ner_splits(plain), load_ner_splits(weak)
    assert names == weak_names
    added = len(weak_splits["train"]) - len(plain_splits["train"])
    assert added > 150  # one summary per training record
    assert len(weak_splits["validation"]) == len(plain_splits["validation"])
