"""A user's own CoNLL file with its own entity types trains through `geohub train` with only a recipe; the
test file is scored once at the end (per-type P/R/F1 in all_results.json); bad data fails before any model."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from geohub.errors import CorpusError
from geohub.training.arguments import parse_recipe
from geohub.training.text import KNOWLEDGE_EXTRACTION, load_ner_splits
from tests.conftest import run_command

TRAIN = """token\ttag
The\tO
granite\tB-ROCK
hosts\tO
disseminated\tO
chalcopyrite\tB-MINERAL
.\tO

A\tO
porphyry\tB-ORE_DEPOSIT
copper\tI-ORE_DEPOSIT
deposit\tI-ORE_DEPOSIT
lies\tO
in\tO
altered\tO
andesite\tB-ROCK
.\tO
"""
TEST = "Basalt B-ROCK\nwith O\nolivine B-MINERAL\n\nAn O\nepithermal B-ORE_DEPOSIT\ngold I-ORE_DEPOSIT\nvein I-ORE_DEPOSIT\n"


def _recipe(tmp_path, **values):
    (tmp_path / "train.conll").write_text(TRAIN)
    (tmp_path / "test.conll").write_text(TEST)
    recipe = {"task": "knowledge_extraction", "model_name_or_path": "minilm", "dataset": str(tmp_path / "train.conll"),
              "test_file": str(tmp_path / "test.conll"), "validation_fraction": 0.5, "output_dir": str(tmp_path / "out"),
              "max_steps": 2, "per_device_train_batch_size": 2, "learning_rate": 1e-3, "eval_strategy": "no",
              "save_strategy": "no", "report_to": "none", "seed": 0, **values}  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_recipe_fields_choose_labels_and_splits(tmp_path):
    args = parse_recipe(KNOWLEDGE_EXTRACTION.argument_types, _recipe(tmp_path, label_map={"ORE_DEPOSIT": "DEPOSIT"}))
    splits, names = load_ner_splits(args[1])
    assert names == ["O", "B-DEPOSIT", "I-DEPOSIT", "B-MINERAL", "I-MINERAL", "B-ROCK", "I-ROCK"]
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (1, 1, 2)


def test_bad_file_fails_before_any_model_is_loaded(tmp_path):
    args = parse_recipe(KNOWLEDGE_EXTRACTION.argument_types, _recipe(tmp_path))
    (tmp_path / "test.conll").write_text("Basalt B-ROCK\nolivine\n")
    with pytest.raises(CorpusError, match=r"test\.conll:2.*token and a tag"):
        KNOWLEDGE_EXTRACTION.run(*args)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_own_types_train_through_the_cli_and_the_test_file_is_scored(tmp_path, repo_root):
    recipe = _recipe(tmp_path)
    command = [sys.executable, "-m", "geohub.cli", "train", str(recipe), "--config_file",
               "recipes/accelerate_configs/cpu.yaml"]  # fmt: skip
    result = run_command(command, cwd=repo_root, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "all_results.json").read_text())
    for kind in ("ROCK", "MINERAL", "ORE_DEPOSIT"):
        assert {f"test_{kind}_{k}" for k in ("precision", "recall", "f1", "support")} <= set(metrics)
    assert metrics["test_ORE_DEPOSIT_support"] == 1 and 0.0 <= metrics["test_f1"] <= 1.0
    assert "test set: entity F1" in result.stdout
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert sorted(config["label2id"]) == sorted(["O", "B-MINERAL", "I-MINERAL", "B-ORE_DEPOSIT", "I-ORE_DEPOSIT",
                                                 "B-ROCK", "I-ROCK"])  # fmt: skip


def test_trainer_metrics_decode_valid_iob2_at_labelled_sub_words():
    import numpy as np

    from geohub.training.text import decode_word_tags, seqeval_metrics

    names = ["O", "B-STRAT", "I-STRAT", "B-TIMESCALE", "I-TIMESCALE"]
    # one row "No ." (+ a continuation sub-word and padding): arg-max is B-STRAT, I-TIMESCALE (a stray I-)
    logits = np.log(np.array([[[0.3, 0.6, 0.0, 0.1, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2],
                               [0.25, 0.1, 0.2, 0.18, 0.27], [0.2, 0.2, 0.2, 0.2, 0.2]]]) + 1e-9)  # fmt: skip
    labels = np.array([[0, -100, 0, -100]])
    preds, refs = decode_word_tags(logits, labels, names)
    assert refs == [["O", "O"]] and preds == [["B-STRAT", "O"]]
    metrics = seqeval_metrics(names)(type("P", (), {"predictions": logits, "label_ids": labels})())
    assert metrics["precision"] == 0.0 and "f1_TIMESCALE" not in metrics  # no stray TIMESCALE entity is scored


def test_bgs_recipe_trains_on_all_of_train_and_never_evaluates_on_test_while_training(repo_root):
    recipe = yaml.safe_load((repo_root / "recipes/knowledge_extraction/config_bgs_full.yaml").read_text())
    model_args, data_args, training_args = parse_recipe(
        KNOWLEDGE_EXTRACTION.argument_types, repo_root / "recipes/knowledge_extraction/config_bgs_full.yaml"
    )
    assert data_args.test_file.endswith("test.tsv") and data_args.dataset.endswith("train.tsv")
    assert not (data_args.validation_file or data_args.validation_fraction) and "validation_file" not in recipe
    assert training_args.eval_strategy == "no" and not training_args.load_best_model_at_end
    assert training_args.label_smoothing_factor == 0.1 and training_args.num_train_epochs == 5  # chosen on validation
    assert model_args.case_feature


def test_transition_weight_is_only_chosen_on_validation_data_that_is_not_the_test_data():
    from geohub.training.text import ExtractionDataArguments, held_out_validation

    assert held_out_validation(
        ExtractionDataArguments(dataset="a.conll", validation_fraction=0.1, test_file="t.conll")
    )
    assert held_out_validation(
        ExtractionDataArguments(dataset="a.conll", validation_file="v.conll", test_file="t.conll")
    )
    assert not held_out_validation(
        ExtractionDataArguments(dataset="a.conll", validation_file="t.conll", test_file="t.conll")
    )
    assert not held_out_validation(ExtractionDataArguments(dataset="geo_corpus"))  # validates on the held-out split
    assert not held_out_validation(ExtractionDataArguments(dataset="bgs_ner", dataset_dir="bgs"))  # on test.tsv
