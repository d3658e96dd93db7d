"""Configuration of EQTransformer (Mousavi et al., 2020) in geohub.

One class covers both published originals: `lstm_gate="hard_sigmoid"` with three BiLSTM blocks and dropout 0.1 is
`EqT_model.h5` (Keras 2.2.4, SeisBench's "conservative" model); `lstm_gate="sigmoid"` with two BiLSTM blocks and
dropout 0.2 is `EqT_model2.h5` (Keras 2.3.0, "non-conservative").
"""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["EqTransformerConfig", "EQT_OUTPUT_NAMES", "LSTM_GATES"]

EQT_OUTPUT_NAMES = ("detection", "P", "S")
LSTM_GATES = ("hard_sigmoid", "sigmoid")


def _ints(values, name: str) -> list[int]:
    values = [int(v) for v in values]
    if not values or min(values) < 1:
        raise ValueError(f"{name} needs positive integers, got {values}")
    return values


class EqTransformerConfig(PretrainedConfig):
    """Configuration of `EqTransformerForPhasePicking`.

    Args:
        in_channels (`int`, 3): input components, in the order `component_order` (E, N, Z as the original).
        window_length (`int`, 6000): samples per window (60 s at 100 Hz); the decoder must give back this length.
        sampling_rate (`float`, 100.0): Hz the model was trained at.
        component_order (`str`, "ENZ"): component of each input channel.
        encoder_filters / encoder_kernel_sizes (`list[int]`): the 7 convolution + max-pool (factor 2) levels.
        res_kernel_sizes (`list[int]`, `[3, 3, 3, 3, 2, 3, 2]`): kernel size of each residual block at the bottom.
        num_lstm_blocks (`int`, 3): BiLSTM blocks (BiLSTM, 1x1 convolution, BatchNorm) after the residual blocks.
        lstm_units (`int`, 16): LSTM units per direction, also the width of the transformer part.
        lstm_gate (`str`, "hard_sigmoid"): LSTM gate function, Keras 2's `hard_sigmoid` (`clip(0.2 x + 0.5, 0, 1)`)
            or `"sigmoid"`.
        attention_units (`int`, 32): units of the additive self-attention layers.
        feed_forward_units (`int`, 128): hidden units of the transformers' feed-forward layers.
        local_attention_width (`int`, 3): attention width of the P and S branches (3 = +-1 step).
        decoder_filters / decoder_kernel_sizes (`list[int]`): one up-sampling (x2) + convolution per level.
        decoder_crop_level (`int`, 3): after the up-sampling of this level (0-based) one sample is cropped at each
            end (752 -> 750 for a 6000-sample window).
        output_kernel_size (`int`, 11): kernel of the three sigmoid output convolutions.
        dropout (`float`, 0.1): spatial dropout of the residual blocks and LSTM input dropout (training only).
        loss_weights (`list[float]`, `[0.05, 0.40, 0.55]`): weights of the detection, P and S BCE terms.
        detection_threshold, p_threshold, s_threshold (`float`, 0.3, 0.1, 0.1): default pick thresholds.
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
    """

    model_type = "geohub_eqtransformer"

    def __init__(
        self,
        in_channels: int = 3,
        window_length: int = 6000,
        sampling_rate: float = 100.0,
        component_order: str = "ENZ",
        encoder_filters=(8, 16, 16, 32, 32, 64, 64),
        encoder_kernel_sizes=(11, 9, 7, 7, 5, 5, 3),
        res_kernel_sizes=(3, 3, 3, 3, 2, 3, 2),
        num_lstm_blocks: int = 3,
        lstm_units: int = 16,
        lstm_gate: str = "hard_sigmoid",
        attention_units: int = 32,
        feed_forward_units: int = 128,
        local_attention_width: int = 3,
        decoder_filters=(64, 64, 32, 32, 16, 16, 8),
        decoder_kernel_sizes=(3, 5, 5, 7, 7, 9, 11),
        decoder_crop_level: int = 3,
        output_kernel_size: int = 11,
        dropout: float = 0.1,
        loss_weights=(0.05, 0.40, 0.55),
        detection_threshold: float = 0.3,
        p_threshold: float = 0.1,
        s_threshold: float = 0.1,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        encoder_filters = _ints(encoder_filters, "encoder_filters")
        encoder_kernel_sizes = _ints(encoder_kernel_sizes, "encoder_kernel_sizes")
        decoder_filters = _ints(decoder_filters, "decoder_filters")
        decoder_kernel_sizes = _ints(decoder_kernel_sizes, "decoder_kernel_sizes")
        res_kernel_sizes = _ints(res_kernel_sizes, "res_kernel_sizes")
        if len(encoder_filters) != len(encoder_kernel_sizes):
            raise ValueError("encoder_filters and encoder_kernel_sizes must have the same length")
        if len(decoder_filters) != len(encoder_filters) or len(decoder_kernel_sizes) != len(decoder_filters):
            raise ValueError("decoder_filters/decoder_kernel_sizes need one entry per encoder level")
        if lstm_gate not in LSTM_GATES:
            raise ValueError(f"lstm_gate must be one of {LSTM_GATES}, got {lstm_gate!r}")
        if num_lstm_blocks < 1 or lstm_units < 1 or attention_units < 1 or feed_forward_units < 1:
            raise ValueError("num_lstm_blocks, lstm_units, attention_units, feed_forward_units must be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if len(component_order) != in_channels:
            raise ValueError(f"component_order {component_order!r} must have in_channels={in_channels} letters")
        if len(loss_weights) != 3:
            raise ValueError(f"loss_weights needs 3 entries (detection, P, S), got {list(loss_weights)}")
        self.in_channels = int(in_channels)
        self.window_length = int(window_length)
        self.sampling_rate = float(sampling_rate)
        self.component_order = component_order
        self.encoder_filters = encoder_filters
        self.encoder_kernel_sizes = encoder_kernel_sizes
        self.res_kernel_sizes = res_kernel_sizes
        self.num_lstm_blocks = int(num_lstm_blocks)
        self.lstm_units = int(lstm_units)
        self.lstm_gate = lstm_gate
        self.attention_units = int(attention_units)
        self.feed_forward_units = int(feed_forward_units)
        self.local_attention_width = int(local_attention_width)
        self.decoder_filters = decoder_filters
        self.decoder_kernel_sizes = decoder_kernel_sizes
        self.decoder_crop_level = int(decoder_crop_level)
        self.output_kernel_size = int(output_kernel_size)
        self.dropout = float(dropout)
        self.loss_weights = [float(w) for w in loss_weights]
        self.detection_threshold = float(detection_threshold)
        self.p_threshold = float(p_threshold)
        self.s_threshold = float(s_threshold)
        self.initializer_range = initializer_range
        kwargs.setdefault("id2label", dict(enumerate(EQT_OUTPUT_NAMES)))
        kwargs.setdefault("label2id", {label: i for i, label in enumerate(EQT_OUTPUT_NAMES)})
        super().__init__(**kwargs)
        if self.output_length(self.window_length) != self.window_length:
            raise ValueError(
                f"window_length {self.window_length} comes back from the decoder as "
                f"{self.output_length(self.window_length)} samples; choose a length the encoder/decoder preserve "
                "(6000 for the published layout)"
            )

    def output_length(self, length: int) -> int:
        """Samples the decoder gives back for an input of `length` samples."""
        for _ in self.encoder_filters:
            length = (length + 1) // 2
        for level in range(len(self.decoder_filters)):
            length *= 2
            if level == self.decoder_crop_level:
                length -= 2
        return length
