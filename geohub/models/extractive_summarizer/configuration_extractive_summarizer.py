"""Configuration of geohub's extractive summarizer (sentence scoring on MiniLM sentence embeddings)."""

from __future__ import annotations

from transformers import BertConfig, PretrainedConfig

__all__ = ["ExtractiveSummarizerConfig"]


class ExtractiveSummarizerConfig(PretrainedConfig):
    """Configuration of `ExtractiveSummarizerForSentenceExtraction`.

    Args:
        encoder (`dict`, *optional*): `BertConfig` arguments of the sentence encoder (all-MiniLM-L6-v2 when
            warm-started with `from_encoder`); default: a tiny 2-layer BERT (tests).
        max_sentences (`int`, defaults to 32): size of the learned sentence-position table; later sentences share
            the last position (documents of any length are scored whole).
        num_sentence_layers (`int`, defaults to 1): self-attention layers across the sentences of a document.
        num_attention_heads (`int`, defaults to 4): heads of those layers.
        dropout (`float`, defaults to 0.1): dropout in the sentence layers.
        freeze_encoder (`bool`, defaults to True): keep the sentence encoder fixed (only the scorer trains).
        initializer_range (`float`, defaults to 0.02): std of the truncated-normal weight init.
        use_features (`bool`, defaults to False: configs saved before the features existed): add the document features of each sentence (relative position,
            first/last, cosine similarity to the document's mean embedding and to the title, ...; see
            `ExtractiveSummarizerForSentenceExtraction.document_features`) to the sentence layers and as a linear
            (wide) term of the score.
        num_lexical_features (`int`, defaults to 6): width of the `sentence_features` input (the lexical features
            of `processing_extractive_summarizer.lexical_features`); 0 turns them off.
        embedding_scorer (`bool`, defaults to True): score the sentence embeddings after the sentence layers (deep
            part); False keeps only the linear score of the features (needs `use_features`), which transfers
            better across domains when there are few training documents.
        loss (`str`, defaults to "listwise"): "listwise" (softmax cross-entropy over the sentences of a document
            against its oracle sentences) or "bce" (independent binary cross-entropy per sentence).
        compression (`bool`, defaults to False): a keep/drop head over the encoder's token states (first sub-word
            of each word, beside the `WORD_FEATURES` of `processing_extractive_summarizer`): the chosen sentences
            are shortened by deleting words (order kept, nothing rewritten).
        compression_threshold (`float`, defaults to 0.5): words with a keep probability below it are deleted.
        compression_min_words (`int`, defaults to 8): a compressed sentence keeps at least this many words.
        compression_min_run (`int`, defaults to 1): words are deleted only in runs of at least this many.
    """

    model_type = "geohub_extractive_summarizer"

    def __init__(
        self,
        encoder: dict | None = None,
        max_sentences: int = 32,
        num_sentence_layers: int = 1,
        num_attention_heads: int = 4,
        dropout: float = 0.1,
        freeze_encoder: bool = True,
        initializer_range: float = 0.02,
        use_features: bool = False,
        num_lexical_features: int = 6,
        loss: str = "listwise",
        embedding_scorer: bool = True,
        compression: bool = False,
        compression_threshold: float = 0.5,
        compression_min_words: int = 8,
        compression_min_run: int = 1,
        **kwargs,
    ):
        if encoder is None:
            encoder = BertConfig(
                vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
            ).to_dict()
        if isinstance(encoder, PretrainedConfig):
            encoder = encoder.to_dict()
        hidden = int(encoder.get("hidden_size", 0))
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
        if num_sentence_layers < 0:
            raise ValueError(f"num_sentence_layers must be >= 0, got {num_sentence_layers}")
        if num_attention_heads < 1 or hidden % num_attention_heads:
            raise ValueError(
                f"the encoder's hidden_size {hidden} must be divisible by num_attention_heads {num_attention_heads}"
            )
        if loss not in ("listwise", "bce"):
            raise ValueError(f"loss must be 'listwise' or 'bce', got {loss!r}")
        if not embedding_scorer and not use_features:
            raise ValueError("embedding_scorer=False needs use_features=True (nothing would be scored)")
        if num_lexical_features < 0:
            raise ValueError(f"num_lexical_features must be >= 0, got {num_lexical_features}")
        if not 0.0 <= compression_threshold <= 1.0:
            raise ValueError(f"compression_threshold must be in [0, 1], got {compression_threshold}")
        if compression_min_words < 1 or compression_min_run < 1:
            raise ValueError(f"compression_min_words and compression_min_run must be >= 1, got "
                             f"{compression_min_words} and {compression_min_run}")  # fmt: skip
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.encoder = encoder
        self.max_sentences = max_sentences
        self.num_sentence_layers = num_sentence_layers
        self.num_attention_heads = num_attention_heads
        self.dropout = dropout
        self.freeze_encoder = freeze_encoder
        self.initializer_range = initializer_range
        self.use_features = use_features
        self.num_lexical_features = num_lexical_features if use_features else 0
        self.loss = loss
        self.embedding_scorer = embedding_scorer
        self.compression = compression
        self.compression_threshold = compression_threshold
        self.compression_min_words = compression_min_words
        self.compression_min_run = compression_min_run
        super().__init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        return int(self.encoder["hidden_size"])
