"""Configuration of geohub's seismic denoiser (a DeepDenoiser-style STFT-domain encoder-decoder)."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["SeismicDenoiserConfig"]


class SeismicDenoiserConfig(PretrainedConfig):
    """Configuration of `SeismicDenoiserForDenoising` (Zhu, Mousavi & Beroza, 2019).

    Each component is denoised on its own: its short-time Fourier transform (STFT) goes through a 2-D U-Net that
    predicts two masks (signal, noise; a softmax, so they sum to 1), and the masked STFTs are inverted back to
    waveforms.

    Args:
        in_channels (`int`, 3): components per record, in the order `component_order` (each is denoised alone).
        n_fft (`int`, 60): FFT length (samples); the STFT has `n_fft // 2 + 1` frequency bins.
        win_length (`int`, 30): Hann window length (samples, <= n_fft; DeepDenoiser: 30 samples = 0.3 s at 100 Hz).
        hop_length (`int`, 15): samples between STFT frames (a Hann window with 50 % overlap sums to a constant).
        hidden_sizes (`list[int]`, `[8, 16, 32, 64]`): channels of the stem and of each encoder level; the U-Net
            has `len(hidden_sizes) - 1` levels, each halving frequency and time.
        kernel_size (`int`, 3): odd 2-D convolution kernel.
        dropout (`float`, 0.0): dropout before the mask head.
        waveform_loss_weight (`float`, 1.0): weight of the waveform mean-squared error added to the mask loss.
        mask_loss (`str`, "mse"): the mask term of the loss against the ideal ratio mask `|S| / (|S| + |N|)`:
            "mse" (soft-mask mean-squared error) or "cross_entropy" (DeepDenoiser's).
        sampling_rate (`float`, 100.0): Hz the model was trained at (records are resampled to it).
        window_length (`int`, 3000): samples per window for training and for sliding-window inference.
        component_order (`str`, "ZNE"): component of each input channel.
        initializer_range (`float`, 0.02): std of the truncated-normal init of linear layers.
    """

    model_type = "geohub_seismic_denoiser"

    def __init__(
        self,
        in_channels: int = 3,
        n_fft: int = 60,
        win_length: int = 30,
        hop_length: int = 15,
        hidden_sizes: list[int] | tuple[int, ...] = (8, 16, 32, 64),
        kernel_size: int = 3,
        dropout: float = 0.0,
        waveform_loss_weight: float = 1.0,
        mask_loss: str = "mse",
        sampling_rate: float = 100.0,
        window_length: int = 3000,
        component_order: str = "ZNE",
        initializer_range: float = 0.02,
        **kwargs,
    ):
        hidden_sizes = [int(h) for h in hidden_sizes]
        if in_channels < 1 or len(component_order) != in_channels:
            raise ValueError(f"component_order {component_order!r} must have in_channels={in_channels} >= 1 letters")
        if n_fft < 4 or n_fft % 2:
            raise ValueError(f"n_fft must be an even integer >= 4, got {n_fft}")
        if not 2 <= win_length <= n_fft:
            raise ValueError(f"win_length must be in [2, n_fft={n_fft}], got {win_length}")
        if not 1 <= hop_length <= win_length // 2:
            raise ValueError(f"hop_length must be in [1, win_length // 2 = {win_length // 2}] (overlap-add), got "
                             f"{hop_length}")  # fmt: skip
        if len(hidden_sizes) < 2 or min(hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes needs >= 2 positive entries, got {hidden_sizes}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if mask_loss not in {"mse", "cross_entropy"}:
            raise ValueError(f"mask_loss must be 'mse' or 'cross_entropy', got {mask_loss!r}")
        if sampling_rate <= 0 or window_length < n_fft:
            raise ValueError(f"sampling_rate must be > 0 and window_length >= n_fft ({n_fft}), got {window_length}")
        self.in_channels = int(in_channels)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.hop_length = int(hop_length)
        self.hidden_sizes = hidden_sizes
        self.kernel_size = int(kernel_size)
        self.dropout = float(dropout)
        self.waveform_loss_weight = float(waveform_loss_weight)
        self.mask_loss = mask_loss
        self.sampling_rate = float(sampling_rate)
        self.window_length = int(window_length)
        self.component_order = component_order
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    @property
    def num_frequencies(self) -> int:
        """Frequency bins of the one-sided STFT."""
        return self.n_fft // 2 + 1
