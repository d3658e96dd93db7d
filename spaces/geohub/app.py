"""The geohub demo as a Hugging Face Space (Gradio SDK): the UI lives in the package, `geohub.demo`.

Models load from the Hub repos named below (the Space's README `models:` list); set the environment variables
(Space settings -> Variables) to serve other repos or revisions (`user/name@revision`).
"""

import os

os.environ.setdefault("GEOHUB_SUMMARIZATION_MODEL", "geohub/geo-summarizer-minilm")
os.environ.setdefault("GEOHUB_KNOWLEDGE_MODEL", "geohub/geo-ner-minilm")
os.environ.setdefault("GEOHUB_EQT_MODEL", "geohub/eqtransformer-original")
os.environ.setdefault("GEOHUB_GPD_MODEL", "geohub/gpd-original")
os.environ.setdefault("GEOHUB_PICKER_MODEL", "geohub/seismic-picker-synthetic")
os.environ.setdefault("GEOHUB_MAGNITUDE_MODEL", "geohub/seismic-magnitude-synthetic")
os.environ.setdefault("GEOHUB_DENOISER_MODEL", "geohub/seismic-denoiser-phasenet-noise")
os.environ.setdefault("GEOHUB_TERRAIN_MODEL", "geohub/terrain-gan-jacksboro")
os.environ.setdefault("GEOHUB_LANDFORM_MODEL", "geohub/landform-cnn-synthetic")

from geohub.demo import DemoModels, build_demo  # noqa: E402

models = DemoModels()
models.load_all()
demo = build_demo(models)

if __name__ == "__main__":
    demo.launch(server_name="0.0.0.0", ssr_mode=False, max_file_size=10 * 1024 * 1024)
