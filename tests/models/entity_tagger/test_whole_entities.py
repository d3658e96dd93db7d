"""A multi-word entity stays whole through geohub's real interfaces (`extract`, the `knowledge-extraction`
pipeline, `from_pretrained`): the OzROCK test sentence `Quartzite and subarkosic meta sandstone interbedded with
metasiltstone .` with a tagger whose word probabilities are set by hand to the pattern a trained tagger gives
there (each of `subarkosic`, `meta`, `sandstone` a likelier `B-ROCK` than `I-ROCK` on its own, so hard IOB2
constraints alone cut the name into pieces), once without and once with the soft tag-transition scores that the
training task stores in the config (`config.tag_transitions`, `config.transition_weight`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast, pipeline

import geohub  # noqa: F401  (registers the pipelines)
from geohub.inference.text import extract
from geohub.models.entity_tagger.decoding import tag_transitions

LABELS = ["O", "B-ROCK", "I-ROCK", "B-MINERAL", "I-MINERAL"]
TEXT = "Quartzite and subarkosic meta sandstone interbedded with metasiltstone ."
WORD_PROBABILITIES = {  # O, B-ROCK, I-ROCK, B-MINERAL, I-MINERAL
    "quartzite": [0.04, 0.92, 0.02, 0.01, 0.01],
    "subarkosic": [0.35, 0.45, 0.18, 0.01, 0.01],
    "meta": [0.08, 0.50, 0.40, 0.01, 0.01],
    "sandstone": [0.03, 0.52, 0.43, 0.01, 0.01],
    "metasiltstone": [0.05, 0.91, 0.02, 0.01, 0.01],
}
OTHER = [0.96, 0.01, 0.01, 0.01, 0.01]  # every other word: O
TRAINING_TAGS = [  # tag sequences with one-, two- and three-word rock names, as the training data would give
    ["B-ROCK", "O", "B-ROCK", "I-ROCK", "I-ROCK", "O", "O", "B-ROCK", "O"],
    ["O", "B-ROCK", "I-ROCK", "O", "B-MINERAL", "O", "B-ROCK", "O"],
    ["O", "O", "B-MINERAL", "I-MINERAL", "O", "B-ROCK", "O"],
    ["B-ROCK", "O", "B-ROCK", "O", "B-MINERAL", "O"],
]


def _tagger(folder, transitions: bool):
    """A BERT with no transformer layer whose word embedding is one-hot and whose classifier holds each word's
    log-probabilities: the per-word label probabilities are exactly `WORD_PROBABILITIES`."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted({*TEXT.lower().split(), "hosts"})]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)
    size = len(vocab)
    config = BertConfig(vocab_size=size, hidden_size=size, num_hidden_layers=0, num_attention_heads=1,
                        intermediate_size=4, max_position_embeddings=64, id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})  # fmt: skip
    config.geohub_family = "entity_tagger"
    if transitions:
        config.tag_transitions, config.transition_weight = tag_transitions(TRAINING_TAGS, LABELS), 1.0
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        embeddings = model.bert.embeddings
        embeddings.word_embeddings.weight.copy_(torch.eye(size))
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        embeddings.LayerNorm.weight.fill_(1.0)
        embeddings.LayerNorm.bias.zero_()
        # LayerNorm maps one-hot row k to scale * (e_k - 1/size): the classifier's column k / scale gives the logits
        scale = 1.0 / np.sqrt((1.0 / size) * (1.0 - 1.0 / size) + config.layer_norm_eps)
        columns = np.array([np.log(WORD_PROBABILITIES.get(word, OTHER)) for word in vocab]).T / scale
        columns[:, vocab.index("[MASK]")] -= columns.sum(axis=1)  # rows sum to 0: the 1/size term vanishes
        model.classifier.weight.copy_(torch.tensor(columns, dtype=torch.float32))
        model.classifier.bias.zero_()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("transitions", [False, True])
def test_subarkosic_meta_sandstone_through_extract_and_pipeline(tmp_path, transitions):
    folder = _tagger(tmp_path, transitions)
    graph = extract(TEXT, model=str(folder), relation_model="rules")
    rocks = sorted(entity["text"] for entity in graph.entities("ROCK"))
    served = pipeline("knowledge-extraction", model=str(folder))(TEXT, relation_model="rules")
    names = [e["text"] for e in served["entities"] if e["label"] == "ROCK"]
    if transitions:
        assert names == ["Quartzite", "subarkosic meta sandstone", "metasiltstone"]
    else:  # the hard constraints alone: each word its own entity (what the issue reported)
        assert names == ["Quartzite", "subarkosic", "meta", "sandstone", "metasiltstone"]
    assert rocks == sorted(names)
