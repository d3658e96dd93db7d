"""Extractive summarizer: a MiniLM (BERT) sentence encoder, mean pooling, document features of each sentence
(position, similarity to the document and to the title, lexical TF-IDF features), self-attention across the
sentences of a document, and one score per sentence; the top-scored sentences form the summary."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertConfig, BertModel
from transformers.utils import ModelOutput

from .configuration_extractive_summarizer import ExtractiveSummarizerConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel


@dataclass
class SentenceExtractionOutput(ModelOutput):
    """Output of the extractive summarizer (sentence scoring on sentence embeddings).

    Args:
        loss: scalar BCE over sentences when `labels` are given.
        logits: `(B, S)` per-sentence scores; padded sentences get `-inf`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


__all__ = [
    "SentenceExtractionOutput",
    "ExtractiveSummarizerPreTrainedModel",
    "ExtractiveSummarizerForSentenceExtraction",
    "mean_pool",
]


class ExtractiveSummarizerSentenceLayer(nn.Module):
    """Pre-norm self-attention + feed-forward block over the sentence embeddings of each document."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attention = nn.MultiheadAttention(hidden_size, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(hidden_size)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden_size, 2 * hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden_size, hidden_size),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """hidden `(B, S, H)`; padding_mask `(B, S)` True where a sentence is padding."""
        normed = self.norm1(hidden)
        attended, _ = self.attention(normed, normed, normed, key_padding_mask=padding_mask, need_weights=False)
        hidden = hidden + self.dropout(attended)
        return hidden + self.dropout(self.feed_forward(self.norm2(hidden)))


class ExtractiveSummarizerPreTrainedModel(GeoPreTrainedModel):
    config_class = ExtractiveSummarizerConfig
    base_model_prefix = "extractive_summarizer"
    main_input_name = "input_ids"
    _no_split_modules = ["BertLayer", "ExtractiveSummarizerSentenceLayer"]


# names of the columns of `document_features`, in order
DOCUMENT_FEATURES = (
    "relative_position", "first", "last", "log_sentences", "document_similarity", "others_similarity",
    "document_similarity_z", "document_best", "title_similarity", "title_similarity_z", "has_title",
)  # fmt: skip


# width of the word features beside each token state (`processing_extractive_summarizer.WORD_FEATURES`)
NUM_WORD_FEATURES = 4


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """all-MiniLM-L6-v2's sentence embedding: token states `(N, L, H)` averaged over the attention mask `(N, L)`,
    L2-normalised -> `(N, H)`."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return nn.functional.normalize(mean, dim=-1)


def _tracing() -> bool:
    """True while the forward is traced or exported (TorchScript, torch.export / dynamo ONNX, TorchScript ONNX)."""
    compiler = getattr(torch, "compiler", None)
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
                or (compiler is not None and hasattr(compiler, "is_exporting") and compiler.is_exporting()))  # fmt: skip


