"""geohub: machine learning for geophysics on the Hugging Face stack.

Seismic phase picking, detection and magnitude; terrain generation and landform classification; geophysics
literature summarization and knowledge extraction: all as transformers `PreTrainedModel`s with one
`save_pretrained` / `from_pretrained` / `push_to_hub`, trained by recipes under `accelerate launch`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .runtime import configure_environment as _configure_environment

_configure_environment()  # thread count and OpenMP wait policy: must precede the first `import torch`

from .auto import register_all as _register_all  # noqa: E402
from .errors import ConfigError, CorpusError, DataError, GeohubError, HubError, RasterError, WaveformError  # noqa: E402

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
