"""Configuration of geohub's magnitude model (a CNN + bidirectional LSTM in the spirit of MagNet and CRED)."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["SeismicMagnitudeConfig"]


class SeismicMagnitudeConfig(PretrainedConfig):
    """Configuration of `SeismicMagnitudeForRegression`.

    Args:
        in_channels (`int`, 3): input components, in the order `component_order`.
        conv_channels (`list[int]`, `[16, 32, 48]`): channels of the convolution blocks; each block max-pools by
            `pool_size`.
        kernel_size (`int`, 7): odd convolution kernel length (samples).
        pool_size (`int`, 4): max-pool factor per block.
        lstm_hidden_size (`int`, 48): hidden units per direction of the bidirectional LSTM.
        use_amplitude (`bool`, True): feed the per-channel log10 peak amplitude (`log_amplitude`, from the feature
            extractor) to the heads; without it only the waveform shape is seen, which cannot fix magnitude.
        dropout (`float`, 0.1): dropout before the heads.
        detection_loss_weight (`float`, 1.0): weight of the window-level event-vs-noise BCE in the loss.
        sampling_rate (`float`, 100.0), window_length (`int`, 3000), component_order (`str`, "ZNE"): the windows
            the model was trained on.
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
    """

    model_type = "geohub_seismic_magnitude"

    def __init__(
        self,
        in_channels: int = 3,
        conv_channels: list[int] | tuple[int, ...] = (16, 32, 48),
        kernel_size: int = 7,
        pool_size: int = 4,
        lstm_hidden_size: int = 48,
        use_amplitude: bool = True,
        dropout: float = 0.1,
        detection_loss_weight: float = 1.0,
        sampling_rate: float = 100.0,
        window_length: int = 3000,
        component_order: str = "ZNE",
        initializer_range: float = 0.02,
        **kwargs,
    ):
        conv_channels = [int(c) for c in conv_channels]
        if in_channels < 1 or not conv_channels or min(conv_channels) < 1:
            raise ValueError("in_channels and every conv_channels entry must be >= 1")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if pool_size < 1 or lstm_hidden_size < 1:
            raise ValueError("pool_size and lstm_hidden_size must be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if window_length < pool_size ** len(conv_channels):
            raise ValueError("window_length must be >= pool_size ** len(conv_channels)")
        if len(component_order) != in_channels:
            raise ValueError(f"component_order {component_order!r} must have in_channels={in_channels} letters")
        self.in_channels = in_channels
        self.conv_channels = conv_channels
        self.kernel_size = kernel_size
        self.pool_size = pool_size
        self.lstm_hidden_size = lstm_hidden_size
        self.use_amplitude = use_amplitude
        self.dropout = dropout
        self.detection_loss_weight = detection_loss_weight
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.initializer_range = initializer_range
        super().__init__(**kwargs)
