"""EQTransformer (Mousavi et al., 2020): earthquake detection and P/S picking, convertible from the published weights.

Public API:
- `EqTransformerConfig` (`model_type="geohub_eqtransformer"`; `lstm_gate="hard_sigmoid"|"sigmoid"` selects the
  original or the v2 weights' LSTM), `EqTransformerForPhasePicking` -> `EqTransformerOutput`
  (`logits` `(B, 3, T)`, `detection_probabilities` / `p_probabilities` / `s_probabilities` `(B, T)`, `loss`).
- `EqTransformerFeatureExtractor`: `filter_waveforms(data, sampling_rate)` / `filter_stream(stream)` (record level:
  detrend, 1-45 Hz band-pass, taper), `stream_to_array(stream)` (E, N, Z, missing zero), `__call__(windows)`
  (per-window std normalisation -> `inputs`); picks:
  `waveform_eqtransformer.eqt_picks`.
- Conversion: `geohub.models.eqtransformer.convert_eqtransformer.convert_eqtransformer(h5, output_dir)`, or
  `geohub.convert.convert("eqtransformer-original" | "eqtransformer-v2", output_dir)`.
"""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_eqtransformer": ["EQT_OUTPUT_NAMES", "EqTransformerConfig"],
        ".modeling_eqtransformer": [
            "EqTransformerForPhasePicking",
            "EqTransformerModel",
            "EqTransformerOutput",
            "EqTransformerPreTrainedModel",
        ],
        ".processing_eqtransformer": ["EqTransformerFeatureExtractor", "obspy_bandpass"],
    },
)

__all__ = [
    "EQT_OUTPUT_NAMES",
    "EqTransformerConfig",
    "EqTransformerModel",
    "EqTransformerPreTrainedModel",
    "EqTransformerForPhasePicking",
    "EqTransformerOutput",
    "EqTransformerFeatureExtractor",
    "obspy_bandpass",
]
