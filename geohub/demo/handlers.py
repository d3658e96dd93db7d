"""What each demo endpoint computes, in plain Python (the Gradio layer in `geohub.demo.app` only wires these).

Every handler checks its input against `DemoLimits` and raises a `geohub.errors` exception with a message meant
for the person using the demo; `geohub.demo.app` turns those into `gr.Error` pop-ups.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CorpusError, DataError, GeohubError, RasterError, WaveformError
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
    "generate_dem",
    "classify_dem",
]


RELATION_COLUMNS = ("head", "head_label", "relation", "tail", "tail_label", "confidence", "sentence")
PICK_COLUMNS = ("station", "phase", "time (UTC)", "probability")
DETECTION_COLUMNS = ("station", "start (UTC)", "end (UTC)", "probability", "magnitude", "magnitude std")


MAX_LANDFORM_PATCHES = 64  # patches of one uploaded tile that are classified (evenly spread)


@dataclass(frozen=True)
class DemoLimits:
    """Input limits of the demo (what one request may ask of a small shared CPU server).

    Attributes:
        max_text_characters: longest text for Summarize and Knowledge.
        max_waveform_seconds: longest seismic record per station, seconds.
        max_stations: most stations in one seismic upload.
        max_upload_bytes: largest uploaded file, bytes (also Gradio's `max_file_size`).
        max_dem_cells: most cells of an uploaded DEM tile.
        max_terrain_tiles: largest mosaic side (tiles) of the terrain generator.
    """

    max_text_characters: int = 20_000
    max_waveform_seconds: float = 600.0
    max_stations: int = 3
    max_upload_bytes: int = 10 * 1024 * 1024
    max_dem_cells: int = 1024 * 1024
    max_terrain_tiles: int = 4


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
    return path


def _output_file(suffix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="geohub-demo-"))
    return folder / f"geohub{suffix}"


# --- text ------------------------------------------------------------------------------------------------------
def read_text_input(text: str | None, file_path: str | None, limits: DemoLimits) -> str:
    """The text box's text, or else the uploaded UTF-8 text file's; checked against `max_text_characters`."""
    if (not text or not text.strip()) and file_path:
        raw = _check_upload(file_path, limits, "text file").read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorpusError("the uploaded file is not UTF-8 text", path=Path(file_path).name,
                              expected="a plain .txt file") from None  # fmt: skip
    if not text or not text.strip():
        raise CorpusError("no text given", field="text", expected="paste an abstract or upload a .txt file")
    if len(text) > limits.max_text_characters:
        raise CorpusError(
            f"the text has {len(text):,} characters, over the demo's limit of {limits.max_text_characters:,}",
            field="text",
            expected="an abstract or a few paragraphs",
        )
    return text


def summarize_text(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None,
                   num_sentences: int = 1) -> str:  # fmt: skip
    """The summary of one text (the extractive model picks `num_sentences` sentences)."""
    from ..inference.text import summarize

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get("summarization")
    num_sentences = int(min(max(int(num_sentences or 1), 1), 5))
    return summarize([text], model=model, tokenizer=tokenizer, num_sentences=num_sentences)[0]


def extract_knowledge(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None):
    """(highlighted text, relation rows, graph picture `(H, W, 3)`, JSON-LD file path) of one text."""
    import pandas as pd

    from ..inference.text import extract

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get("knowledge_extraction")
    graph = extract([text], model=model, tokenizer=tokenizer, ids=["input"])
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


def annotate_seismic(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None):
    """(waveform picture `(H, W, 3)`, pick rows, detection rows, Markdown summary) of an upload or example."""
    import pandas as pd

    from ..inference.seismic import annotate, plot_annotation

    if file_path:
        path = _check_upload(file_path, limits, "waveform file")
    elif example:
        try:
            path = seismic_example(example)
        except KeyError as err:
            raise WaveformError(str(err), field="example") from None
    else:
        raise WaveformError("no waveform given", expected="upload a miniSEED/SAC file or pick an example")
    _check_waveform(path, limits)
    picker, extractor = models.get("seismic_picking")
    try:
        magnitude_model, magnitude_extractor = models.get("seismic_magnitude")
    except GeohubError:
        magnitude_model = magnitude_extractor = None
    result = annotate(str(path), picker, magnitude_model, feature_extractor=extractor,
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
                     round(m.magnitude, 2) if m else None, round(m.uncertainty, 2) if m else None])  # fmt: skip
    detections = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    lines = [f"**{sum(p.phase == 'P' for p in result.picks)} P** and **{sum(p.phase == 'S' for p in result.picks)} S** "
             f"picks, **{len(result.detections)}** detection(s) on {len(result.traces)} station(s)."]  # fmt: skip
    if magnitude_model is None:
        lines.append("No magnitude model is loaded, so no magnitudes.")
    for m in result.magnitudes:
        lines.append(f"- {m.station} at {m.time}: **M {m.magnitude:.2f} ± {m.uncertainty:.2f}**")
    return picture, picks, detections, "\n".join(lines)


# --- terrain ---------------------------------------------------------------------------------------------------
def mosaic(patches: np.ndarray, tiles: int, overlap: int) -> np.ndarray:
    """Lay `tiles * tiles` patches `(N, S, S)` on a grid, cross-fading linearly over `overlap` cells.

    Returns `(tiles * (S - overlap) + overlap,)*2` float32 metres."""
    size = patches.shape[-1]
    step = size - overlap
    side = tiles * step + overlap
    ramp = np.ones(size, dtype=np.float64)
    if overlap:
        edge = (np.arange(overlap) + 1.0) / (overlap + 1.0)
        ramp[:overlap], ramp[-overlap:] = edge, edge[::-1]
    weight_2d = np.outer(ramp, ramp)
    total = np.zeros((side, side))
    weight = np.zeros((side, side))
    for index in range(tiles * tiles):
        row, col = divmod(index, tiles)
        window = (slice(row * step, row * step + size), slice(col * step, col * step + size))
        total[window] += patches[index] * weight_2d
        weight[window] += weight_2d
    return (total / weight).astype(np.float32)


def _write_dem(elevation: np.ndarray, spacing_m: float, file_format: str) -> Path:
    from ..inference.terrain import save_dem

    suffixes = {".npy": ".npy", "GeoTIFF": ".tif"}
    if file_format not in suffixes:
        raise RasterError(f"unknown download format {file_format!r}", field="format", expected=".npy or GeoTIFF")
    return save_dem(elevation, _output_file(suffixes[file_format]), spacing_m=spacing_m)


def generate_dem(models: DemoModels, limits: DemoLimits, seed: int, tiles: int = 1, file_format: str = ".npy"):
    """(hillshade picture, elevation colour map, download path, Markdown) of a generated DEM.

    `tiles` x `tiles` GAN patches (seeded by `seed`) are cross-faded into one DEM."""
    from ..inference.terrain import generate_terrain, hillshade
    from .render import elevation_picture, hillshade_picture

    tiles = int(tiles or 1)
    if not 1 <= tiles <= limits.max_terrain_tiles:
        raise RasterError(f"size of {tiles} tiles per side", field="size", expected=f"1 to {limits.max_terrain_tiles}")
    seed = int(seed or 0)
    if not 0 <= seed < 2**31:
        raise RasterError(f"seed {seed}", field="seed", expected="an integer in [0, 2^31)")
    model, processor = models.get("terrain_gan")
    patches = generate_terrain(model, tiles * tiles, seed=seed, processor=processor)
    overlap = patches.shape[-1] // 4 if tiles > 1 else 0
    elevation = mosaic(patches, tiles, overlap)
    spacing = float(processor.spacing_m)
    shade = hillshade_picture(hillshade(elevation, spacing), spacing, title="hillshade (sun from the north-west)")
    colour = elevation_picture(
        elevation, spacing, title=f"seed {seed}: {elevation.shape[0]} x {elevation.shape[1]} cells"
    )
    path = _write_dem(elevation, spacing, file_format)
    text = (f"{elevation.shape[0]} x {elevation.shape[1]} cells at {spacing:g} m; elevation "
            f"{elevation.min():.0f} to {elevation.max():.0f} m (relief {np.ptp(elevation):.0f} m).")  # fmt: skip
    return shade, colour, str(path), text


def classify_dem(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                 spacing_m: float | None = None) -> dict[str, float]:  # fmt: skip
    """Class probabilities `{landform: p}` of an uploaded DEM tile (.npy, .npz or GeoTIFF) or a bundled example.

    The tile is resampled to the model's grid spacing and cut into model-sized patches (at most
    `MAX_LANDFORM_PATCHES`, evenly spread), each classified by `geohub.inference.terrain.classify_landform`; the
    probabilities are averaged. `spacing_m` is needed for .npy tiles (None or 0: the model's spacing)."""
    from ..data.dem import read_dem, tile_dem
    from ..inference.terrain import classify_landform

    if file_path:
        path = _check_upload(file_path, limits, "DEM tile")
    elif example:
        try:
            path = dem_example(example)
        except KeyError as err:
            raise RasterError(str(err), field="example") from None
    else:
        raise RasterError("no DEM tile given", expected="upload a .npy/.npz/GeoTIFF tile or pick an example")
    model, processor = models.get("landform")
    model_spacing = float(processor.spacing_m)
    bare_array = path.suffix.lower() in (".npy", ".npz")
    dem = read_dem(path, spacing_m=(float(spacing_m or 0) or model_spacing) if bare_array else None)
    if dem.elevation.size > limits.max_dem_cells:
        raise RasterError(f"the tile has {dem.elevation.size:,} cells, over the demo's limit of {limits.max_dem_cells:,}",
                          path=path.name, expected="a smaller tile")  # fmt: skip
    square = dem.square_cells()
    elevation = processor.resample(square.elevation, float(square.spacing_m[0]))
    size = int(model.config.image_size)
    if min(elevation.shape) < size:
        raise RasterError(f"the tile is {elevation.shape[0]} x {elevation.shape[1]} cells at {model_spacing:g} m",
                          path=path.name, expected=f"at least {size} x {size} cells at {model_spacing:g} m")  # fmt: skip
    patches = tile_dem(elevation, size, size)
    if len(patches) > MAX_LANDFORM_PATCHES:
        patches = patches[np.linspace(0, len(patches) - 1, MAX_LANDFORM_PATCHES).round().astype(int)]
    scores = [classify_landform(model, patch, spacing_m=model_spacing, processor=processor) for patch in patches]
    return {label: float(np.mean([s[label] for s in scores])) for label in scores[0]}
