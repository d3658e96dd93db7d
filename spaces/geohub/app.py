"""The geohub demo as a Hugging Face Space (Gradio SDK): the UI lives in the package, `geohub.demo`.

With no settings, every tab serves the default model shipped with geohub (`geohub.defaults`): the Space needs no
Hub repo and no network. To serve another model in a tab, set its variable (Space settings -> Variables) to a
Hub repo id (`user/name`, or `user/name@revision`) or a folder: GEOHUB_SUMMARIZATION_MODEL,
GEOHUB_KNOWLEDGE_MODEL, GEOHUB_EQT_MODEL, GEOHUB_GPD_MODEL, GEOHUB_PICKER_MODEL, GEOHUB_MAGNITUDE_MODEL,
GEOHUB_DENOISER_MODEL, GEOHUB_TERRAIN_MODEL, GEOHUB_LANDFORM_MODEL, GEOHUB_RELATION_MODEL, GEOHUB_FORECAST_MODEL
(`geohub.demo.MODEL_SPECS` lists them). A tab whose model is unavailable answers with the reason and the variable
that names its model.
"""

import os

from geohub.demo import DemoModels, build_demo

models = DemoModels(space=True)
models.load_all()
demo = build_demo(models)

if __name__ == "__main__":
    # Spaces serve on 0.0.0.0:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT move it (the tests use 127.0.0.1)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        ssr_mode=False,
        max_file_size=10 * 1024 * 1024,
    )
