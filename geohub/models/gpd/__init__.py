"""GPD, Generalized Phase Detection (Ross et al., 2018): P / S / noise classification of 4 s windows.

Public API:
- `GPDConfig` (`model_type="geohub_gpd"`), `GPDForWindowClassification` -> `GPDOutput` (`logits`, `probabilities`
  `(B, 3)` in the order P, S, Noise, `loss`).
- `GPDFeatureExtractor`: `filter_waveforms(data, sampling_rate)` / `filter_stream(stream)` (detrend, 3-20 Hz
  band-pass), `stream_to_array(stream)` (N, E, Z), `sliding_windows(record)` (400 samples every 10),
  `__call__(windows)` (max-abs normalisation -> `inputs`); picks: `geohub.models.gpd.waveform_gpd.gpd_picks`.
- Conversion: `geohub.models.gpd.convert_gpd.convert_gpd(hdf5, output_dir)` or
  `geohub.convert.convert("gpd-original", output_dir)`.
"""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_gpd": ["GPD_LABELS", "GPDConfig"],
        ".modeling_gpd": ["GPDForWindowClassification", "GPDOutput", "GPDPreTrainedModel"],
        ".processing_gpd": ["GPDFeatureExtractor"],
    },
)

__all__ = [
    "GPD_LABELS",
    "GPDConfig",
    "GPDPreTrainedModel",
    "GPDForWindowClassification",
    "GPDOutput",
    "GPDFeatureExtractor",
]
