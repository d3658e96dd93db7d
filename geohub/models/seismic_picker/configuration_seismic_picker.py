"""Configuration of geohub's seismic phase picker (a PhaseNet-style 1-D U-Net with a detection head)."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["SeismicPickerConfig", "PHASE_LABELS"]

PHASE_LABELS = ("noise", "P", "S")


class SeismicPickerConfig(PretrainedConfig):
    """Configuration of `SeismicPickerForPhasePicking`.

    Args:
        in_channels (`int`, 3): input components, in the order `component_order`.
        hidden_sizes (`list[int]`, `[8, 16, 32, 64, 96]`): channels of the stem and of each encoder level; the
            U-Net has `len(hidden_sizes) - 1` down-sampling levels.
        kernel_size (`int`, 7): odd convolution kernel length (samples).
        stride (`int`, 4): down-sampling factor per level.
        dropout (`float`, 0.0): dropout before the heads.
        detection_loss_weight (`float`, 1.0): weight of the per-sample detection BCE in the loss.
        sampling_rate (`float`, 100.0): Hz the model was trained at (records are resampled to it).
        window_length (`int`, 3000): samples per window used by training and sliding-window inference.
        component_order (`str`, "ZNE"): component of each input channel.
        p_threshold (`float`, 0.3), s_threshold (`float`, 0.3): default probability thresholds for P and S picks.
        detection_threshold (`float`, 0.5): default probability threshold for event detections.
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
    """

    model_type = "geohub_seismic_picker"

    def __init__(
        self,
        in_channels: int = 3,
        hidden_sizes: list[int] | tuple[int, ...] = (8, 16, 32, 64, 96),
        kernel_size: int = 7,
        stride: int = 4,
        dropout: float = 0.0,
        detection_loss_weight: float = 1.0,
        sampling_rate: float = 100.0,
        window_length: int = 3000,
        component_order: str = "ZNE",
        p_threshold: float = 0.3,
        s_threshold: float = 0.3,
        detection_threshold: float = 0.5,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        hidden_sizes = [int(h) for h in hidden_sizes]
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if len(hidden_sizes) < 2 or min(hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes needs >= 2 positive entries, got {hidden_sizes}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if stride < 2:
            raise ValueError(f"stride must be >= 2, got {stride}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if sampling_rate <= 0 or window_length < stride ** (len(hidden_sizes) - 1):
            raise ValueError("sampling_rate must be > 0 and window_length >= stride ** (len(hidden_sizes) - 1)")
        if len(component_order) != in_channels:
            raise ValueError(f"component_order {component_order!r} must have in_channels={in_channels} letters")
        kwargs.setdefault("id2label", dict(enumerate(PHASE_LABELS)))
        kwargs.setdefault("label2id", {label: i for i, label in enumerate(PHASE_LABELS)})
        self.in_channels = in_channels
        self.hidden_sizes = hidden_sizes
        self.kernel_size = kernel_size
        self.stride = stride
        self.dropout = dropout
        self.detection_loss_weight = detection_loss_weight
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.p_threshold = float(p_threshold)
        self.s_threshold = float(s_threshold)
        self.detection_threshold = float(detection_threshold)
        self.initializer_range = initializer_range
        super().__init__(**kwargs)
