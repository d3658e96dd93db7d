"""Configuration of geohub's landform classifier (a small 2-D CNN over normalised elevation patches)."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["LandformConfig", "DEFAULT_LANDFORM_LABELS"]

# the classes of the shipped default: tiles labelled from their geomorphons (geohub.data.geomorphons.tile_landform;
# recipes/landform/README.md); the synthetic-terrain rule's six classes before issue #24 are in geohub.data.synthetic_terrain
DEFAULT_LANDFORM_LABELS = ("ridge", "hillside", "valley")


class LandformConfig(PretrainedConfig):
    """Configuration of `LandformCNNForImageClassification`.

    Args:
        image_size (`int`, defaults to 32): patch side in cells.
        num_channels (`int`, defaults to 1): input channels (elevation).
        hidden_sizes (`list[int]`, defaults to `[16, 32, 64]`): channels of each stage; each stage halves H and W.
        layers_per_stage (`int`, defaults to 2): 3x3 convolutions per stage.
        classifier_dropout (`float`, defaults to 0.1): dropout before the classification layer.
        initializer_range (`float`, defaults to 0.02): std of the linear-layer initialisation.
        id2label / label2id: class names; default the geomorphon-defined landforms of the shipped default
            (ridge, hillside, valley).
    """

    model_type = "geohub_landform"

    def __init__(
        self,
        image_size: int = 32,
        num_channels: int = 1,
        hidden_sizes: list[int] | None = None,
        layers_per_stage: int = 2,
        classifier_dropout: float = 0.1,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        if "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = dict(enumerate(DEFAULT_LANDFORM_LABELS))
            kwargs["label2id"] = {label: i for i, label in enumerate(DEFAULT_LANDFORM_LABELS)}
        super().__init__(**kwargs)
        hidden_sizes = list(hidden_sizes) if hidden_sizes is not None else [16, 32, 64]
        if not hidden_sizes or any(int(h) <= 0 for h in hidden_sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive ints, got {hidden_sizes}")
        if image_size < 2 ** len(hidden_sizes):
            raise ValueError(f"image_size {image_size} is too small for {len(hidden_sizes)} down-sampling stages")
        if layers_per_stage < 1:
            raise ValueError("layers_per_stage must be >= 1")
        if not 0.0 <= classifier_dropout < 1.0:
            raise ValueError("classifier_dropout must be in [0, 1)")
        self.image_size = int(image_size)
        self.num_channels = int(num_channels)
        self.hidden_sizes = [int(h) for h in hidden_sizes]
        self.layers_per_stage = int(layers_per_stage)
        self.classifier_dropout = float(classifier_dropout)
        self.initializer_range = float(initializer_range)
