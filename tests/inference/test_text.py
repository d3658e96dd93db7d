"""summarize() / extract() and their pipelines: bad inputs, long texts, offsets, batching."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification, pipeline

import geohub  # noqa: F401  (registers pipelines and Auto classes)
from geohub.data.corpus import NER_LABELS
from geohub.environment import offline_minilm_path
from geohub.errors import CorpusError
from geohub.inference.text import MAX_CHARACTERS, extract, summarize
from geohub.knowledge import KnowledgeGraph
from geohub.models.extractive_summarizer import ExtractiveSummarizerConfig, ExtractiveSummarizerForSentenceExtraction

SENTENCES = [f"Sentence {i} describes the Chalk Group near Dover at {i} km depth." for i in range(10)]
LONG = " ".join(SENTENCES)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(offline_minilm_path())


def _tiny_bert(vocab_size: int) -> dict:
    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128).to_dict()  # fmt: skip


@pytest.fixture(scope="module")
def extractive_dir(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    config = ExtractiveSummarizerConfig(
        encoder=_tiny_bert(len(tokenizer)), max_sentences=3, num_attention_heads=2, use_features=True
    )
    path = tmp_path_factory.mktemp("extractive")
    ExtractiveSummarizerForSentenceExtraction(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    config = BertConfig(**_tiny_bert(len(tokenizer)), num_labels=len(NER_LABELS))
    config.id2label, config.label2id = dict(enumerate(NER_LABELS)), {k: i for i, k in enumerate(NER_LABELS)}
    config.case_token_types = True
    model = BertForTokenClassification(config)
    with torch.no_grad():  # bias the classifier towards B-STRAT so that the random tagger finds entities
        model.classifier.bias[NER_LABELS.index("B-STRAT")] = 5.0
    path = tmp_path_factory.mktemp("tagger")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize(
    "texts, message",
    [([], "no texts given"), ([""], r"field 'texts\[0\]'.*empty text"), (["ok", 3], r"texts\[1\]'.*not text: int"),
     (42, "must be a list of strings"), (["x" * (MAX_CHARACTERS + 1)], "over the limit")],
)  # fmt: skip
def test_bad_inputs_are_clear_errors(texts, message, extractive_dir, tagger_dir):
    with pytest.raises(CorpusError, match=message):
        summarize(texts, model=extractive_dir)
    with pytest.raises(CorpusError, match=message):
        extract(texts, model=tagger_dir)


def test_without_a_model_extract_uses_the_shipped_tagger(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOHUB_HOME", str(tmp_path))  # nothing saved by quickstart --retrain
    graph = extract(["The Semail ophiolite in Oman hosts basalt and chromite."], relation_model="rules")
    assert {"basalt", "chromite"} & {entity["text"].lower() for entity in graph.entities()}


def test_missing_models_are_clear_errors(tmp_path, monkeypatch, tagger_dir):
    import geohub.defaults
    from geohub.errors import GeohubError

    def unavailable(slot):
        raise GeohubError(f"the shipped default of {slot} is missing")

    monkeypatch.setenv("GEOHUB_HOME", str(tmp_path))
    monkeypatch.setattr(geohub.defaults, "default_model_path", unavailable)
    with pytest.raises(CorpusError, match="no entity tagger.*shipped default of knowledge_extraction is missing"):
        extract(["The Chalk Group."])
    with pytest.raises(CorpusError, match="model folder not found"):
        summarize(["The Chalk Group."], model=tmp_path / "nothing")
    with pytest.raises(CorpusError, match="2 ids for 1 texts"):
        extract(["The Chalk Group."], model=tagger_dir, ids=["a", "b"])


def test_extractive_summaries_of_long_texts_are_sentences_of_the_text(extractive_dir):
    # 10 sentences, a model window of 3: every window is scored, and the best sentences overall are kept
    summaries = summarize([LONG, "One short abstract only."], model=extractive_dir, num_sentences=2, batch_size=2)
    assert len(summaries) == 2 and summaries[1] == "One short abstract only."
    pairs = {f"{a} {b}" for i, a in enumerate(SENTENCES) for b in SENTENCES[i + 1 :]}
    assert summaries[0] in pairs  # two whole sentences of the text, in document order


def test_summaries_are_exact_source_sentences(extractive_dir):
    # a text is split once and its own spans come back (odd spacing kept); a list of sentences is kept as given
    text = (
        "The Chalk Group overlies the Gault Formation.   It was  deposited in the Late Cretaceous.\nFig. 2 shows it."
    )
    given = ["A sentence that ends without a full stop", "e.g. a second one. With an inner full stop."]
    (from_text, from_list) = summarize([text, given], model=extractive_dir, titles=["The Chalk", None])
    assert from_text in {"The Chalk Group overlies the Gault Formation.",
                         "It was  deposited in the Late Cretaceous.", "Fig. 2 shows it."}  # fmt: skip
    assert from_list in given
    pair = summarize([given], model=extractive_dir, num_sentences=2)[0]
    assert pair == " ".join(given)


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_num_sentences_below_one_is_a_clear_error(count, extractive_dir):
    with pytest.raises(CorpusError, match="num_sentences must be a whole number >= 1"):
        summarize([LONG], model=extractive_dir, num_sentences=count)
    with pytest.raises(CorpusError, match="num_sentences"):
        summarize([LONG], model="centroid", num_sentences=count)
    summarizer = pipeline("extractive-summarization", model=str(extractive_dir))
    with pytest.raises(CorpusError, match="num_sentences"):
        summarizer(LONG, num_sentences=count)


def test_summarization_pipeline_batches_and_matches_summarize(extractive_dir):
    summarizer = pipeline("extractive-summarization", model=str(extractive_dir), batch_size=2)
    inputs = [LONG, SENTENCES[:4], {"text": SENTENCES[5], "title": "Chalk"}, {"sentences": SENTENCES[2:9]}, LONG]
    out = summarizer(inputs, num_sentences=2)
    assert len(out) == 5 and all(set(o) == {"summary_text"} for o in out)
    expected = summarize([LONG, SENTENCES[:4], [SENTENCES[5]], SENTENCES[2:9], LONG], model=extractive_dir,
                         titles=[None, None, "Chalk", None, None], num_sentences=2)  # fmt: skip
    assert [o["summary_text"] for o in out] == expected
    one = pipeline("extractive-summarization", model=str(extractive_dir))(inputs, num_sentences=2)
    assert [o["summary_text"] for o in one] == expected  # batch_size=1 gives the same answers


def test_extract_returns_a_graph_with_valid_offsets_on_long_text(tagger_dir):
    words = " ".join(["Sandstone"] * 700)  # one 700-word sentence: split into windows for the tagger
    texts = [LONG, words + "."]
    graph = extract(texts, model=tagger_dir, ids=["long", "huge"], batch_size=4)
    assert isinstance(graph, KnowledgeGraph) and len(graph) > 0
    for entity in graph.entities():
        for mention in entity["mentions"]:
            text = texts[0] if mention["doc_id"] == "long" else texts[1]
            assert text[mention["start"] : mention["end"]].casefold() == entity["text"].casefold()
            assert 0.0 < mention["confidence"] <= 1.0
    assert {m["doc_id"] for e in graph.entities() for m in e["mentions"]} == {"long", "huge"}


def test_pipelines(extractive_dir, tagger_dir):
    summarizer = pipeline("extractive-summarization", model=str(extractive_dir))
    out = summarizer([LONG, SENTENCES[0]])
    assert [o["summary_text"] in LONG for o in out] == [True, True]
    tagger = pipeline("knowledge-extraction", model=str(tagger_dir))
    result = tagger("The Chalk Group overlies the Gault Formation in Kent.")
    assert set(result) == {"entities", "relations"} and result["entities"]
    assert all(e["label"] in {lbl[2:] for lbl in NER_LABELS[1:]} for e in result["entities"])
    assert tagger("The Chalk Group.", min_confidence=1.01)["entities"] == []


def test_knowledge_pipeline_batches_lists_and_workers(tagger_dir):
    """batch_size, lists of inputs and num_workers give the same entities as one text at a time."""
    tagger = pipeline("knowledge-extraction", model=str(tagger_dir))
    texts = ["The Chalk Group overlies the Gault Formation in Kent.", LONG, "Basalt erupted in 1991 near Hekla."]
    one_by_one = [tagger(text) for text in texts]
    assert tagger(texts, batch_size=2) == one_by_one
    assert tagger(texts, batch_size=2, num_workers=1) == one_by_one


def test_word_tags_are_iob2_valid_even_when_the_classifier_prefers_stray_inside_tags(tokenizer):
    """`predict_word_tags` decodes the most probable IOB2-valid sequence: a classifier that prefers I-ROCK
    everywhere yields B-ROCK I-ROCK ..., never an I- tag after O or after another type."""
    from geohub.inference.text import predict_word_tags

    torch.manual_seed(0)
    config = BertConfig(**_tiny_bert(len(tokenizer)), num_labels=len(NER_LABELS))
    config.id2label, config.label2id = dict(enumerate(NER_LABELS)), {k: i for i, k in enumerate(NER_LABELS)}
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.bias[NER_LABELS.index("I-ROCK")] = 6.0
        model.classifier.bias[NER_LABELS.index("I-MINERAL")] = 5.0
    words = [["Basalt", "lava", "flows", "overlie", "the", "Chalk", "Group", "."], ["No", "."]]
    with torch.no_grad():
        arg_max = model(**tokenizer(words[0], is_split_into_words=True, return_tensors="pt")).logits.argmax(-1)
    assert NER_LABELS[int(arg_max[0, 1])] == "I-ROCK"  # the raw classifier would open a stray I- entity
    for sentence in predict_word_tags(words, model, tokenizer):
        previous = "O"
        for tag, probability in sentence:
            assert 0.0 < probability <= 1.0
            if tag.startswith("I-"):
                assert previous in (f"B-{tag[2:]}", f"I-{tag[2:]}"), sentence
            previous = tag
        assert sentence[0][0] == "B-ROCK"  # the valid sequence keeps the preferred type


def test_compressing_summarizer_deletes_words_in_summarize_and_the_pipeline(tmp_path, tokenizer):
    torch.manual_seed(0)
    config = ExtractiveSummarizerConfig(encoder=_tiny_bert(len(tokenizer)), max_sentences=3, num_attention_heads=2,
                                        use_features=True, compression=True, compression_threshold=0.5,
                                        compression_min_words=3)  # fmt: skip
    model = ExtractiveSummarizerForSentenceExtraction(config)
    with torch.no_grad():
        model.compression_head.weight.zero_()
        model.compression_head.bias.fill_(-5.0)  # every word below the threshold: min_words remain
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    whole = summarize([SENTENCES[:4]], model=tmp_path, compress=False)[0]
    short = summarize([SENTENCES[:4]], model=tmp_path)[0]
    assert whole in SENTENCES[:4] and len(short.split()) == 3 < len(whole.split())
    words = iter(whole.split())
    assert all(word in words for word in short.split())  # only deletions, order kept
    out = pipeline("extractive-summarization", model=str(tmp_path))({"sentences": SENTENCES[:4]})
    assert out == {"summary_text": short, "sentences": whole}
    with pytest.raises(CorpusError, match="no compression head"):
        summarize([SENTENCES[:4]], model=extractive_dir_model(tokenizer), tokenizer=tokenizer, compress=True)


def extractive_dir_model(tokenizer):
    config = ExtractiveSummarizerConfig(encoder=_tiny_bert(len(tokenizer)), max_sentences=3, num_attention_heads=2,
                                        use_features=True)  # fmt: skip
    return ExtractiveSummarizerForSentenceExtraction(config).eval()
