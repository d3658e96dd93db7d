"""Configuration of geohub's relation classifier (entity markers on a MiniLM/BERT encoder, document level)."""

from __future__ import annotations

from transformers import BertConfig, PretrainedConfig

__all__ = ["RelationClassifierConfig", "NO_RELATION", "NUM_DISTANCE_FEATURES"]

NO_RELATION = "no_relation"
NUM_DISTANCE_FEATURES = 5  # see processing_relation_classifier.distance_features
_DEFAULT_RELATIONS = ("located_in", "age_of", "hosts", "measured_by", "overlies", "causes", "part_of")
_DEFAULT_TYPES = ("ROCK", "MINERAL", "STRAT", "TIMESCALE", "LOCATION", "METHOD", "PHENOMENON", "QUANTITY")


class RelationClassifierConfig(PretrainedConfig):
    """Configuration of `RelationClassifierForPairClassification`.

    Args:
        encoder (`dict`, *optional*): `BertConfig` arguments of the encoder (all-MiniLM-L6-v2 when built with
            `from_encoder`); default: a tiny 2-layer BERT (tests).
        relation_types (`list[str]`): the typed relations; the classes are `["no_relation", *relation_types]`.
        entity_types (`list[str]`): the entity types the tagger produces (one-hot features of head and tail).
        type_pairs (`list[list[str]]`, *optional*): the (head type, tail type) pairs that are classified at all
            (learned from the training relations); other pairs are "no_relation" without scoring. Empty: all.
        marker (`str`, defaults to "*"): the character inserted before and after every mention of the document
            (entity markers, as in ATLOP, Zhou et al. 2021); an entity is the pooled state of its opening markers.
        classifier_dropout (`float`, defaults to 0.1): dropout before the classifier.
        freeze_encoder (`bool`, defaults to True): keep the encoder fixed (only the classifier trains), except
            its top `trainable_layers` layers.
        trainable_layers (`int`, defaults to 0): with `freeze_encoder`, the number of top encoder layers that
            still train (0: the whole encoder is fixed). Training then reads each document once through the
            bottom layers (no gradient, states cached) and runs only the top layers per step.
        max_document_length (`int`, defaults to 512): sub-word tokens per marked document (mentions beyond are unseen).
        initializer_range (`float`, defaults to 0.02): std of the truncated-normal weight init.
        rule_features (`bool`, defaults to False): add, per pair, which typed rule of `geohub.knowledge` relates
            head to tail and tail to head (two one-hots over `relation_types`; computed by the caller and given
            to `prepare_document(..., rules=...)`).
        context_features (`bool`, defaults to False): add the mean encoder state of the tokens between the
            closest head and tail mentions (zeros when adjacent).
        num_heads (`int`, defaults to 1): independently initialised classifier heads trained side by side; the
            prediction is the mean of their class probabilities (an ensemble at the cost of one encoder pass).
        no_relation_weight (`float`, defaults to 1.0): loss weight of `no_relation` (< 1 favours recall).
        no_relation_scale (`float`, defaults to 1.0): decision threshold: the `no_relation` probability is
            multiplied by it before the best class is taken (< 1 favours recall; chosen on validation data).
    """

    model_type = "geohub_relation_classifier"

    def __init__(
        self,
        encoder: dict | None = None,
        relation_types: list[str] | tuple[str, ...] = _DEFAULT_RELATIONS,
        entity_types: list[str] | tuple[str, ...] = _DEFAULT_TYPES,
        type_pairs: list[list[str]] | None = None,
        marker: str = "*",
        classifier_dropout: float = 0.1,
        freeze_encoder: bool = True,
        trainable_layers: int = 0,
        max_document_length: int = 512,
        initializer_range: float = 0.02,
        rule_features: bool = False,
        context_features: bool = False,
        num_heads: int = 1,
        no_relation_weight: float = 1.0,
        no_relation_scale: float = 1.0,
        **kwargs,
    ):
        if encoder is None:
            encoder = BertConfig(
                vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
            ).to_dict()
        if isinstance(encoder, PretrainedConfig):
            encoder = encoder.to_dict()
        relation_types = [str(r) for r in relation_types]
        if not relation_types or NO_RELATION in relation_types or len(set(relation_types)) != len(relation_types):
            raise ValueError(f"relation_types must be distinct names other than {NO_RELATION!r}: {relation_types}")
        if not entity_types:
            raise ValueError("entity_types must name at least one entity type")
        if not 0.0 <= classifier_dropout < 1.0:
            raise ValueError(f"classifier_dropout must be in [0, 1), got {classifier_dropout}")
        if max_document_length < 8:
            raise ValueError(f"max_document_length must be >= 8, got {max_document_length}")
        layers = int(encoder.get("num_hidden_layers", 0))
        if not 0 <= int(trainable_layers) <= layers:
            raise ValueError(
                f"trainable_layers must be in [0, {layers}] (the encoder's layers), got {trainable_layers}"
            )
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        if no_relation_weight <= 0 or no_relation_scale <= 0:
            raise ValueError(f"no_relation_weight and no_relation_scale must be > 0, got {no_relation_weight}, "
                             f"{no_relation_scale}")  # fmt: skip
        self.encoder = encoder
        self.relation_types = relation_types
        self.entity_types = [str(t) for t in entity_types]
        self.type_pairs = [list(p) for p in (type_pairs or [])]
        self.marker = marker
        self.classifier_dropout = classifier_dropout
        self.freeze_encoder = freeze_encoder
        self.trainable_layers = int(trainable_layers)
        self.max_document_length = max_document_length
        self.initializer_range = initializer_range
        self.rule_features = bool(rule_features)
        self.context_features = bool(context_features)
        self.num_heads = int(num_heads)
        self.no_relation_weight = float(no_relation_weight)
        self.no_relation_scale = float(no_relation_scale)
        labels = [NO_RELATION, *relation_types]
        kwargs["id2label"] = dict(enumerate(labels))
        kwargs["label2id"] = {label: i for i, label in enumerate(labels)}
        super().__init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        return int(self.encoder["hidden_size"])

    @property
    def num_extra_features(self) -> int:
        """Width of the non-neural pair features: head and tail type one-hots, the distance features and (with
        `rule_features`) the rule one-hots in both directions."""
        rules = 2 * len(self.relation_types) if self.rule_features else 0
        return 2 * len(self.entity_types) + NUM_DISTANCE_FEATURES + rules

    @property
    def feature_size(self) -> int:
        """Width of a pair's features: head, tail, head * tail entity states, (with `context_features`) the
        context between them and the extra features."""
        return (4 if self.context_features else 3) * self.hidden_size + self.num_extra_features
