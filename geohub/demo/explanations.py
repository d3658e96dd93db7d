"""The demo's "Explain" buttons: which input samples, pixels or tokens drove a prediction (`geohub.explain`).

Each handler takes the same input as its tab's main endpoint, runs the model once to find what to explain, then
calls `geohub.explain` (integrated gradients, 16 steps doubling up to `DemoLimits.max_explain_steps` until the
completeness gap is within 1 %, `DemoLimits.explain_batch_size` interpolated inputs at a time, so one request's
memory stays bounded):

- Seismic (`explain_seismic`): the P probability at the strongest P pick of the first station (without a pick:
  at its highest P probability), over the model window centred on it, from the record's own noise level
  (`geohub.explain.waveform.BASELINE`); per-sample attributions under the waveform, over the record's own span
  (a short record's zero padding is neither drawn nor credited); the text says how much of the attribution lies
  within 1 s of the pick and, when that is not most of it, where the rest lies and why.
- Landform (`explain_landform`): the logit of the tile's predicted class on its most typical patch; per-pixel
  attributions over the patch's elevation.
- Knowledge (`explain_knowledge`): the tagger's logit of the label of the chosen entity (1 = first) at its first
  token; one score per token of the text's first `max_explain_tokens` tokens, for `gr.HighlightedText`.
"""

from __future__ import annotations

import numpy as np

from ..explain import token_entities
from .handlers import (
    MAX_LANDFORM_PATCHES,
    DemoLimits,
    choose_picker,
    landform_input,
    read_text_input,
    seismic_input,
    tab_slot,
)
from .models import DemoModels
from .render import attribution_overlay_picture, attribution_waveform_picture

__all__ = ["explain_seismic", "explain_landform", "explain_knowledge", "token_entities"]

FIRST_STEPS = 16  # integrated-gradients steps of the first try (doubled while the completeness gap is over 1 %)


def _settings(limits: DemoLimits) -> dict:
    return {"n_steps": min(FIRST_STEPS, limits.max_explain_steps), "max_steps": limits.max_explain_steps,
            "internal_batch_size": limits.explain_batch_size}  # fmt: skip


def _completeness(explanation) -> str:
    return (f"attributions add up to f(x) - f(baseline) = {explanation.output - explanation.baseline_output:.4g} "
            f"within {100 * explanation.relative_completeness_gap:.2g} % ({explanation.n_steps} integration steps)")  # fmt: skip


# --- seismic ---------------------------------------------------------------------------------------------------
def explain_seismic(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                    model: str | None = None):  # fmt: skip
    """(picture `(H, W, 3)`, Markdown) of the attribution of the strongest P pick of the first station
    (`geohub.explain.explain_strongest_p`, what `geohub explain` computes too)."""
    from ..explain import explain_strongest_p

    path = seismic_input(limits, file_path, example)
    picker, extractor, label = choose_picker(models, model)
    explanation = explain_strongest_p(str(path), picker, extractor, **_settings(limits))
    extra = explanation.extra
    rate, window = float(extractor.sampling_rate), int(extractor.window_length)
    picture = attribution_waveform_picture(
        extra["inputs"], explanation.attributions, rate, marker=extra["pick_sample"],
        component_order=getattr(extractor, "component_order", None),
        title=f"{extra['station_id']}: integrated gradients of the {explanation.target} ({label})",
        xlabel=f"seconds after {extra['starttime']}",
    )  # fmt: skip
    text = (f"Explained: {extra['which']}. **{explanation.target}** = {explanation.output:.3f} on the {window / rate:g} s "
            f"window of {extra['station_id']} starting {extra['starttime']} (picked by **{label}**); "
            f"{_completeness(explanation)}. {_span_note(extra, rate, window)}Baseline: {extra['baseline']}. "
            f"{_share_note(extra)} Positive (above zero): samples that raise the P probability.")  # fmt: skip
    return picture, text


def _span_note(extra: dict, rate: float, window: int) -> str:
    """What the picture shows when the record is shorter than the model window (the padding is not drawn)."""
    shown = extra["inputs"].shape[-1]
    if shown >= window:
        return ""
    return (
        f"The record is {shown / rate:g} s long: the model saw it zero-padded to its {window / rate:g} s window; "
        f"the picture shows the record's own span only (the padding gets no attribution). "
    )


