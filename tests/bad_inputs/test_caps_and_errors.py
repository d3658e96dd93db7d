"""Memory caps and one-line errors (issue #21 cases 5 and 9): batch sizes and explanation steps are capped by a
memory budget (2 GiB by default, `$GEOHUB_MEMORY_BUDGET_MB`) before anything is allocated; a list with a bad item
fails before any work naming the item; `--start notadate`, `--chunk-seconds 0.001` and `learning_rate: .nan` are
clear errors at parsing."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from geohub.cli import app
from geohub.data.limits import check_explain_steps, check_memory, memory_budget_bytes, memory_cap, window_bytes
from geohub.errors import ConfigError, GeohubError, WaveformError
from tests.inference.archive_fixtures import save_tiny_picker

runner = CliRunner()


@pytest.fixture(scope="module")
def picker(tmp_path_factory):
    return save_tiny_picker(tmp_path_factory.mktemp("picker") / "picker")


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    from obspy import Stream, Trace, UTCDateTime

    path = tmp_path_factory.mktemp("record") / "rec.mseed"
    rng = np.random.default_rng(0)
    Stream([Trace(rng.normal(size=3000).astype(np.float32), header={"station": "AAA", "channel": f"HH{c}",
            "sampling_rate": 100.0, "starttime": UTCDateTime(0)}) for c in "ZNE"]).write(str(path), format="MSEED")  # fmt: skip
    return path


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output + repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1 and lines[0].startswith("geohub: error:") and "unexpected" not in lines[0], result.output
    return lines[0]


def test_the_budget_is_2_gib_by_default_and_settable(monkeypatch):
    monkeypatch.delenv("GEOHUB_MEMORY_BUDGET_MB", raising=False)
    assert memory_budget_bytes() == 2 * 2**30
    assert memory_cap(window_bytes(6000)) == 2 * 2**30 // (6000 * 3 * 4 * 16)
    assert check_explain_steps(8192) == 8192
    with pytest.raises(ConfigError, match="at most 8192 steps"):
        check_explain_steps(8193)
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "512")
    assert check_memory(100, "batch_size", 2**20) == 100
    with pytest.raises(ConfigError, match=r"batch_size.*over the memory budget of 512 MiB.*at most 512 items"):
        check_memory(513, "batch_size", 2**20)
    for bad in ("lots", "-1", "0", "nan"):
        monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", bad)
        with pytest.raises(ConfigError, match="GEOHUB_MEMORY_BUDGET_MB"):
            memory_budget_bytes()


@pytest.fixture(scope="module")
def picking(picker):
    from transformers import pipeline

    import geohub  # noqa: F401

    return pipeline("seismic-phase-picking", model=str(picker))


def test_a_huge_batch_size_is_refused_before_any_work(picking, record):
    began = time.perf_counter()
    with pytest.raises(WaveformError, match=r"batch_size.*over the memory budget"):
        picking([str(record), str(record)], batch_size=10**9)
    assert time.perf_counter() - began < 5.0
    assert picking(str(record), batch_size=64)["picks"] is not None


@pytest.mark.parametrize("bad", [None, "missing.mseed", 3, ""])
def test_a_bad_item_in_a_list_fails_before_any_work_naming_it(picking, record, bad):
    with pytest.raises(WaveformError, match=r"inputs\[1\]"):
        picking([str(record), bad, str(record)])


def test_explanation_steps_are_capped_before_allocation(picking, record):
    with pytest.raises(GeohubError, match=r"explain_max_steps.*over the memory budget"):
        picking(str(record), explain=True, explain_steps=10**6, explain_max_steps=10**6)


def test_cli_explain_with_a_billion_steps_is_a_one_line_error(picker, record, tmp_path):
    args = ["explain", str(picker), str(record), "--output", str(tmp_path / "e.json"), "--steps", "1000000000",
            "--max-steps", "1000000000"]  # fmt: skip
    assert "over the memory budget" in _one_line_error(runner.invoke(app, args))
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("extra,match", [(["--start", "notadate"], "--start"), (["--end", "tomorrow-ish"], "--end"),
                                         (["--chunk-seconds", "0.001"], "--chunk-seconds"),
                                         (["--chunk-seconds", "nan"], "--chunk-seconds"),
                                         (["--batch-size", "1000000000"], "over the memory budget")])  # fmt: skip
def test_annotate_refuses_bad_times_tiny_chunks_and_huge_batches_in_one_line(picker, record, tmp_path, extra, match):
    args = ["annotate", str(record), "--model", str(picker), "--output", str(tmp_path / "out"), *extra]
    assert match in _one_line_error(runner.invoke(app, args))


@dataclasses.dataclass
class _Args:
    learning_rate: float = 1e-3
    epochs: int = 1


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_nan_learning_rate_is_refused_at_recipe_parsing(tmp_path, value):
    from geohub.training.arguments import parse_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"epochs: 2\nlearning_rate: {value}\n")
    with pytest.raises(ConfigError, match=r"recipe\.yaml:2.*learning_rate.*finite"):
        parse_recipe([_Args], recipe)
    with pytest.raises(ConfigError, match="learning_rate"):
        parse_recipe([_Args], None, ["--learning_rate", "nan"])


@pytest.mark.parametrize("bad", [None, "", 3])
def test_text_pipelines_check_every_list_item_before_any_work(tmp_path_factory, bad):
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification, pipeline

    import geohub  # noqa: F401
    from geohub.data.corpus import NER_LABELS
    from geohub.environment import offline_minilm_path

    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=len(NER_LABELS))  # fmt: skip
    config.id2label, config.label2id = dict(enumerate(NER_LABELS)), {k: i for i, k in enumerate(NER_LABELS)}
    path = tmp_path_factory.mktemp("tagger")
    BertForTokenClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    extract = pipeline("knowledge-extraction", model=str(path))
    good = "Basalt of the Mull Lava Group is in Scotland."
    with pytest.raises(GeohubError, match=r"inputs\[1\]"):
        extract([good, bad, good], relation_model="rules")
    assert len(extract([good, good], relation_model="rules")) == 2
