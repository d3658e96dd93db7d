"""Relation classifier: the document is read once by a BERT (all-MiniLM-L6-v2) encoder with a marker before and
after every entity mention (ATLOP-style entity markers); an entity is the log-sum-exp of the hidden states at
its mentions' opening markers; each candidate (head, tail) entity pair is scored by an MLP over
[head, tail, head * tail, type one-hots, distance features] into "no_relation" and each relation type."""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_relation_classifier import RelationClassifierConfig

try:  # inside geohub: atomic saves, checksum-verified loading and the model contract (geohub/modeling_utils.py)
    from geohub.modeling_utils import GeoPreTrainedModel
except ModuleNotFoundError as err:  # this file shipped alone as remote code, where geohub is not installed
    if err.name != "geohub":
        raise
    from transformers import PreTrainedModel as GeoPreTrainedModel

__all__ = ["RelationClassifierPreTrainedModel", "RelationClassifierForPairClassification"]


class RelationClassifierPreTrainedModel(GeoPreTrainedModel):
    config_class = RelationClassifierConfig
    base_model_prefix = "relation_classifier"
    main_input_name = "input_ids"
    _no_split_modules = ["BertLayer"]


class RelationClassifierForPairClassification(RelationClassifierPreTrainedModel):
    """Scores entity pairs of documents.

    Two ways in:
    - documents: `input_ids`, `attention_mask` `(D, L)` of marked documents, `mention_index` `(D, M)` token
      positions of each mention's opening marker and `mention_entity` `(D, M)` its entity number (-1: padding),
      `pair_document`, `pair_head`, `pair_tail` `(P,)` (document and entity numbers of each pair),
      `pair_extra` `(P, num_extra_features)` and (with `config.context_features`) `pair_context` `(P, 2)` token
      range between the pair's closest mentions;
    - precomputed `pair_features` `(P, feature_size)` (see `pair_features`; training with a frozen encoder);
    - with `config.trainable_layers`, the document tensors plus `bottom_states` `(D, L, H)` (from `encode_bottom`,
      cached): only the top layers run.
    `labels` `(P,)` class ids (0 = no_relation; the loss weights it by `config.no_relation_weight` and averages
    over the `config.num_heads` heads). Output logits `(P, 1 + len(relation_types))`: the log of the heads'
    mean class probabilities (one head: its logits); `predict` applies `config.no_relation_scale`.
    """

    def __init__(self, config: RelationClassifierConfig):
        super().__init__(config)
        self.encoder = BertModel(BertConfig(**config.encoder), add_pooling_layer=False)
        self.head = self._new_head(config)
        self.extra_heads = nn.ModuleList([self._new_head(config) for _ in range(config.num_heads - 1)])
        self.post_init()
        self._apply_freeze()

    @staticmethod
    def _new_head(config: RelationClassifierConfig) -> nn.Sequential:
        return nn.Sequential(
            nn.LayerNorm(config.feature_size),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.feature_size, config.hidden_size),
            nn.GELU(),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.hidden_size, config.num_labels),
        )

    def _apply_freeze(self) -> None:
        for parameter in self.encoder.parameters():
            parameter.requires_grad = not self.config.freeze_encoder
        for parameter in self.top_layers().parameters():
            parameter.requires_grad = True

    def top_layers(self) -> nn.ModuleList:
        """The encoder layers that train under `freeze_encoder` (the top `config.trainable_layers`; may be none)."""
        layers = self.encoder.encoder.layer
        return (
            layers[len(layers) - self.config.trainable_layers :] if self.config.trainable_layers else nn.ModuleList()
        )

    @classmethod
    def from_encoder(cls, encoder_path: str | os.PathLike, **config_kwargs) -> RelationClassifierForPairClassification:
        """Build the model around a pretrained BERT-family encoder (e.g. all-MiniLM-L6-v2), copying its weights."""
        encoder = BertModel.from_pretrained(encoder_path, add_pooling_layer=False)
        model = cls(RelationClassifierConfig(encoder=encoder.config.to_dict(), **config_kwargs))
        model.encoder.load_state_dict(encoder.state_dict())
        model._apply_freeze()
        return model

    def entity_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, mention_index: torch.Tensor,
        mention_entity: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """`(D, N, H)`: each entity's log-sum-exp over its mentions' opening-marker states (N = most entities)."""
        return self.pool_entities(self.encode(input_ids, attention_mask), mention_index, mention_entity)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """`(D, L, H)` encoder states of the marked documents."""
        if self.config.freeze_encoder and not self.config.trainable_layers:
            self.encoder.eval()  # a frozen encoder gives deterministic features (no dropout)
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    @torch.no_grad()
    def encode_bottom(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """`(D, L, H)` states entering the top `config.trainable_layers` layers (the frozen part, read without
        dropout or gradient; cached once per document when training the top layers)."""
        was_training = self.encoder.training
        self.encoder.eval()
        outputs = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        self.encoder.train(was_training)
        return outputs.hidden_states[len(outputs.hidden_states) - 1 - self.config.trainable_layers]

    def encode_top(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """`(D, L, H)` final encoder states from `encode_bottom`'s states `(D, L, H)` (runs the top layers)."""
        mask = self.additive_attention_mask(attention_mask, hidden.dtype)
        for layer in self.top_layers():
            hidden = layer(hidden, attention_mask=mask)
        return hidden

    @staticmethod
    def additive_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """`(D, 1, 1, L)` mask added to the attention scores of a BERT layer: 0 on tokens, the dtype's minimum on
        padding (what the encoder builds for a non-causal layer; built here, not by transformers' private helper,
        whose signature changes between releases)."""
        keep = attention_mask[:, None, None, :].to(dtype)
        return (1.0 - keep) * torch.finfo(dtype).min

    @staticmethod
    def pool_entities(hidden: torch.Tensor, mention_index: torch.Tensor, mention_entity: torch.Tensor) -> torch.Tensor:
        """`(D, N, H)` entity states from encoder states `(D, L, H)` (see `entity_states`)."""
        documents, size = hidden.shape[0], hidden.shape[-1]
        count = int(mention_entity.max().item()) + 1 if mention_entity.numel() else 0
        states = hidden.new_full((documents, max(count, 1), size), float("-inf"))
        for d in range(documents):
            keep = mention_entity[d] >= 0
            for entity in mention_entity[d][keep].unique().tolist():
                rows = mention_index[d][keep & (mention_entity[d] == entity)]
                states[d, entity] = torch.logsumexp(hidden[d, rows], dim=0)
        return torch.where(torch.isfinite(states), states, torch.zeros_like(states))

    @staticmethod
    def pool_context(hidden: torch.Tensor, pair_document: torch.Tensor, pair_context: torch.Tensor) -> torch.Tensor:
        """`(P, H)`: mean encoder state over each pair's token range `pair_context` `(P, 2)` (zeros if empty)."""
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        inside = (positions >= pair_context[:, :1]) & (positions < pair_context[:, 1:])  # (P, L)
        total = torch.einsum("pl,plh->ph", inside.to(hidden.dtype), hidden[pair_document])
        return total / inside.sum(-1, keepdim=True).clamp(min=1).to(hidden.dtype)

    @staticmethod
    def pair_features(
        states: torch.Tensor, pair_document: torch.Tensor, pair_head: torch.Tensor, pair_tail: torch.Tensor,
        pair_extra: torch.Tensor, context: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """`(P, feature_size)` = [head, tail, head * tail, (context,) extra] from entity states `(D, N, H)`."""
        head, tail = states[pair_document, pair_head], states[pair_document, pair_tail]
        parts = [head, tail, head * tail] + ([context] if context is not None else [])
        return torch.cat([*parts, pair_extra.to(head.dtype)], dim=-1)

    def document_pair_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, mention_index: torch.Tensor,
        mention_entity: torch.Tensor, pair_document: torch.Tensor, pair_head: torch.Tensor, pair_tail: torch.Tensor,
        pair_extra: torch.Tensor, pair_context: torch.Tensor | None = None, bottom_states: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """`(P, feature_size)` pair features of marked documents (one encoder pass, or only the top layers over
        cached `bottom_states` `(D, L, H)` from `encode_bottom`)."""
        if bottom_states is not None:
            hidden = self.encode_top(bottom_states.to(self.head[0].weight.dtype), attention_mask)
        else:
            hidden = self.encode(input_ids, attention_mask)
        states = self.pool_entities(hidden, mention_index, mention_entity)
        context = None
        if self.config.context_features:
            if pair_context is None:
                raise ValueError("config.context_features needs pair_context (see encode_documents)")
            context = self.pool_context(hidden, pair_document, pair_context)
        return self.pair_features(states, pair_document, pair_head, pair_tail, pair_extra, context)

    def predict(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class ids `(P,)`, class probabilities `(P, C)`) of `logits`: the best class after the `no_relation`
        probability is multiplied by `config.no_relation_scale` (the probabilities are returned unscaled)."""
        probabilities = logits.softmax(-1)
        scaled = probabilities.clone()
        scaled[:, 0] *= self.config.no_relation_scale
        return scaled.argmax(-1), probabilities

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mention_index: torch.Tensor | None = None,
        mention_entity: torch.Tensor | None = None,
        pair_document: torch.Tensor | None = None,
        pair_head: torch.Tensor | None = None,
        pair_tail: torch.Tensor | None = None,
        pair_extra: torch.Tensor | None = None,
        pair_features: torch.Tensor | None = None,
        pair_context: torch.Tensor | None = None,
        bottom_states: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        if pair_features is None:
            needed = (input_ids, mention_index, mention_entity, pair_document, pair_head, pair_tail, pair_extra)
            if any(value is None for value in needed):
                raise ValueError("give marked documents with mention and pair tensors, or pair_features")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            pair_features = self.document_pair_features(input_ids, attention_mask, mention_index, mention_entity,
                                                        pair_document, pair_head, pair_tail, pair_extra, pair_context,
                                                        bottom_states)  # fmt: skip
        features = pair_features.to(self.head[0].weight.dtype)
        all_logits = [head(features) for head in (self.head, *self.extra_heads)]
        loss = None
        if labels is not None:
            weight = torch.ones(self.config.num_labels, device=features.device, dtype=features.dtype)
            weight[0] = self.config.no_relation_weight
            losses = [nn.functional.cross_entropy(z, labels.long(), weight=weight) for z in all_logits]
            loss = torch.stack(losses).mean()
        if len(all_logits) == 1:
            return SequenceClassifierOutput(loss=loss, logits=all_logits[0])
        mean = torch.stack([z.softmax(-1) for z in all_logits]).mean(0)
        return SequenceClassifierOutput(loss=loss, logits=mean.clamp(min=1e-12).log())
