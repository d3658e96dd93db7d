"""geohub: machine learning for geophysics on the Hugging Face stack.

Seismic phase picking, detection and magnitude; terrain generation and landform classification; geophysics
literature summarization and knowledge extraction: all as transformers `PreTrainedModel`s with one
`save_pretrained` / `from_pretrained` / `push_to_hub`, trained by recipes under `accelerate launch`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .auto import register_all as _register_all
from .errors import ConfigError, CorpusError, DataError, GeohubError, HubError, RasterError, WaveformError

_register_all()

__all__ = [
    "__version__",
    "GeohubError",
    "ConfigError",
    "DataError",
    "WaveformError",
    "RasterError",
    "CorpusError",
    "HubError",
]