def _masked_zscore(values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """`values` `(B, S)` standardised over the present sentences of each document (0 where absent).

    The variance is floored at 1e-30 before the square root: a constant column (the title similarity of an
    untitled document) would otherwise take `sqrt(0)`, whose gradient (infinite, times 0) is NaN and makes every
    gradient-based explanation NaN; outputs are unchanged (1e-15 beside the 1e-6 added below)."""
    weights = present.to(values.dtype)
    count = weights.sum(-1, keepdim=True).clamp(min=1.0)
    mean = (values * weights).sum(-1, keepdim=True) / count
    std = (((values - mean) ** 2) * weights).sum(-1, keepdim=True).div(count).clamp(min=1e-30).sqrt()
    return (values - mean) / (std + 1e-6) * weights


class ExtractiveSummarizerForSentenceExtraction(ExtractiveSummarizerPreTrainedModel):
    """Scores the sentences of each document; trained against oracle sentence labels.

    Inputs are pre-split documents: `input_ids`/`attention_mask` `(B, S, L)` hold the sub-word ids of S
    sentences of L tokens each (all-padding rows are absent sentences), or precomputed `sentence_embeddings`.
    The score of a sentence is a linear function of its document features (wide part) plus a scorer over the
    sentence embedding after self-attention across the document (deep part).
    """

    def __init__(self, config: ExtractiveSummarizerConfig):
        super().__init__(config)
        self.encoder = BertModel(BertConfig(**config.encoder), add_pooling_layer=False)
        hidden = config.hidden_size
        num_features = self.num_features
        if num_features:
            self.feature_scorer = nn.Linear(num_features, 1)
        if config.embedding_scorer:  # the deep part (absent when only the features are scored)
            self.sentence_position = nn.Embedding(config.max_sentences, hidden)
            if num_features:
                self.feature_projection = nn.Linear(num_features, hidden)
            self.layers = nn.ModuleList(
                ExtractiveSummarizerSentenceLayer(hidden, config.num_attention_heads, config.dropout)
                for _ in range(config.num_sentence_layers)
            )
            self.norm = nn.LayerNorm(hidden)
            self.scorer = nn.Linear(hidden, 1)
        if config.compression:  # keep/drop of each word of a chosen sentence (token state + word features)
            self.compression_head = nn.Linear(hidden + NUM_WORD_FEATURES, 1)
        self.post_init()
        self._apply_freeze()

    @property
    def num_features(self) -> int:
        if not self.config.use_features:
            return 0
        return len(DOCUMENT_FEATURES) + self.config.num_lexical_features

    def _apply_freeze(self) -> None:
        for parameter in self.encoder.parameters():
            parameter.requires_grad = not self.config.freeze_encoder

    @classmethod
    def from_encoder(
        cls, encoder_path: str | os.PathLike, **config_kwargs
    ) -> ExtractiveSummarizerForSentenceExtraction:
        """Build the model around a pretrained BERT-family encoder (e.g. all-MiniLM-L6-v2) and copy its weights."""
        encoder = BertModel.from_pretrained(encoder_path, add_pooling_layer=False)
        config = ExtractiveSummarizerConfig(encoder=encoder.config.to_dict(), **config_kwargs)
        model = cls(config)
        model.encoder.load_state_dict(encoder.state_dict())
        model._apply_freeze()
        return model

    def embed_sentences(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled, L2-normalised sentence embeddings `(B, S, H)` (all-MiniLM-L6-v2's pooling); zeros for
        absent (all-padding) sentences.

        Eager PyTorch encodes only the present sentences; under tracing/export (`torch.onnx.export`, `torch.jit`,
        `torch.export`) the same embeddings come branch-free: every row is encoded, an absent row with its first
        token unmasked (so no attention row is fully masked) and its embedding zeroed afterwards."""
        batch, sentences, length = input_ids.shape
        flat_ids, flat_mask = input_ids.reshape(-1, length), attention_mask.reshape(-1, length)
        present = flat_mask.any(dim=-1)
        if self.config.freeze_encoder:
            self.encoder.eval()  # a frozen encoder gives deterministic embeddings (no dropout)
        if _tracing():
            first = torch.arange(length, device=flat_mask.device)[None] == 0
            safe_mask = torch.where(present[:, None], flat_mask, first.to(flat_mask.dtype))
            hidden = self.encoder(input_ids=flat_ids, attention_mask=safe_mask).last_hidden_state
            pooled = mean_pool(hidden, flat_mask) * present[:, None].to(hidden.dtype)
            return pooled.reshape(batch, sentences, -1)
        pooled = torch.zeros(flat_ids.shape[0], self.config.hidden_size, device=input_ids.device)
        if present.any():
            hidden = self.encoder(input_ids=flat_ids[present], attention_mask=flat_mask[present]).last_hidden_state
            pooled[present] = mean_pool(hidden, flat_mask[present]).to(pooled.dtype)
        return pooled.reshape(batch, sentences, -1)

    def compression_logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        first_token: torch.Tensor,
        word_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Keep logits `(N, W)` of the words of N sentences: `input_ids`/`attention_mask` `(N, L)` their sub-words,
        `first_token` `(N, W)` the position of each word's first sub-word (-1: no sub-word, always kept, +inf),
        `word_features` `(N, W, NUM_WORD_FEATURES)` (zeros when None). Needs `config.compression`."""
        if not self.config.compression:
            raise ValueError("this summarizer has no compression head (config.compression is False)")
        if self.config.freeze_encoder:
            self.encoder.eval()
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        index = first_token.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1])
        states = hidden.gather(1, index)
        if word_features is None:
            word_features = torch.zeros(*first_token.shape, NUM_WORD_FEATURES, device=hidden.device)
        logits = self.compression_head(torch.cat([states, word_features.to(states.dtype)], dim=-1)).squeeze(-1)
        return logits.masked_fill(first_token < 0, float("inf"))

    def document_features(
        self, hidden: torch.Tensor, present: torch.Tensor, title: torch.Tensor, title_mask: torch.Tensor
    ) -> torch.Tensor:
        """Features `(B, S, len(DOCUMENT_FEATURES))` of each sentence within its document, from the L2-normalised
        sentence embeddings `hidden` `(B, S, H)` (`present` `(B, S)` bool) and title embeddings `title` `(B, H)`
        (`title_mask` `(B,)`, 0 where a document has no title)."""
        weights = present.to(hidden.dtype)
        count = weights.sum(-1, keepdim=True).clamp(min=1.0)  # (B, 1)
        index = torch.arange(hidden.shape[1], device=hidden.device, dtype=hidden.dtype)[None].expand_as(weights)
        total = (hidden * weights[..., None]).sum(1, keepdim=True)  # (B, 1, H)
        centroid = nn.functional.normalize(total, dim=-1)
        others = nn.functional.normalize(total - hidden, dim=-1)
        document_similarity = (hidden * centroid).sum(-1) * weights
        best = document_similarity.masked_fill(~present, -2.0)
        has_title = title_mask.to(hidden.dtype)[:, None].expand_as(weights) * weights
        title_similarity = (hidden * nn.functional.normalize(title, dim=-1)[:, None]).sum(-1) * has_title
        columns = [
            index / (count - 1).clamp(min=1.0) * weights,
            (index == 0).to(hidden.dtype) * weights,
            (index == count - 1).to(hidden.dtype) * weights,
            torch.log(count).expand_as(weights) / 3.0 * weights,
            document_similarity,
            (hidden * others).sum(-1) * weights,
            _masked_zscore(document_similarity, present),
            (best == best.max(-1, keepdim=True).values).to(hidden.dtype) * weights,
            title_similarity,
            _masked_zscore(title_similarity, present) * has_title,
            has_title,
        ]
        return torch.stack(columns, dim=-1)

    def _title_embeddings(self, batch, device, title_input_ids, title_attention_mask, title_embeddings):
        if title_embeddings is not None:
            return title_embeddings.to(self.encoder.embeddings.word_embeddings.weight.dtype)
        if title_input_ids is not None:
            mask = title_attention_mask if title_attention_mask is not None else torch.ones_like(title_input_ids)
            return self.embed_sentences(title_input_ids[:, None], mask[:, None])[:, 0]
        return torch.zeros(batch, self.config.hidden_size, device=device)

    def loss_function(self, logits: torch.Tensor, labels: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """BCE over present sentences, or listwise: cross-entropy of the softmax over each document's sentences
        against its labels normalised to sum to 1 (documents without a positive label are skipped)."""
        labels = labels.to(logits.dtype) * present
        if self.config.loss == "bce":
            return nn.functional.binary_cross_entropy_with_logits(logits[present], labels[present])
        log_probs = logits.masked_fill(~present, float("-inf")).log_softmax(-1)
        total = labels.sum(-1)
        keep = total > 0
        if not keep.any():
            return logits.sum() * 0.0
        target = labels[keep] / total[keep, None]
        return -(target * log_probs[keep].masked_fill(~present[keep], 0.0)).sum(-1).mean()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        sentence_embeddings: torch.Tensor | None = None,
        sentence_mask: torch.Tensor | None = None,
        sentence_features: torch.Tensor | None = None,
        title_input_ids: torch.Tensor | None = None,
        title_attention_mask: torch.Tensor | None = None,
        title_embeddings: torch.Tensor | None = None,
        title_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> SentenceExtractionOutput:
        """input_ids, attention_mask `(B, S, L)`, or precomputed `sentence_embeddings` `(B, S, H)` (from
        `embed_sentences`, for training with a frozen encoder) with `sentence_mask` `(B, S)`; `sentence_features`
        `(B, S, num_lexical_features)` (lexical features; zeros when absent); the title as `title_input_ids`/
        `title_attention_mask` `(B, Lt)` or `title_embeddings` `(B, H)`, with `title_mask` `(B,)` (1 where a
        document has a title; default: 1 when a title is given); labels `(B, S)` in {0, 1} (padding ignored).

        Returns `SentenceExtractionOutput` with logits `(B, S)` (`-inf` on padding sentences) and the loss.
        """
        if sentence_embeddings is None:
            if input_ids is None or input_ids.dim() != 3:
                shape = None if input_ids is None else tuple(input_ids.shape)
                raise ValueError(f"input_ids must be (batch, sentences, tokens), got shape {shape}")
            if attention_mask is None:
                attention_mask = (input_ids != self.encoder.config.pad_token_id).long()
            present = attention_mask.any(dim=-1)
            hidden = self.embed_sentences(input_ids, attention_mask)
        else:
            hidden = sentence_embeddings.to(self.encoder.embeddings.word_embeddings.weight.dtype)
            present = sentence_mask.bool() if sentence_mask is not None else hidden.abs().sum(-1) > 0
        batch, sentences = present.shape
        positions = torch.arange(sentences, device=hidden.device).clamp(max=self.config.max_sentences - 1)
        features = None
        if self.num_features:
            title = self._title_embeddings(batch, hidden.device, title_input_ids, title_attention_mask,
                                           title_embeddings)  # fmt: skip
            if title_mask is None:
                has_title = title_input_ids is not None or title_embeddings is not None
                title_mask = torch.full((batch,), int(has_title), device=hidden.device)
            features = self.document_features(hidden, present, title, title_mask)
            if self.config.num_lexical_features:
                lexical = torch.zeros(batch, sentences, self.config.num_lexical_features, device=hidden.device)
                if sentence_features is not None:
                    # a model reads the first num_lexical_features columns (older models: fewer than computed)
                    lexical = sentence_features[:, :sentences, : self.config.num_lexical_features].to(lexical.dtype)
                    if lexical.shape[-1] < self.config.num_lexical_features:
                        lexical = nn.functional.pad(lexical, (0, self.config.num_lexical_features - lexical.shape[-1]))
                features = torch.cat([features, lexical], dim=-1) * present[..., None]
        logits = torch.zeros(batch, sentences, device=hidden.device, dtype=hidden.dtype)
        if self.config.embedding_scorer:
            deep = hidden + self.sentence_position(positions)[None]
            if features is not None:
                deep = deep + self.feature_projection(features)
            for layer in self.layers:
                deep = layer(deep, padding_mask=~present)
            logits = logits + self.scorer(self.norm(deep)).squeeze(-1)
        if features is not None:
            logits = logits + self.feature_scorer(features).squeeze(-1)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels[:, :sentences], present)
        logits = logits.masked_fill(~present, float("-inf"))
        return SentenceExtractionOutput(loss=loss, logits=logits)
