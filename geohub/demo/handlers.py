"""What each demo endpoint computes, in plain Python (the Gradio layer in `geohub.demo.app` only wires these).

Every handler checks its input against `DemoLimits` and raises a `geohub.errors` exception with a message meant
for the person using the demo; `geohub.demo.app` turns those into `gr.Error` pop-ups. The checks run BEFORE the
expensive step (`geohub.data.limits`: headers and metadata only), so a small hostile upload cannot cost more than
`DemoLimits.max_request_memory_mb` of server memory.

Result files (JSON-LD, DEM downloads) are written under one folder per server process (`output_root()`); Gradio
copies each into its own cache as the request returns, so result folders older than `OUTPUT_MAX_AGE_S` are removed
whenever a new result is written, and the whole folder when the process exits (`remove_outputs`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.limits import (
    MAX_SPACING_M,
    check_count,
    check_decompressed_size,
    check_positive,
    check_resampled_cells,
    check_text,
    check_waveform_span,
)
from ..errors import CorpusError, DataError, GeohubError, HubError, RasterError, WaveformError
from .examples import dem_example, seismic_example
from .models import DemoModels
from .render import figure_to_array, graph_picture

__all__ = [
    "RELATION_COLUMNS",
    "PICK_COLUMNS",
    "DETECTION_COLUMNS",
    "DemoLimits",
    "read_text_input",
    "summarize_text",
    "extract_knowledge",
    "annotate_seismic",
    "SEISMIC_PICKERS",
    "BEST_AVAILABLE_PICKER",
    "seismic_pickers",
    "best_available_picker",
    "tab_slot",
    "choose_picker",
    "generate_dem",
    "classify_dem",
    "output_root",
    "remove_outputs",
]


RELATION_COLUMNS = ("head", "head_label", "relation", "tail", "tail_label", "confidence", "sentence")
PICK_COLUMNS = ("station", "phase", "time (UTC)", "probability")
DETECTION_COLUMNS = ("station", "start (UTC)", "end (UTC)", "probability", "magnitude", "magnitude std")


MAX_LANDFORM_PATCHES = 64  # patches of one uploaded tile that are classified (evenly spread)
OUTPUT_MAX_AGE_S = 600.0  # result files older than this are removed when the next result is written


@dataclass(frozen=True)
class DemoLimits:
    """Input limits of the demo (what one request may ask of a small shared CPU server).

    Memory ceiling: with these limits one request raises the server's resident memory by at most
    `max_request_memory_mb` (512 MB), whatever the input: every limit is checked from headers before the
    expensive step (`.npz` zip directory and `.npy` headers, GeoTIFF metadata, DEM cells AFTER resampling
    computed before resampling, the waveform's span including gaps before merging, gzip/bzip2/xz/zip uploads
    inflated with bounded memory, text length before tokenising). `tests/demo/test_bad_input.py` drives every
    endpoint with its worst small input and measures the server's peak RSS growth against this ceiling.

    Attributes:
        max_text_characters: longest text for Summarize and Knowledge.
        max_waveform_seconds: longest seismic record per station, seconds.
        max_stations: most stations in one seismic upload.
        max_upload_bytes: largest uploaded file, bytes (also Gradio's `max_file_size`).
        max_dem_cells: most cells of an uploaded DEM tile.
        max_terrain_tiles: largest generated DEM side, in the terrain GAN's training patches (8 x 32 cells: 256
            x 256 cells, one continuous region).
        max_decompressed_bytes: largest size a compressed upload (gzip, bzip2, xz, zip/.npz) may inflate to.
        max_request_memory_mb: the documented per-request memory ceiling these limits keep (MB of RSS growth).
        max_explain_steps: most integrated-gradients steps of one "Explain" request (starts at 16, doubles
            until the completeness gap is within 1 % or this cap is reached).
        explain_batch_size: interpolated inputs run through the model at once while explaining (memory bound).
        max_explain_tokens: most sub-word tokens of a text that the Knowledge tab explains (the text's start).
    """

    max_text_characters: int = 20_000
    max_waveform_seconds: float = 600.0
    max_stations: int = 3
    max_upload_bytes: int = 10 * 1024 * 1024
    max_dem_cells: int = 1024 * 1024
    max_terrain_tiles: int = 8
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_request_memory_mb: int = 512
    max_explain_steps: int = 128
    explain_batch_size: int = 8
    max_explain_tokens: int = 128


def _check_upload(path: str | os.PathLike, limits: DemoLimits, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"the uploaded {what} is missing", path=path.name)
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise DataError(
            f"the uploaded {what} is {size / 1e6:.1f} MB, over the demo's limit of {limits.max_upload_bytes / 1e6:.0f} MB",
            path=path.name,
            expected="a smaller file",
        )
    if size == 0:
        raise DataError(f"the uploaded {what} is empty", path=path.name)
    check_decompressed_size(path, limits.max_decompressed_bytes, error=_UPLOAD_ERRORS.get(what, DataError))
    return path


_UPLOAD_ERRORS = {"DEM tile": RasterError, "waveform file": WaveformError, "text file": CorpusError}
check_upload = _check_upload  # public: families' own tabs (geohub/demo/forecast.py) check uploads the same way
_OUTPUT_ROOT: Path | None = None


def output_root() -> Path:
    """The folder of this process's result files (created on first use, removed at exit)."""
    global _OUTPUT_ROOT
    if _OUTPUT_ROOT is None or not _OUTPUT_ROOT.is_dir():
        _OUTPUT_ROOT = Path(tempfile.mkdtemp(prefix="geohub-demo-outputs-"))
        atexit.register(shutil.rmtree, _OUTPUT_ROOT, True)
    return _OUTPUT_ROOT


def remove_outputs(max_age_s: float | None = None) -> int:
    """Remove result folders older than `max_age_s` seconds (every one when None); returns how many."""
    if _OUTPUT_ROOT is None or not _OUTPUT_ROOT.is_dir():
        return 0
    removed, now = 0, time.time()
    for folder in _OUTPUT_ROOT.iterdir():
        try:
            if max_age_s is None or now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # another request removed it first
            continue
    return removed


def _output_file(suffix: str) -> Path:
    remove_outputs(OUTPUT_MAX_AGE_S)
    folder = Path(tempfile.mkdtemp(prefix="result-", dir=output_root()))
    return folder / f"geohub{suffix}"


# --- text ------------------------------------------------------------------------------------------------------
def read_text_input(text: str | None, file_path: str | None, limits: DemoLimits) -> str:
    """The text box's text, or else the uploaded UTF-8 text file's; checked against `max_text_characters`."""
    name = None
    if (not text or not text.strip()) and file_path:
        path = _check_upload(file_path, limits, "text file")
        name = path.name
        size = path.stat().st_size
        if size > 4 * limits.max_text_characters:  # UTF-8: at most 4 bytes a character; checked before reading
            raise CorpusError(f"the uploaded text file is {size:,} bytes, more than the demo's limit of "
                              f"{limits.max_text_characters:,} characters", path=name,
                              expected="an abstract or a few paragraphs")  # fmt: skip
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            raise CorpusError(f"the uploaded file is not UTF-8 text (byte {err.start})", path=name,
                              expected="a plain .txt file") from None  # fmt: skip
    if not text or not str(text).strip():
        raise CorpusError("no text given", field="text", expected="paste an abstract or upload a .txt file")
    return check_text(text, limits.max_text_characters, path=name, limit_name="the demo's limit")


def summarize_text(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None,
                   num_sentences: int = 1) -> str:  # fmt: skip
    """The summary of one text (the extractive model picks `num_sentences` sentences)."""
    from ..inference.text import summarize

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get(tab_slot("summarize"))
    num_sentences = check_count(1 if num_sentences is None else num_sentences, "sentences", 1, 5, error=CorpusError)
    return summarize([text], model=model, tokenizer=tokenizer, num_sentences=num_sentences)[0]


def extract_knowledge(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None):
    """(highlighted text, relation rows, graph picture `(H, W, 3)`, JSON-LD file path) of one text."""
    import pandas as pd

    from ..inference.text import extract

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get(tab_slot("knowledge"))
    try:  # the relation classifier's slot (--relation-model, GEOHUB_RELATION_MODEL); the typed rules without one
        relation_model, relation_tokenizer = models.get(tab_slot("knowledge", role="relations"))
    except HubError:
        relation_model, relation_tokenizer = "rules", None
    graph = extract([text], model=model, tokenizer=tokenizer, ids=["input"], relation_model=relation_model,
                    relation_tokenizer=relation_tokenizer)  # fmt: skip
    spans = []
    for entity in graph.entities():
        for mention in entity["mentions"]:
            if mention.get("doc_id") == "input":
                spans.append({"entity": entity["label"], "start": int(mention["start"]), "end": int(mention["end"])})
    spans.sort(key=lambda s: (s["start"], -s["end"]))
    kept, last_end = [], -1
    for span in spans:  # HighlightedText needs non-overlapping spans
        if span["start"] >= last_end:
            kept.append(span)
            last_end = span["end"]
    rows = [{c: t.get(c) for c in RELATION_COLUMNS} for t in graph.triples()]
    table = pd.DataFrame(rows, columns=list(RELATION_COLUMNS))
    jsonld = _output_file(".jsonld")
    graph.to_jsonld(jsonld)
    return {"text": text, "entities": kept}, table, graph_picture(graph), str(jsonld)


# --- seismic ---------------------------------------------------------------------------------------------------
def _check_waveform(path: Path, limits: DemoLimits) -> None:
    from ..data.waveforms import read_waveforms

    records = read_waveforms(path)  # raises WaveformError on corrupt / unreadable / empty files
    if len(records) > limits.max_stations:
        raise WaveformError(f"the record has {len(records)} stations, over the demo's limit of {limits.max_stations}",
                            path=path.name, expected="fewer stations per file")  # fmt: skip
    for record in records:
        seconds = record.num_samples / record.sampling_rate
        if seconds > limits.max_waveform_seconds:
            raise WaveformError(
                f"station {record.station_id} has {seconds:.0f} s of data, over the demo's limit of "
                f"{limits.max_waveform_seconds:.0f} s",
                path=path.name,
                expected="a shorter record (cut it with ObsPy's Stream.trim)",
            )


def tab_slot(tab: str, role: str = "main") -> str:
    """The demo slot whose family declares `DemoDecl(tab=tab, role=role)` (the first in quickstart order)."""
    from ..auto import demo_slots

    for slot, (_, decl) in demo_slots().items():
        if decl.tab == tab and decl.role == role:
            return slot
    raise HubError(f"no model family declares a {role} model for the demo's {tab} tab", field="demo",
                   expected=f"a family.py with demo=DemoDecl(..., tab={tab!r}, role={role!r})")  # fmt: skip


def seismic_pickers() -> dict[str, str]:
    """The Seismic tab's model choice -> demo slot: every family that declares `DemoDecl(tab="seismic",
    role="picker", choice=...)`, the "best available" ones (by `preference`) first."""
    from ..auto import demo_slots

    pickers = [(decl.preference is None, decl.preference or 0, decl.choice, slot)
               for slot, (_, decl) in demo_slots().items() if decl.tab == "seismic" and decl.role == "picker"]  # fmt: skip
    return {choice: slot for _, _, choice, slot in sorted(pickers)}


def _preferred_pickers() -> list[tuple[str, str]]:
    """(choice, slot) of the pickers "best available" tries, in order."""
    from ..auto import demo_slots

    slots = demo_slots()
    return [(choice, slot) for choice, slot in seismic_pickers().items() if slots[slot][1].preference is not None]


def best_available_picker() -> str:
    """The label of the default choice: "best available (EQTransformer, else geohub U-Net)"."""
    names = [choice.split(" (")[0] for choice, _ in _preferred_pickers()]
    return f"best available ({', else '.join(names)})"


SEISMIC_PICKERS = seismic_pickers()  # at import; `seismic_pickers()` sees families discovered later
BEST_AVAILABLE_PICKER = best_available_picker()


def choose_picker(models: DemoModels, choice: str | None):
    """(model, feature extractor, label) of the chosen picker; the default tries the preferred pickers in order
    (EQTransformer, then the U-Net)."""
    pickers = seismic_pickers()
    if choice and choice != BEST_AVAILABLE_PICKER and choice != best_available_picker():
        if choice not in pickers:
            raise WaveformError(f"unknown picker {choice!r}", field="model",
                                expected=" / ".join([best_available_picker(), *pickers]))  # fmt: skip
        return (*models.get(pickers[choice]), choice)
    preferred = _preferred_pickers()
    for choice, slot in preferred[:-1]:
        try:
            return (*models.get(slot), choice)
        except GeohubError:
            continue
    choice, slot = preferred[-1]
    return (*models.get(slot), choice)


def seismic_input(limits: DemoLimits, file_path: str | None, example: str | None) -> Path:
    """The checked path of the uploaded record (or the bundled example): span, stations and size within limits."""
    if file_path:
        path = _check_upload(file_path, limits, "waveform file")
    elif example:
        try:
            path = seismic_example(example)
        except KeyError as err:
            raise WaveformError(str(err), field="example") from None
    else:
        raise WaveformError("no waveform given", expected="upload a miniSEED/SAC file or pick an example")
    check_waveform_span(path, limits.max_waveform_seconds, max_stations=limits.max_stations,
                        limit_name="the demo's limit")  # headers only, before merging fills gaps  # fmt: skip
    _check_waveform(path, limits)
    return path


def _denoised(models: DemoModels, path: Path):
    """(denoised `obspy.Stream`, Markdown line) of a checked record, by the demo's seismic denoiser
    (`geohub.inference.denoise.denoise`; raises `HubError` naming how to provide one when it is unavailable)."""
    import obspy

    from ..inference.denoise import denoise

    denoiser, denoiser_extractor = models.get(tab_slot("seismic", "denoiser"))
    raw = obspy.read(str(path))
    clean = denoise(raw, denoiser, denoiser_extractor)
    energy = {tr.id: float(np.sum(np.asarray(tr.data, dtype=np.float64) ** 2)) for tr in raw}
    kept = [float(np.sum(np.asarray(tr.data, dtype=np.float64) ** 2)) / energy[tr.id] for tr in clean
            if energy.get(tr.id, 0.0) > 0]  # fmt: skip
    share = (
        f"; it keeps **{100 * np.sqrt(np.median(kept)):.0f} %** of the RMS amplitude (median over channels)"
        if kept
        else ""
    )
    return clean, (f"Denoised first by the **seismic denoiser** (STFT masks): the waveform and the picks are those of "
                   f"the denoised record{share}.")  # fmt: skip


def annotate_seismic(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                     model: str | None = None, denoise: bool = False):  # fmt: skip
    """(waveform picture `(H, W, 3)`, pick rows, detection rows, Markdown summary) of an upload or example, picked
    by `model` (a key of `SEISMIC_PICKERS`; default: EQTransformer when available, else the geohub U-Net); with
    `denoise`, the record is first denoised by the seismic denoiser (the picture shows the denoised waveform)."""
    import pandas as pd

    from ..inference.seismic import annotate, plot_annotation

    path = seismic_input(limits, file_path, example)
    picker, extractor, label = choose_picker(models, model)
    source, denoise_note = _denoised(models, path) if denoise else (str(path), None)
    try:
        magnitude_model, magnitude_extractor = models.get(tab_slot("seismic", "magnitude"))
    except GeohubError:
        magnitude_model = magnitude_extractor = None
    result = annotate(source, picker, magnitude_model, feature_extractor=extractor,
                      magnitude_feature_extractor=magnitude_extractor)  # fmt: skip
    picture = figure_to_array(plot_annotation(result))
    picks = pd.DataFrame(
        [[p.station, p.phase, str(p.time), round(p.probability, 3)] for p in result.picks],
        columns=list(PICK_COLUMNS),
    )
    magnitude_of = {(m.station, str(m.time)): m for m in result.magnitudes}
    rows = []
    for d in result.detections:
        m = magnitude_of.get((d.station, str(d.start)))
        rows.append([d.station, str(d.start), str(d.end), round(d.probability, 3),
                     round(m.magnitude, 2) if m and m.magnitude is not None else None,
                     round(m.uncertainty, 2) if m and m.uncertainty is not None else None])  # fmt: skip
    detections = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    lines = [f"**{sum(p.phase == 'P' for p in result.picks)} P** and **{sum(p.phase == 'S' for p in result.picks)} S** "
             f"picks, **{len(result.detections)}** detection(s) on {len(result.traces)} station(s), "
             f"picked by **{label}**."]  # fmt: skip
    if denoise_note:
        lines.append(denoise_note)
    if magnitude_model is None:
        lines.append("No magnitude model is loaded, so no magnitudes.")
    for m in result.magnitudes:
        if m.magnitude is not None:
            lines.append(f"- {m.station} at {m.time}: **M {m.magnitude:.2f} ± {m.uncertainty:.2f}**")
    return picture, picks, detections, "\n".join(lines)


# --- terrain ---------------------------------------------------------------------------------------------------
def _write_dem(elevation: np.ndarray, spacing_m: float, file_format: str) -> Path:
    from ..inference.terrain import save_dem

    suffixes = {".npy": ".npy", "GeoTIFF": ".tif"}
    if file_format not in suffixes:
        raise RasterError(f"unknown download format {file_format!r}", field="format", expected=".npy or GeoTIFF")
    return save_dem(elevation, _output_file(suffixes[file_format]), spacing_m=spacing_m)


def format_spacing(spacing_m: float) -> str:
    """A grid spacing as people write it: "93 m", "9.3 m", "0.50 m" (never "92.6626 m")."""
    if spacing_m >= 10:
        return f"{spacing_m:.0f} m"
    return f"{spacing_m:.1f} m" if spacing_m >= 1 else f"{spacing_m:.2f} m"


def generate_dem(models: DemoModels, limits: DemoLimits, seed: int, tiles: int = 1, file_format: str = ".npy"):
    """(shaded relief picture, landform-element map, download path, Markdown) of a generated DEM.

    One continuous DEM of `tiles` x `tiles` training patches' extent, seeded by `seed`
    (`geohub.inference.terrain.generate_mosaic`: no seams with a convolutional model), and its geomorphon
    landform elements (`geohub.data.geomorphons`, Jasiewicz & Stepinski 2013)."""
    from ..data.geomorphons import GEOMORPHON_NAMES, geomorphons
    from ..inference.terrain import generate_mosaic
    from .render import landform_picture, relief_picture

    tiles = check_count(1 if tiles is None else tiles, "size", 1, limits.max_terrain_tiles, error=RasterError)
    seed = check_count(0 if seed is None else seed, "seed", 0, 2**31 - 1, error=RasterError)
    model, processor = models.get(tab_slot("terrain"))
    elevation = generate_mosaic(model, tiles, seed=seed, processor=processor)
    spacing = float(processor.spacing_m)
    rows, cols = elevation.shape
    where = f"seed {seed}: {rows} x {cols} cells of {format_spacing(spacing)}"
    relief = relief_picture(elevation, spacing, title=f"{where} (sun from the north-west)")
    search = min(10, max(1, min(rows, cols) // 4))  # 10 cells (~1 km at 93 m), less on a small DEM
    codes = geomorphons(elevation, spacing, search_cells=search, flat_degrees=1.0)
    landforms = landform_picture(codes, spacing, GEOMORPHON_NAMES, title="landform elements (geomorphons)")
    path = _write_dem(elevation, spacing, file_format)
    text = (f"{rows} x {cols} cells at {format_spacing(spacing)} ({rows * spacing / 1000:.1f} x "
            f"{cols * spacing / 1000:.1f} km); elevation {elevation.min():.0f} to {elevation.max():.0f} m "
            f"(relief {np.ptp(elevation):.0f} m). Landform elements: geomorphons (Jasiewicz & Stepinski 2013), "
            f"each cell looking {search} cells out, flat below 1 degree.")  # fmt: skip
    return relief, landforms, str(path), text


def classify_dem(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                 spacing_m: float | None = None) -> dict[str, float]:  # fmt: skip
    """Class probabilities `{landform: p}` of an uploaded DEM tile (.npy, .npz or GeoTIFF) or a bundled example.

    `geohub.inference.terrain.classify_landform` (what the pipeline computes too): the tile is resampled to the
    model's grid spacing and cut into model-sized patches (at most `MAX_LANDFORM_PATCHES`, evenly spread) whose
    probabilities are averaged. `spacing_m` is needed for .npy tiles (None or 0: the model's spacing)."""
    from ..inference.terrain import classify_landform

    path, dem, model, processor = landform_input(models, limits, file_path, example, spacing_m)
    try:
        return classify_landform(model, dem, processor=processor, max_patches=MAX_LANDFORM_PATCHES)
    except RasterError as err:
        raise RasterError(err.message, path=path.name, field=err.field, expected=err.expected) from None


def landform_input(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None,
                   spacing_m: float | None):  # fmt: skip
    """(path, DEM, landform model, processor) of an upload or bundled tile, checked against the limits (the
    resampled size before resampling)."""
    from ..data.dem import read_dem

    if file_path:
        path = _check_upload(file_path, limits, "DEM tile")
    elif example:
        try:
            path = dem_example(example)
        except KeyError as err:
            raise RasterError(str(err), field="example") from None
    else:
        raise RasterError("no DEM tile given", expected="upload a .npy/.npz/GeoTIFF tile or pick an example")
    if spacing_m is not None and spacing_m != 0:
        spacing_m = check_positive(spacing_m, "spacing_m", MAX_SPACING_M, error=RasterError)
    model, processor = models.get(tab_slot("landform"))
    model_spacing = float(processor.spacing_m)
    bare_array = path.suffix.lower() in (".npy", ".npz")
    dem = read_dem(
        path, spacing_m=(spacing_m or model_spacing) if bare_array else None, max_cells=limits.max_dem_cells
    )
    check_resampled_cells(dem.elevation.shape, dem.spacing_m, model_spacing, limits.max_dem_cells, path=path.name,
                          limit_name="the demo's limit")  # before square_cells and resample allocate  # fmt: skip
    return path, dem, model, processor