def _share_note(extra: dict) -> str:
    """Where the attribution mass lies, and plainly why when most of it is not within 1 s of the pick."""
    near, before, after = (100 * extra[k] for k in ("share_near_pick", "share_before_pick", "share_after_pick"))
    text = f"**{near:.0f} %** of the total |attribution| lies within 1 s of the pick"
    if near >= 50:
        return text + "."
    return (
        text + f", {before:.0f} % earlier and {after:.0f} % later: not most of it, because the model's P "
        "probability depends on more than the onset: on the noise before it (what the onset stands out from) and "
        "on the P coda after it."
    )


# --- landform --------------------------------------------------------------------------------------------------
def explain_landform(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                     spacing_m: float | None = None):  # fmt: skip
    """(picture `(H, W, 3)`, Markdown) of the per-pixel attribution of the tile's predicted class on the patch
    that shows it most clearly (`geohub.explain.explain_landform_patch`)."""
    from ..explain import explain_landform_patch

    _, dem, model, processor = landform_input(models, limits, file_path, example, spacing_m)
    explanation = explain_landform_patch(model, processor, dem, max_patches=MAX_LANDFORM_PATCHES, **_settings(limits))
    extra, name = explanation.extra, explanation.extra["label"]
    picture = attribution_overlay_picture(extra["patch"], explanation.attributions, extra["spacing_m"],
                                          title=f"why '{name}': integrated gradients per pixel")  # fmt: skip
    text = (f"Patch {extra['patch_index'] + 1} of {extra['num_patches']} (P({name}) = {extra['probability']:.2f}; the "
            f"tile's class is **{name}**): red pixels raise the **{explanation.target}**, blue ones lower it, relative "
            f"to a flat patch; {_completeness(explanation)}.")  # fmt: skip
    from ..data.geomorphons import LANDFORM_CLASS_MEANINGS

    if name in LANDFORM_CLASS_MEANINGS:  # the geomorphon-defined classes of the shipped default
        text += f" *{name}*: {LANDFORM_CLASS_MEANINGS[name]}."
    return picture, text


# --- knowledge -------------------------------------------------------------------------------------------------
def explain_knowledge(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None,
                      entity: int | None = 1):  # fmt: skip
    """(highlighted text `{"text", "entities"}` with one score in [-1, 1] per token, Markdown) of the tagger's
    entity number `entity` (1-based, in text order) within the text's first `max_explain_tokens` tokens
    (`geohub.explain.explain_entity`)."""
    from ..explain import explain_entity

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get(tab_slot("knowledge"))
    explanation = explain_entity(model, tokenizer, text, entity=int(entity or 1), max_tokens=limits.max_explain_tokens,
                                 **_settings(limits))  # fmt: skip
    extra = explanation.extra
    scores = explanation.attributions / max(float(np.abs(explanation.attributions).max()), 1e-30)
    pieces, end = [], 0
    for (a, b), score, skip in zip(extra["offsets"], scores, extra["special"]):
        if skip or b <= a:
            continue
        pieces.append({"entity": round(float(score), 3), "start": a, "end": b})
        end = b
    shown = text[:end]
    note = f" (the explanation covers the first {len(shown):,} characters)" if len(shown) < len(text.rstrip()) else ""
    markdown = (f"Entity {extra['entity']} of {extra['num_entities']}: **{extra['phrase']}** ({extra['kind']}); "
                f"explained: the **{explanation.target}**. Red tokens raise it, blue ones lower it (scaled to the "
                f"largest |attribution|), relative to [PAD] tokens; {_completeness(explanation)}{note}.")  # fmt: skip
    return _highlights(shown, pieces), markdown


def _highlights(text: str, pieces: list[dict]) -> list[tuple[str, float | None]]:
    """`gr.HighlightedText` value: the text cut into (piece, score or None) covering it exactly once."""
    value, end = [], 0
    for piece in pieces:
        if piece["start"] > end:
            value.append((text[end : piece["start"]], None))
        value.append((text[piece["start"] : piece["end"]], piece["entity"]))
        end = piece["end"]
    if end < len(text):
        value.append((text[end:], None))
    return value
