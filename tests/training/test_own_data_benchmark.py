"""`benchmarks/literature.py --ner-data FILE --test-file FILE` as a user runs it: trains the own-data recipe (with
the gazetteer features) through `geohub train`, prints the dictionary baseline and the tagger per type with the
training time; the saved tagger carries its dictionary, and geohub's inference feeds it the same matches."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import run_command

SENTENCES = [
    "The O granite B-ROCK hosts O disseminated O chalcopyrite B-MIN . O",
    "Pyrite B-MIN occurs O in O the O felsic B-ROCK schist I-ROCK . O",
    "Galena B-MIN and O sphalerite B-MIN fill O veins O in O basalt B-ROCK . O",
    "The O dolerite B-ROCK dyke O carries O pyrite B-MIN . O",
    "Chalcopyrite B-MIN and O pyrite B-MIN replace O the O felsic B-ROCK schist I-ROCK . O",
    "Gold B-MIN occurs O in O quartz B-MIN veins O in O basalt B-ROCK . O",
]


def _conll(lines: list[str]) -> str:
    blocks = []
    for line in lines:
        parts = line.split()
        blocks.append("\n".join(f"{w}\t{t}" for w, t in zip(parts[::2], parts[1::2])))
    return "\n\n".join(blocks) + "\n"


@pytest.mark.slow
def test_own_data_benchmark_trains_and_prints_dictionary_and_tagger(tmp_path, repo_root):
    train, test = tmp_path / "train.conll", tmp_path / "test.conll"
    train.write_text(_conll(SENTENCES * 3))
    test.write_text(_conll(["Pyrite B-MIN in O felsic B-ROCK schist I-ROCK and O basalt B-ROCK . O"]))
    out = tmp_path / "tagger"
    command = [sys.executable, "benchmarks/literature.py", "--ner-data", str(train), "--test-file", str(test),
               "--output-dir", str(out), "--set", "max_steps=2", "--set", "per_device_train_batch_size=4",
               "--set", "eval_strategy=no", "--set", "save_strategy=no", "--set", "load_best_model_at_end=false",
               "--set", "early_stopping_patience=0", "--set", "gazetteer_folds=3", "--min-support", "1"]  # fmt: skip
    result = run_command(command, cwd=repo_root, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCHMARK_JSON "))
    report = json.loads(line[len("BENCHMARK_JSON ") :])
    dictionary, tagger = report["rows"][0], report["rows"][-1]
    assert dictionary["system"].startswith("gazetteer") and "tagger" in tagger["system"]
    assert dictionary["f1"] == 1.0  # every test entity is a training name: the longest match finds them all
    assert dictionary["support"] == {"MIN": 1, "ROCK": 2} and 0.0 <= tagger["f1"] <= 1.0
    assert report["training"]["wall_s"] > 0 and report["training"]["cpu_s"] > 0
    assert report["train_sentences"] == 18 and report["test_sentences"] == 1
    assert "dictionary F1" in result.stdout and "training:" in result.stdout

    config = json.loads((out / "config.json").read_text())
    assert config["gazetteer"]["types"] == ["MIN", "ROCK"] and config["type_vocab_size"] == 10
    assert "felsic schist" in config["gazetteer"]["phrases"]["ROCK"]

    from geohub.inference.text import load_text_model, predict_word_tags
    from geohub.models.entity_tagger.gazetteer import TokenTypes

    model, tokenizer = load_text_model(str(out))
    types = TokenTypes(model.config)
    assert types([None, 0, 1, 2, None], ["Felsic", "schist", "x"]) == [0, 1 + 2 * 3, 2 * 4, 0, 0]
    tags = predict_word_tags([["Pyrite", "in", "felsic", "schist"]], model, tokenizer)
    assert len(tags[0]) == 4 and all(tag.split("-")[-1] in ("O", "MIN", "ROCK") for tag, _ in tags[0])

    # the soft transition scores of the training tags and the weight chosen on the 10 % validation share
    transitions = config["tag_transitions"]
    assert transitions["labels"] == [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    names = transitions["labels"]
    rock = transitions["transitions"][names.index("B-ROCK")]
    assert rock[names.index("I-ROCK")] > 0 > rock[names.index("B-ROCK")]  # felsic schist: B-ROCK then I-ROCK
    results = json.loads((out / "all_results.json").read_text())
    assert config["transition_weight"] == results["transition_weight"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert "eval_f1_transition_weight_1" in results and "test_f1" in results
