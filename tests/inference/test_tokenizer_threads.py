"""One fast tokenizer shared by concurrent requests (the demo's threads): padding and truncation state must not leak
between them (issue 20: `expected sequence of length 29 at dim 1 (got 28)` from `predict_word_tags` under 16
concurrent clients)."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

from geohub.data.corpus import NER_LABELS
from geohub.environment import offline_minilm_path
from geohub.inference.text import extract, predict_entities

THREADS = 16
ROUNDS = 20


@pytest.fixture(scope="module")
def tagger():
    tokenizer = AutoTokenizer.from_pretrained(offline_minilm_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=len(NER_LABELS))  # fmt: skip
    config.id2label, config.label2id = dict(enumerate(NER_LABELS)), {k: i for i, k in enumerate(NER_LABELS)}
    return BertForTokenClassification(config).eval(), tokenizer


def _texts(index: int) -> list[str]:
    """Sentences of different lengths per thread, so that a batch padded to another thread's length shows."""
    words = ["Basalt", "of", "the", "Mull", "Lava", "Group", "overlies", "Chalk", "near", "Dover"]
    return [" ".join(words[: 2 + (index + k) % 9]) + f" at {index + k} km depth." for k in range(5)]


def _run_concurrently(work) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(index: int) -> None:
        start.wait()
        try:
            for _ in range(ROUNDS):
                work(index)
        except BaseException as err:  # noqa: BLE001 - collected and reported by the test
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def test_sixteen_threads_tagging_with_one_tokenizer_get_their_own_answers(tagger):
    """`predict_entities` tokenizes unpadded (word windows) and padded (tagging batches) with the same tokenizer."""
    model, tokenizer = tagger
    expected = {i: predict_entities(_texts(i), model, tokenizer) for i in range(THREADS)}
    wrong: list[int] = []

    def work(index: int) -> None:
        if predict_entities(_texts(index), model, tokenizer) != expected[index]:
            wrong.append(index)

    errors = _run_concurrently(work)
    assert not errors, f"{len(errors)} of {THREADS} threads failed, first: {errors[0]!r}"
    assert not wrong, f"threads {sorted(set(wrong))} got entities that differ from a lone call"


def test_sixteen_threads_extracting_with_one_tokenizer_do_not_fail(tagger):
    model, tokenizer = tagger
    expected = {i: extract(_texts(i), model=model, tokenizer=tokenizer).to_jsonld() for i in range(THREADS)}
    wrong: list[int] = []

    def work(index: int) -> None:
        if extract(_texts(index), model=model, tokenizer=tokenizer).to_jsonld() != expected[index]:
            wrong.append(index)

    errors = _run_concurrently(work)
    assert not errors, f"{len(errors)} of {THREADS} threads failed, first: {errors[0]!r}"
    assert not wrong, f"threads {sorted(set(wrong))} got graphs that differ from a lone call"
