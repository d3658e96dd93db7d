"""geohub's Gradio demo: Summarize, Knowledge, Seismic, Terrain and Landform tabs over geohub's models.

    from geohub.demo import build_demo, launch_demo, DemoModels
    launch_demo(DemoModels(sources={"seismic_picking": "user/geohub-picker"}), port=7860)

`geohub demo` and `geohub quickstart` serve it; `spaces/geohub/app.py` deploys it as a Hugging Face Space.
"""

from .app import API_NAMES, build_demo, free_port, launch_demo
from .handlers import DemoLimits
from .models import MODEL_SPECS, DemoModels, ModelSpec

__all__ = [
    "API_NAMES",
    "build_demo",
    "launch_demo",
    "free_port",
    "DemoLimits",
    "DemoModels",
    "MODEL_SPECS",
    "ModelSpec",
]
