"""`geohub explain MODEL_DIR INPUT`: explanations of whole input files by a saved model (`explain_file`, re-exported by
`geohub.explain`): each model kind's reader (waveform file, DEM tile, text, .npy latent or seed) and the JSON."""

from __future__ import annotations

import numpy as np
import torch

from .core import METHODS, ExplainError, explain, explain_hook
from .raster import explain_landform_patch
from .text import explain_entity, explain_summary
from .waveform import explain_stream, explain_strongest_p

__all__ = ["explain_file"]


def _terrain_latent(model, path, seed: int | None) -> torch.Tensor:
    """`(1, *latent_shape)`: drawn as `generate(1, seed=seed)` draws it, or read from a .npy file (a vector
    `(latent_dim,)`, or a latent field `(latent_dim, h, w)` for a convolutional terrain GAN)."""
    from ..errors import DataError

    shape = tuple(getattr(model.config, "latent_shape", (int(model.config.latent_dim),)))
    size, wanted = int(np.prod(shape)), "x".join(map(str, shape))
    if path is None:
        return model.sample_latents(1, torch.Generator().manual_seed(int(seed)))
    try:
        latent = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(
            f"not a .npy array ({err})", path=path, expected=f"a .npy latent of {wanted} floats"
        ) from None
    if latent.size != size or latent.ndim > len(shape) + 1 or not np.issubdtype(latent.dtype, np.number):
        raise DataError(f"latent of shape {latent.shape} ({latent.dtype})", path=path,
                        expected=f"a .npy latent of {size} numbers, shape {shape} or (1, *{shape})")  # fmt: skip
    if not np.isfinite(latent).all():
        raise DataError("the latent holds NaN or infinite values", path=path, expected="finite numbers")
    return torch.as_tensor(latent, dtype=torch.float32).reshape(1, *shape)


def _read_text_file(path) -> str:
    from ..errors import CorpusError

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"not UTF-8 text (byte {err.start})", path=path, expected="a plain UTF-8 .txt file"
        ) from None
    if not text.strip():
        raise CorpusError("the text file is empty", path=path, expected="a text naming geological entities")
    return text


def _json_number(value):
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def _read_latent(model, processor, path, settings, seed, **_):
    latent = _terrain_latent(model, path, seed)
    e = explain(model, {"latents": latent}, **settings)
    return e, {"kind": "terrain", "seed": seed, "latent": latent[0].tolist()}


def _read_summary(model, processor, path, settings, **_):
    e = explain_summary(model, processor, _read_text_file(path), **settings)
    sentences = e.extra["sentences"]
    return e, {"kind": "summary", "sentence": e.target_index, "sentence_text": sentences[e.target_index],
               "sentences": sentences}  # fmt: skip


def _read_strongest_p(model, processor, path, settings, **_):
    e = explain_strongest_p(str(path), model, processor, **settings)
    return e, {"kind": "seismic", "explained": e.extra["which"], "station_id": e.extra["station_id"],
               "window_start": str(e.extra["starttime"]), "sampling_rate": e.extra["sampling_rate"],
               "pick_sample": e.extra["pick_sample"], "share_near_pick": e.extra["share_near_pick"],
               "component_order": getattr(processor, "component_order", None)}  # fmt: skip


def _read_first_window(model, processor, path, settings, **_):
    e = explain_stream(str(path), model, processor, **settings)
    return e, {"kind": "seismic", "station_id": e.extra["station_id"], "window_start": str(e.extra["starttime"]),
               "sampling_rate": e.extra["sampling_rate"]}  # fmt: skip


def _read_dem(model, processor, path, settings, spacing_m=None, **_):
    from ..data.dem import read_dem

    bare = path.suffix.lower() in (".npy", ".npz")
    dem = read_dem(path, spacing_m=(spacing_m or float(processor.spacing_m)) if bare else spacing_m)
    e = explain_landform_patch(model, processor, dem, **settings)
    return e, {"kind": "landform", "label": e.extra["label"], "probability": e.extra["probability"],
               "patch_index": e.extra["patch_index"], "num_patches": e.extra["num_patches"],
               "spacing_m": e.extra["spacing_m"]}  # fmt: skip


def _read_entity(model, processor, path, settings, entity=1, max_tokens=512, **_):
    e = explain_entity(model, processor, _read_text_file(path), entity=entity, max_tokens=max_tokens, **settings)
    return e, {"kind": "text", "entity": e.extra["entity"], "num_entities": e.extra["num_entities"],
               "phrase": e.extra["phrase"], "entity_type": e.extra["kind"], "offsets": e.extra["offsets"],
               "special_tokens": e.extra["special"]}  # fmt: skip


