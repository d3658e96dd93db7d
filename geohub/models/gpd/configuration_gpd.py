"""Configuration of the Generalized Phase Detection CNN (Ross et al., 2018) in geohub."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["GPDConfig", "GPD_LABELS"]

GPD_LABELS = ("P", "S", "Noise")


class GPDConfig(PretrainedConfig):
    """Configuration of `GPDForWindowClassification`.

    Args:
        in_channels (`int`, 3): input components, in the order `component_order` (N, E, Z as the original).
        window_length (`int`, 400): samples per window (4 s at 100 Hz).
        sampling_rate (`float`, 100.0): Hz the model was trained at.
        component_order (`str`, "NEZ"): component of each input channel.
        conv_filters / conv_kernel_sizes (`list[int]`): the convolution levels (Conv1D 'same', BN, ReLU, max-pool 2).
        hidden_sizes (`list[int]`, `[200, 200]`): the dense layers (Dense, BN, ReLU) before the classifier.
        dropout (`float`, 0.0): dropout before each dense layer (the published model has none).
        trigger_threshold (`float`, 0.994): probability that opens a trigger (picks, see the feature extractor).
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
        inference_dtype (`str`, "float32"): dtype of the no-grad eval path (BatchNorm folded, TorchScript-frozen):
            "float32" (the published model up to float rounding) or "bfloat16" (about 2x faster on CPUs with
            AVX512-BF16; probabilities move by up to about 1e-3).
    """

    model_type = "geohub_gpd"

    def __init__(
        self,
        in_channels: int = 3,
        window_length: int = 400,
        sampling_rate: float = 100.0,
        component_order: str = "NEZ",
        conv_filters=(32, 64, 128, 256),
        conv_kernel_sizes=(21, 15, 11, 9),
        hidden_sizes=(200, 200),
        dropout: float = 0.0,
        trigger_threshold: float = 0.994,
        initializer_range: float = 0.02,
        inference_dtype: str = "float32",
        **kwargs,
    ):
        conv_filters = [int(v) for v in conv_filters]
        conv_kernel_sizes = [int(v) for v in conv_kernel_sizes]
        hidden_sizes = [int(v) for v in hidden_sizes]
        if (
            not conv_filters
            or len(conv_filters) != len(conv_kernel_sizes)
            or min(conv_filters + conv_kernel_sizes) < 1
        ):
            raise ValueError("conv_filters and conv_kernel_sizes need the same number of positive entries")
        if min(hidden_sizes, default=1) < 1:
            raise ValueError(f"hidden_sizes must be positive, got {hidden_sizes}")
        if window_length < 2 ** len(conv_filters):
            raise ValueError(f"window_length must be >= {2 ** len(conv_filters)} for {len(conv_filters)} poolings")
        if len(component_order) != in_channels:
            raise ValueError(f"component_order {component_order!r} must have in_channels={in_channels} letters")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if inference_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"inference_dtype must be 'float32' or 'bfloat16', got {inference_dtype!r}")
        kwargs.setdefault("id2label", dict(enumerate(GPD_LABELS)))
        kwargs.setdefault("label2id", {label: i for i, label in enumerate(GPD_LABELS)})
        self.in_channels = int(in_channels)
        self.window_length = int(window_length)
        self.sampling_rate = float(sampling_rate)
        self.component_order = component_order
        self.conv_filters = conv_filters
        self.conv_kernel_sizes = conv_kernel_sizes
        self.hidden_sizes = hidden_sizes
        self.dropout = float(dropout)
        self.trigger_threshold = float(trigger_threshold)
        self.initializer_range = initializer_range
        self.inference_dtype = inference_dtype
        super().__init__(**kwargs)

    @property
    def flat_length(self) -> int:
        """Samples left after the max-poolings (valid pooling of size 2)."""
        length = self.window_length
        for _ in self.conv_filters:
            length //= 2
        return length
