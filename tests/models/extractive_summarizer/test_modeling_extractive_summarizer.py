"""The extractive summarizer: shapes, loss, padding, save/load round trip, Auto class, MiniLM warm start."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModel

import geohub  # noqa: F401  (registers the Auto classes)
from geohub.environment import offline_minilm_path
from geohub.models.extractive_summarizer import ExtractiveSummarizerConfig, ExtractiveSummarizerForSentenceExtraction
from geohub.models.extractive_summarizer.modeling_extractive_summarizer import SentenceExtractionOutput


class ExtractiveSummarizerModelTester:
    batch, sentences, tokens = 2, 4, 6

    def config(self, **kwargs) -> ExtractiveSummarizerConfig:
        return ExtractiveSummarizerConfig(max_sentences=8, num_attention_heads=2, **kwargs)

    def inputs(self):
        torch.manual_seed(0)
        input_ids = torch.randint(5, 1000, (self.batch, self.sentences, self.tokens))
        attention_mask = torch.ones_like(input_ids)
        attention_mask[1, 3] = 0  # the second document has 3 sentences
        attention_mask[0, 1, 4:] = 0  # a short sentence
        labels = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0]])
        return input_ids, attention_mask, labels


@pytest.fixture
def tester():
    return ExtractiveSummarizerModelTester()


def test_forward_shapes_loss_and_padding(tester):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config()).eval()
    input_ids, attention_mask, labels = tester.inputs()
    output = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert isinstance(output, SentenceExtractionOutput)
    assert output.logits.shape == (2, 4)
    assert torch.isneginf(output.logits[1, 3]) and torch.isfinite(output.logits[0]).all()
    assert output.loss.ndim == 0 and output.loss > 0
    # a padded sentence's content must not change the scores of the real ones
    changed = input_ids.clone()
    changed[1, 3] = 7
    again = model(input_ids=changed, attention_mask=attention_mask)
    torch.testing.assert_close(again.logits[1, :3], output.logits[1, :3])


def test_training_step_moves_only_the_scorer_when_frozen(tester):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config())
    encoder_before = model.encoder.embeddings.word_embeddings.weight.clone()
    scorer_before = model.scorer.weight.clone()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    input_ids, attention_mask, labels = tester.inputs()
    model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
    optimizer.step()
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight, encoder_before)
    assert not torch.equal(model.scorer.weight, scorer_before)


def test_save_load_round_trip_through_auto_classes(tester, tmp_path):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config()).eval()
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path / "m").model_type == "geohub_extractive_summarizer"
    loaded = AutoModel.from_pretrained(tmp_path / "m").eval()
    assert isinstance(loaded, ExtractiveSummarizerForSentenceExtraction)
    input_ids, attention_mask, _ = tester.inputs()
    torch.testing.assert_close(loaded(input_ids, attention_mask).logits, model(input_ids, attention_mask).logits)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="max_sentences"):
        ExtractiveSummarizerConfig(max_sentences=0)
    with pytest.raises(ValueError, match="divisible"):
        ExtractiveSummarizerConfig(num_attention_heads=5)
    with pytest.raises(ValueError, match=r"\(batch, sentences, tokens\)"):
        ExtractiveSummarizerForSentenceExtraction(ExtractiveSummarizerConfig(num_attention_heads=2))(
            torch.ones(2, 3).long()
        )


def test_warm_start_copies_minilm_weights():
    path = offline_minilm_path()
    model = ExtractiveSummarizerForSentenceExtraction.from_encoder(path, num_attention_heads=4)
    reference = AutoModel.from_pretrained(path)
    assert model.config.hidden_size == 384
    torch.testing.assert_close(
        model.encoder.embeddings.word_embeddings.weight, reference.embeddings.word_embeddings.weight
    )


def test_document_features_and_titles_change_the_scores(tester):
    torch.manual_seed(0)
    model = ExtractiveSummarizerForSentenceExtraction(tester.config(use_features=True, num_lexical_features=2)).eval()
    input_ids, attention_mask, labels = tester.inputs()
    plain = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert plain.logits.shape == (2, 4) and torch.isneginf(plain.logits[1, 3]) and plain.loss > 0
    title = torch.randint(5, 1000, (2, 5))
    titled = model(input_ids=input_ids, attention_mask=attention_mask, title_input_ids=title,
                   sentence_features=torch.rand(2, 4, 2))  # fmt: skip
    assert not torch.allclose(titled.logits[0], plain.logits[0])
    # precomputed embeddings give the same scores as token ids
    embeddings = model.embed_sentences(input_ids, attention_mask)
    title_embeddings = model.embed_sentences(title[:, None], torch.ones_like(title)[:, None])[:, 0]
    again = model(sentence_embeddings=embeddings, sentence_mask=attention_mask.any(-1).long(),
                  title_embeddings=title_embeddings, title_mask=torch.ones(2, dtype=torch.long),
                  sentence_features=torch.zeros(2, 4, 2))  # fmt: skip
    titled_zero = model(input_ids=input_ids, attention_mask=attention_mask, title_input_ids=title)
    torch.testing.assert_close(again.logits[:, :3], titled_zero.logits[:, :3], atol=1e-5, rtol=1e-5)
    features = model.document_features(embeddings, attention_mask.any(-1), title_embeddings, torch.tensor([1, 0]))
    assert features.shape == (2, 4, 11)
    assert features[1, 3].abs().sum() == 0  # an absent sentence has no features
    assert features[0, 0, 1] == 1 and features[0, 3, 2] == 1 and features[1, 2, 2] == 1  # first / last
    assert features[1, :, -1].sum() == 0  # the second document has no title


def test_listwise_loss_prefers_the_labelled_sentence(tester):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config(use_features=True, loss="listwise"))
    present = torch.ones(1, 3, dtype=torch.bool)
    labels = torch.tensor([[0.0, 1.0, 0.0]])
    good = model.loss_function(torch.tensor([[0.0, 5.0, 0.0]]), labels, present)
    bad = model.loss_function(torch.tensor([[5.0, 0.0, 0.0]]), labels, present)
    assert good < 0.02 < bad
    with pytest.raises(ValueError, match="loss"):
        ExtractiveSummarizerConfig(loss="hinge")


def test_features_only_scorer_has_no_deep_part(tester):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config(use_features=True, embedding_scorer=False)).eval()
    assert not hasattr(model, "scorer") and not hasattr(model, "layers")
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"feature_scorer"}
    input_ids, attention_mask, labels = tester.inputs()
    output = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert output.logits.shape == (2, 4) and torch.isneginf(output.logits[1, 3]) and output.loss > 0
    with pytest.raises(ValueError, match="embedding_scorer=False needs use_features"):
        ExtractiveSummarizerConfig(embedding_scorer=False)


def test_compression_head_logits_round_trip_and_old_lexical_width(tester, tmp_path):
    model = ExtractiveSummarizerForSentenceExtraction(tester.config(use_features=True, compression=True)).eval()
    input_ids = torch.randint(5, 1000, (2, 7))
    attention_mask = torch.ones_like(input_ids)
    first_token = torch.tensor([[1, 2, 4, -1], [1, 3, 5, 6]])
    logits = model.compression_logits(input_ids, attention_mask, first_token)
    assert logits.shape == (2, 4) and torch.isposinf(logits[0, 3]) and torch.isfinite(logits[1]).all()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert loaded.config.compression and loaded.config.compression_threshold == 0.5
    torch.testing.assert_close(loaded.compression_logits(input_ids, attention_mask, first_token), logits)
    with pytest.raises(ValueError, match="no compression head"):
        ExtractiveSummarizerForSentenceExtraction(tester.config()).compression_logits(input_ids, attention_mask,
                                                                                       first_token)  # fmt: skip
    with pytest.raises(ValueError, match="compression_threshold"):
        tester.config(compression=True, compression_threshold=1.5)
    # a model saved with 5 lexical features reads the first 5 of the 6 computed now
    old = ExtractiveSummarizerForSentenceExtraction(tester.config(use_features=True, num_lexical_features=5)).eval()
    ids, mask, _ = tester.inputs()
    features = torch.rand(2, 4, 6)
    torch.testing.assert_close(
        old(input_ids=ids, attention_mask=mask, sentence_features=features).logits,
        old(input_ids=ids, attention_mask=mask, sentence_features=features[..., :5]).logits,
    )