#: How `geohub explain` reads an input file, by the `FILE_READER` a family's explain hook declares: a picker's
#: strongest P pick of a waveform file, the first window of a waveform file, a DEM tile, a text file (an entity or
#: the extractive summary), or a .npy latent / `--seed` (latent-input models).
READERS = {"strongest_p": _read_strongest_p, "first_window": _read_first_window, "dem": _read_dem,
           "summary": _read_summary, "entity": _read_entity, "latent": _read_latent}  # fmt: skip


def _explain_input(model, processor, path, *, entity: int, spacing_m: float | None, max_tokens: int, settings: dict,
                   seed: int | None = None):  # fmt: skip
    """(Explanation, JSON-ready context) of one input file (or, for latent-input models, `seed`), read by the reader
    that the model family's explain hook names."""
    model_type = getattr(model.config, "model_type", None)
    try:
        reader = READERS[explain_hook(model).FILE_READER]
    except (ExplainError, AttributeError, KeyError):
        raise ExplainError(f"`geohub explain` has no input reader for model type {model_type!r}", field="model",
                           expected="a model whose family's explain hook declares FILE_READER (one of "
                           f"{', '.join(READERS)})") from None  # fmt: skip
    if seed is not None and reader is not _read_latent:
        raise ExplainError("--seed is for the terrain GAN only (models whose input is a latent vector)", field="seed",
                           expected=f"an input file for model type {model_type!r}")  # fmt: skip
    return reader(model, processor, path, settings, seed=seed, entity=entity, spacing_m=spacing_m,
                  max_tokens=max_tokens)  # fmt: skip


def explain_file(model_dir, input_path=None, *, method: str = "integrated_gradients", n_steps: int = 32,
                 max_steps: int = 4096, entity: int = 1, spacing_m: float | None = None, max_tokens: int = 512,
                 seed: int | None = None) -> dict:  # fmt: skip
    """What `geohub explain` writes: the explanation of one input file by a saved model, as a JSON-ready dict.

    The input is read by the model's kind: an ObsPy-readable waveform file for seismic models (a picker: the P
    probability at the strongest P pick of the first station; magnitude/denoiser: the first window), a DEM tile
    (.npy/.npz at `spacing_m`, default the model's, or GeoTIFF) for the landform model, a UTF-8 text file for a
    token classifier (entity number `entity`) or the extractive summarizer (its best sentence's score per sentence;
    `sentences` lists them), and for the terrain GAN a .npy latent vector `(latent_dim,)` or, instead of a file,
    `seed` (the latent `generate(1, seed=seed)` draws). Arguments are checked before the model is loaded."""
    from pathlib import Path

    from ..errors import DataError
    from ..inference.loading import load_model_and_processor

    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}", field="method", expected=", ".join(METHODS))
    if not 1 <= int(n_steps) <= int(max_steps):
        raise ExplainError(f"steps {n_steps} (max {max_steps})", field="steps", expected="1 <= steps <= max steps")
    if (input_path is None) == (seed is None):
        raise ExplainError("give an input file or --seed (the terrain GAN), not both" if seed is not None else
                           "no input file given", field="input",
                           expected="INPUT (waveform, DEM, text or .npy latent file), or --seed N for the terrain GAN")  # fmt: skip
    path = None if input_path is None else Path(input_path)
    if path is not None and not path.is_file():
        raise DataError("input file not found", path=path,
                        expected="a waveform file, a DEM tile, a text file or a .npy latent")  # fmt: skip
    if seed is not None:
        from ..data.limits import check_seed

        seed = check_seed(seed)
    model, processor = load_model_and_processor(model_dir)
    settings = {"method": method, "n_steps": int(n_steps), "max_steps": int(max_steps)}
    e, context = _explain_input(model, processor, path, entity=entity, spacing_m=spacing_m, max_tokens=max_tokens,
                                settings=settings, seed=seed)  # fmt: skip
    target_index = e.target_index
    return {"model": str(model_dir), "input": None if path is None else str(path), "model_type": getattr(model.config, "model_type", None),
            "method": e.method, "steps": e.n_steps, "target": e.target,
            "target_index": list(target_index) if isinstance(target_index, tuple) else target_index,
            "output": e.output, "baseline_output": _json_number(e.baseline_output),
            "completeness_gap": _json_number(e.completeness_gap),
            "relative_completeness_gap": _json_number(e.relative_completeness_gap if e.n_steps else None),
            "shape": list(e.attributions.shape), "attributions": e.attributions.tolist(), "tokens": e.tokens,
            **context}  # fmt: skip
