"""The geohub demo: one Gradio Blocks app with a tab per kind the model families declare (`DemoDecl.tab`).

    geohub demo                                   # quickstart folder, else shipped defaults, http://127.0.0.1:7860
    geohub demo --picker-model user/geohub-picker --port 8000

    from geohub.demo import build_demo, launch_demo
    demo = build_demo()                           # gr.Blocks, queue configured
    launch_demo(port=0, prevent_thread_lock=True) # a free port; returns (demo, url)

Endpoints (`api_name`, callable with `gradio_client.Client(url).predict(..., api_name="/summarize")`): see
`API_NAMES` (and `api_names()`, which adds those of families' own tabs). Every request goes through Gradio's queue (at most `concurrency_limit` at once per endpoint, at most
`max_queue_size` waiting); bad input (too long, corrupt, too big) is answered with a `gr.Error` message and the
server keeps serving.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable

from ..errors import GeohubError
from ..utils import free_port, get_logger
from .examples import DEM_EXAMPLES, EXAMPLE_ABSTRACT, REAL_SEISMIC_EXAMPLE, SEISMIC_EXAMPLES
from .explanations import explain_knowledge, explain_landform, explain_seismic
from .handlers import (
    DETECTION_COLUMNS,
    PICK_COLUMNS,
    RELATION_COLUMNS,
    DemoLimits,
    annotate_seismic,
    best_available_picker,
    classify_dem,
    extract_knowledge,
    generate_dem,
    seismic_pickers,
    summarize_text,
)
from .models import DemoModels

logger = get_logger(__name__)

__all__ = ["API_NAMES", "TAB_BUILDERS", "api_names", "declared_tabs", "build_demo", "launch_demo", "free_port"]

# api_name -> what it does (the README and the Space card list exactly these)
API_NAMES: dict[str, str] = {
    "summarize": "text (or .txt file), number of sentences -> summary",
    "extract_knowledge": "text (or .txt file) -> highlighted entities, relation table, graph picture, JSON-LD file",
    "annotate_seismic": "miniSEED/SAC file or example name, picker, denoise first? -> waveform picture, picks, "
    "detections, magnitude text",
    "generate_terrain": "seed, size (patches per side), format -> shaded relief, landform map, .npy/GeoTIFF, text",
    "classify_landform": "DEM tile (.npy/.npz/GeoTIFF) or example name -> landform class probabilities",
    "explain_knowledge": "text (or .txt file), entity number -> per-token attributions of that entity, text",
    "explain_seismic": "miniSEED/SAC file or example name, picker -> P-pick attributions under the waveform, text",
    "explain_landform": "DEM tile or example name, grid spacing -> per-pixel attributions over the patch, text",
}

_INTRO = """# geohub demo
Summarize a geophysics abstract, see its knowledge graph, pick P and S phases and estimate magnitudes on a
seismogram, generate terrain and classify landforms, all with models written as `transformers` models."""


def _user_facing(function: Callable, models: DemoModels, limits: DemoLimits) -> Callable:
    """`function(models, limits, *inputs)` as a Gradio handler: geohub errors become `gr.Error` messages."""
    import gradio as gr

    def handler(*inputs):
        try:
            return function(models, limits, *inputs)
        except GeohubError as err:
            message = str(err)
            if err.path:  # uploads live in Gradio's cache: name the file, not the server's folder
                message = message.replace(err.path, os.path.basename(err.path))
            raise gr.Error(message, print_exception=False) from None
        except Exception as err:  # a bug or an unexpected file: answer, log, keep serving
            logger.exception("demo: %s failed", function.__name__)
            raise gr.Error(
                f"could not process this input ({type(err).__name__}: {err})", print_exception=False
            ) from None

    handler.__name__ = function.__name__
    return handler


def _summarize_tab(gr, models: DemoModels, limits: DemoLimits, user_facing: Callable) -> None:
    with gr.Tab("Summarize", id="summarize"):
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(EXAMPLE_ABSTRACT, lines=10, max_lines=30, label="Abstract",
                                  info=f"at most {limits.max_text_characters:,} characters")  # fmt: skip
                upload = gr.File(label="...or upload a .txt file", file_types=[".txt"], type="filepath")
                sentences = gr.Slider(1, 5, value=1, step=1, label="sentences in the summary")
                button = gr.Button("Summarize", variant="primary")
            summary = gr.Textbox(label="Summary", lines=6)
        button.click(user_facing(summarize_text, models, limits), [text, upload, sentences], summary,
                     api_name="summarize")  # fmt: skip


def _knowledge_tab(gr, models: DemoModels, limits: DemoLimits, user_facing: Callable) -> None:
    with gr.Tab("Knowledge", id="knowledge"):
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(EXAMPLE_ABSTRACT, lines=10, max_lines=30, label="Abstract",
                                  info=f"at most {limits.max_text_characters:,} characters")  # fmt: skip
                upload = gr.File(label="...or upload a .txt file", file_types=[".txt"], type="filepath")
                button = gr.Button("Extract entities and relations", variant="primary")
            with gr.Column():
                entities = gr.HighlightedText(label="Entities", show_legend=True, combine_adjacent=False)
                jsonld = gr.File(label="Knowledge graph (JSON-LD)")
        relations = gr.Dataframe(label="Relations", wrap=True, headers=list(RELATION_COLUMNS))
        picture = gr.Image(label="Knowledge graph", type="numpy", format="png")
        button.click(user_facing(extract_knowledge, models, limits), [text, upload],
                     [entities, relations, picture, jsonld], api_name="extract_knowledge")  # fmt: skip
        with gr.Row():
            entity = gr.Number(1, precision=0, minimum=1, label="entity to explain (1 = the first in the text)")
            explain_button = gr.Button("Explain", elem_id="knowledge-explain")
        explanation_text = gr.Markdown(elem_id="knowledge-explanation")
        attributions = gr.HighlightedText(label="Which tokens drove the tagger (integrated gradients)",
                                          show_legend=False, combine_adjacent=False)  # fmt: skip
        explain_button.click(user_facing(explain_knowledge, models, limits), [text, upload, entity],
                             [attributions, explanation_text], api_name="explain_knowledge")  # fmt: skip


def _seismic_tab(gr, models: DemoModels, limits: DemoLimits, user_facing: Callable) -> None:
    with gr.Tab("Seismic", id="seismic"):
        with gr.Row():
            upload = gr.File(label="miniSEED / SAC record", type="filepath",
                             file_types=[".mseed", ".miniseed", ".ms", ".sac", ".SAC", ".gse2", ".seed"])  # fmt: skip
            with gr.Column():
                example = gr.Dropdown(list(SEISMIC_EXAMPLES), value=REAL_SEISMIC_EXAMPLE,
                                      label="...or a bundled example (used when nothing is uploaded)")  # fmt: skip
                best = best_available_picker()
                picker = gr.Dropdown([best, *seismic_pickers()], value=best, label="Picker")
                gr.Markdown(f"At most {limits.max_waveform_seconds:.0f} s per station, {limits.max_stations} "
                            f"stations, {limits.max_upload_bytes / 1e6:.0f} MB.")  # fmt: skip
                denoise = gr.Checkbox(False, label="Denoise first (seismic denoiser), then pick",
                                      elem_id="seismic-denoise")  # fmt: skip
                button = gr.Button("Pick phases", variant="primary")
                explain_button = gr.Button("Explain the P pick", elem_id="seismic-explain")
        summary = gr.Markdown()
        picture = gr.Image(label="Waveform (denoised when asked), P/S picks and probabilities", type="numpy",
                           format="png")  # fmt: skip
        with gr.Row():
            picks = gr.Dataframe(label="Picks", headers=list(PICK_COLUMNS))
            detections = gr.Dataframe(label="Detections and magnitudes", headers=list(DETECTION_COLUMNS))
        button.click(user_facing(annotate_seismic, models, limits), [upload, example, picker, denoise],
                     [picture, picks, detections, summary], api_name="annotate_seismic")  # fmt: skip
        explanation_text = gr.Markdown(elem_id="seismic-explanation")
        explanation = gr.Image(label="Which samples drove the P pick (integrated gradients)", type="numpy",
                               format="png")  # fmt: skip
        explain_button.click(user_facing(explain_seismic, models, limits), [upload, example, picker],
                             [explanation, explanation_text], api_name="explain_seismic")  # fmt: skip


def _terrain_tab(gr, models: DemoModels, limits: DemoLimits, user_facing: Callable) -> None:
    with gr.Tab("Terrain", id="terrain"):
        with gr.Row():
            seed = gr.Number(0, precision=0, label="seed", minimum=0)
            tiles = gr.Slider(1, limits.max_terrain_tiles, value=4, step=1,
                              label="size (training patches per side; one continuous DEM)")  # fmt: skip
            file_format = gr.Radio([".npy", "GeoTIFF"], value=".npy", label="download format")
            button = gr.Button("Generate terrain", variant="primary")
        summary = gr.Markdown()
        with gr.Row():
            shade = gr.Image(label="Shaded relief", type="numpy", format="png")
            colour = gr.Image(label="Landform elements (geomorphons)", type="numpy", format="png")
        download = gr.File(label="DEM (metres)")
        button.click(user_facing(generate_dem, models, limits), [seed, tiles, file_format],
                     [shade, colour, download, summary], api_name="generate_terrain")  # fmt: skip


def _landform_tab(gr, models: DemoModels, limits: DemoLimits, user_facing: Callable) -> None:
    with gr.Tab("Landform", id="landform"):
        with gr.Row():
            upload = gr.File(label="DEM tile (.npy, .npz, GeoTIFF)", type="filepath",
                             file_types=[".npy", ".npz", ".tif", ".tiff"])  # fmt: skip
            with gr.Column():
                example = gr.Dropdown(list(DEM_EXAMPLES), value=next(iter(DEM_EXAMPLES)),
                                      label="...or a bundled tile (used when nothing is uploaded)")  # fmt: skip
                spacing = gr.Number(
                    0, label="grid spacing of a .npy tile (m)", info="0: the model's spacing", minimum=0
                )
                button = gr.Button("Classify", variant="primary")
                explain_button = gr.Button("Explain", elem_id="landform-explain")
        label = gr.Label(label="Landform probabilities", num_top_classes=6, elem_id="landform-probabilities")
        button.click(user_facing(classify_dem, models, limits), [upload, example, spacing], label,
                     api_name="classify_landform")  # fmt: skip
        explanation_text = gr.Markdown(elem_id="landform-explanation")
        explanation = gr.Image(label="Which pixels drove the class (integrated gradients)", type="numpy",
                               format="png")  # fmt: skip
        explain_button.click(user_facing(explain_landform, models, limits), [upload, example, spacing],
                             [explanation, explanation_text], api_name="explain_landform")  # fmt: skip


# tab kind (`DemoDecl.tab`, `geohub.family.DEMO_TABS`) -> its builder `(gr, models, limits, user_facing)`
TAB_BUILDERS: dict[str, Callable] = {"summarize": _summarize_tab, "knowledge": _knowledge_tab, "seismic": _seismic_tab,
                                     "terrain": _terrain_tab, "landform": _landform_tab}  # fmt: skip


def declared_tabs() -> list[str]:
    """The tabs the families declare (`DemoDecl.tab`): the built-in kinds in `DEMO_TABS` order, then families' own
    tab builders (import paths) in quickstart order."""
    from ..auto import demo_slots
    from ..family import DEMO_TABS

    declared = [decl.tab for _, decl in demo_slots().values() if decl.tab]
    return [kind for kind in DEMO_TABS if kind in declared] + list(dict.fromkeys(
        kind for kind in declared if kind not in DEMO_TABS))  # fmt: skip


def _tab_builder(kind: str) -> Callable:
    from ..family import resolve

    return TAB_BUILDERS[kind] if kind in TAB_BUILDERS else resolve(kind)


def api_names() -> dict[str, str]:
    """`API_NAMES` plus the endpoints of families' own tabs (their builder module's `API_NAMES`)."""
    import importlib

    names = dict(API_NAMES)
    for kind in declared_tabs():
        if kind not in TAB_BUILDERS:
            names.update(getattr(importlib.import_module(kind.partition(":")[0]), "API_NAMES", {}))
    return names


def build_demo(
    models: DemoModels | None = None,
    *,
    limits: DemoLimits | None = None,
    concurrency_limit: int = 2,
    max_queue_size: int = 64,
):
    """The demo as a `gr.Blocks` with its queue configured (not launched).

    Args:
        models: where the models come from (default `DemoModels()`: env variables, the quickstart folder, then the
            defaults shipped with geohub).
        limits: input limits (default `DemoLimits()`).
        concurrency_limit: requests run at once per endpoint.
        max_queue_size: requests waiting at most; more are refused with "queue full".
    """
    import gradio as gr

    models = models or DemoModels()
    limits = limits or DemoLimits()
    # delete_cache: every 10 minutes Gradio deletes the uploads and result copies of this app older than an hour
    # (an hour, not less: Gradio reuses a cached copy for identical bytes, e.g. the same terrain seed, and a copy
    # swept while it is being served again drops that download)
    # (and all of them when the server stops), in a cache folder private to this process (Gradio names cached
    # files by content hash, so a shared /tmp/gradio would let another server's clean-up delete our files);
    # geohub's own result folders: `handlers.remove_outputs`
    if "GRADIO_TEMP_DIR" not in os.environ:
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="geohub-demo-gradio-")
        atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], True)
    with gr.Blocks(title="geohub demo", delete_cache=(600, 3600)) as demo:
        gr.Markdown(_INTRO)
        with gr.Accordion("Models", open=False):
            gr.Markdown(models.status_markdown())
        with gr.Tabs():
            for kind in declared_tabs():  # a tab per kind some family declares (`DemoDecl.tab`)
                _tab_builder(kind)(gr, models, limits, _user_facing)
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue_size)
    return demo


def launch_demo(
    models: DemoModels | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    limits: DemoLimits | None = None,
    preload: bool = True,
    prevent_thread_lock: bool = False,
    concurrency_limit: int = 2,
):
    """Load the models (unless `preload` is False), build the demo and serve it on `host:port` (0: a free port).

    Returns `(demo, url)`; blocks until interrupted unless `prevent_thread_lock`."""
    models = models or DemoModels()
    limits = limits or DemoLimits()
    if preload:
        for state in models.load_all().values():
            if state != "ok":
                logger.warning("demo: %s", state)
    demo = build_demo(models, limits=limits, concurrency_limit=concurrency_limit)
    port = free_port(host) if port == 0 else port
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    _, url, _ = demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, max_file_size=limits.max_upload_bytes,
        ssr_mode=False, show_error=True, quiet=True,
    )  # fmt: skip
    url = url or f"http://{host}:{port}/"
    if not prevent_thread_lock:
        print(f"geohub demo on {url} (Ctrl+C stops it)", flush=True)
        demo.block_thread()
    return demo, url
