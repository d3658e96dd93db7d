"""Extractive summarizer: a MiniLM (BERT) sentence encoder, mean pooling, self-attention across the sentences
of a document, and one score per sentence; the top-scored sentences form the summary."""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import BertConfig, BertModel

from ...modeling_outputs import SentenceExtractionOutput
from ...modeling_utils import GeoPreTrainedModel
from .configuration_extractive_summarizer import ExtractiveSummarizerConfig

__all__ = ["ExtractiveSummarizerPreTrainedModel", "ExtractiveSummarizerForSentenceExtraction"]


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


class ExtractiveSummarizerForSentenceExtraction(ExtractiveSummarizerPreTrainedModel):
    """Scores the sentences of each document; trained with BCE against oracle sentence labels.

    Inputs are pre-split documents: `input_ids`/`attention_mask` `(B, S, L)` hold the sub-word ids of S
    sentences of L tokens each (all-padding rows are absent sentences).
    """

    def __init__(self, config: ExtractiveSummarizerConfig):
        super().__init__(config)
        self.encoder = BertModel(BertConfig(**config.encoder), add_pooling_layer=False)
        hidden = config.hidden_size
        self.sentence_position = nn.Embedding(config.max_sentences, hidden)
        self.layers = nn.ModuleList(
            ExtractiveSummarizerSentenceLayer(hidden, config.num_attention_heads, config.dropout)
            for _ in range(config.num_sentence_layers)
        )
        self.norm = nn.LayerNorm(hidden)
        self.scorer = nn.Linear(hidden, 1)
        self.post_init()
        self._apply_freeze()

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
        """Mean-pooled, L2-normalised sentence embeddings `(B, S, H)` (all-MiniLM-L6-v2's pooling)."""
        batch, sentences, length = input_ids.shape
        flat_ids, flat_mask = input_ids.reshape(-1, length), attention_mask.reshape(-1, length)
        present = flat_mask.any(dim=-1)
        pooled = torch.zeros(flat_ids.shape[0], self.config.hidden_size, device=input_ids.device)
        if present.any():
            if self.config.freeze_encoder:
                self.encoder.eval()  # a frozen encoder gives deterministic embeddings (no dropout)
            hidden = self.encoder(input_ids=flat_ids[present], attention_mask=flat_mask[present]).last_hidden_state
            weights = flat_mask[present].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            pooled[present] = nn.functional.normalize(mean, dim=-1).to(pooled.dtype)
        return pooled.reshape(batch, sentences, -1)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        sentence_embeddings: torch.Tensor | None = None,
        sentence_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> SentenceExtractionOutput:
        """input_ids, attention_mask `(B, S, L)`, or precomputed `sentence_embeddings` `(B, S, H)` (from
        `embed_sentences`, for training with a frozen encoder) with `sentence_mask` `(B, S)`; labels `(B, S)` in
        {0, 1} (padding sentences ignored).

        Returns `SentenceExtractionOutput` with logits `(B, S)` (`-inf` on padding sentences) and the BCE loss.
        """
        if sentence_embeddings is None:
            if input_ids is None or input_ids.dim() != 3:
                shape = None if input_ids is None else tuple(input_ids.shape)
                raise ValueError(f"input_ids must be (batch, sentences, tokens), got shape {shape}")
            if attention_mask is None:
                attention_mask = (input_ids != self.encoder.config.pad_token_id).long()
            sentences = min(input_ids.shape[1], self.config.max_sentences)
            attention_mask = attention_mask[:, :sentences]
            present = attention_mask.any(dim=-1)
            hidden = self.embed_sentences(input_ids[:, :sentences], attention_mask)
        else:
            sentences = min(sentence_embeddings.shape[1], self.config.max_sentences)
            hidden = sentence_embeddings[:, :sentences].to(self.scorer.weight.dtype)
            present = sentence_mask[:, :sentences].bool() if sentence_mask is not None else hidden.abs().sum(-1) > 0
        positions = torch.arange(sentences, device=hidden.device)
        hidden = hidden + self.sentence_position(positions)[None]
        for layer in self.layers:
            hidden = layer(hidden, padding_mask=~present)
        logits = self.scorer(self.norm(hidden)).squeeze(-1)
        loss = None
        if labels is not None:
            labels = labels[:, :sentences].to(logits.dtype)
            loss = nn.functional.binary_cross_entropy_with_logits(logits[present], labels[present])
        logits = logits.masked_fill(~present, float("-inf"))
        return SentenceExtractionOutput(loss=loss, logits=logits)
