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
      `pair_document`, `pair_head`, `pair_tail` `(P,)` (document and entity numbers of each pair) and
      `pair_extra` `(P, num_extra_features)`;
    - precomputed `pair_features` `(P, feature_size)` (see `pair_features`; training with a frozen encoder).
    `labels` `(P,)` class ids (0 = no_relation). Output logits `(P, 1 + len(relation_types))`.
    """

    def __init__(self, config: RelationClassifierConfig):
        super().__init__(config)
        self.encoder = BertModel(BertConfig(**config.encoder), add_pooling_layer=False)
        hidden = config.hidden_size
        self.head = nn.Sequential(
            nn.LayerNorm(config.feature_size),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.feature_size, hidden),
            nn.GELU(),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(hidden, config.num_labels),
        )
        self.post_init()
        self._apply_freeze()

    def _apply_freeze(self) -> None:
        for parameter in self.encoder.parameters():
            parameter.requires_grad = not self.config.freeze_encoder

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
        if self.config.freeze_encoder:
            self.encoder.eval()  # a frozen encoder gives deterministic features (no dropout)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
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
    def pair_features(
        states: torch.Tensor, pair_document: torch.Tensor, pair_head: torch.Tensor, pair_tail: torch.Tensor,
        pair_extra: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """`(P, feature_size)` = [head, tail, head * tail, extra] from entity states `(D, N, H)`."""
        head, tail = states[pair_document, pair_head], states[pair_document, pair_tail]
        return torch.cat([head, tail, head * tail, pair_extra.to(head.dtype)], dim=-1)

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
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        if pair_features is None:
            needed = (input_ids, mention_index, mention_entity, pair_document, pair_head, pair_tail, pair_extra)
            if any(value is None for value in needed):
                raise ValueError("give marked documents with mention and pair tensors, or pair_features")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            states = self.entity_states(input_ids, attention_mask, mention_index, mention_entity)
            pair_features = self.pair_features(states, pair_document, pair_head, pair_tail, pair_extra)
        logits = self.head(pair_features.to(self.head[0].weight.dtype))
        loss = nn.functional.cross_entropy(logits, labels.long()) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
