"""The demo's "Explain" buttons: which input samples, pixels or tokens drove a prediction (`geohub.explain`).

Each handler takes the same input as its tab's main endpoint, runs the model once to find what to explain, then
calls `geohub.explain` (integrated gradients, 16 steps doubling up to `DemoLimits.max_explain_steps` until the
completeness gap is within 1 %, `DemoLimits.explain_batch_size` interpolated inputs at a time, so one request's
memory stays bounded):

- Seismic (`explain_seismic`): the P probability at the strongest P pick of the first station (without a pick:
  at its highest P probability), over the model window centred on it; per-sample attributions under the waveform.
- Landform (`explain_landform`): the logit of the tile's predicted class on its most typical patch; per-pixel
  attributions over the patch's elevation.
- Knowledge (`explain_knowledge`): the tagger's logit of the label of the chosen entity (1 = first) at its first
  token; one score per token of the text's first `max_explain_tokens` tokens, for `gr.HighlightedText`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import CorpusError, WaveformError
from .handlers import MAX_LANDFORM_PATCHES, DemoLimits, _seismic_picker, landform_input, read_text_input, seismic_input
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
def _best_p(annotation) -> tuple[float, str]:
    """(seconds after the first station's start, what it is) of its strongest P pick; without one, of its highest
    P probability (a per-window model: that window's centre)."""
    trace = annotation.traces[0]
    picks = [p for p in annotation.picks if p.phase == "P" and p.station == trace.station]
    if picks:
        best = max(picks, key=lambda p: p.probability)
        return float(best.time - trace.starttime), f"the strongest of {len(picks)} P pick(s)"
    row = trace.row("P")
    if row is None:
        raise WaveformError("the picker gives no P probability", field="model", expected="a P/S phase picker")
    return float(trace.output_times()[int(np.argmax(row))]), "no P pick above the threshold: the highest P probability"


def explain_seismic(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                    model: str | None = None):  # fmt: skip
    """(picture `(H, W, 3)`, Markdown) of the attribution of the strongest P pick of the first station."""
    from ..explain import explain_stream
    from ..inference.seismic import annotate

    path = seismic_input(limits, file_path, example)
    picker, extractor, label = _seismic_picker(models, model)
    annotation = annotate(str(path), picker, feature_extractor=extractor)
    trace = annotation.traces[0]
    rate, window = float(extractor.sampling_rate), int(extractor.window_length)
    seconds, which = _best_p(annotation)
    pick_sample = int(round(seconds * rate))
    start = int(np.clip(pick_sample - window // 2, 0, max(trace.waveforms.shape[-1] - window, 0)))
    per_window = picker.config.model_type == "geohub_gpd"
    target = int(picker.config.label2id["P"]) if per_window else int(np.clip(pick_sample - start, 0, window - 1))
    explanation = explain_stream(str(path), picker, extractor, start_sample=start, target=target, phase="P",
                                 **_settings(limits))  # fmt: skip
    attributions = explanation.attributions
    near = np.abs(np.arange(attributions.shape[-1]) - (pick_sample - start)) <= rate  # within 1 s of the pick
    share = float(np.abs(attributions[:, near]).sum() / max(np.abs(attributions).sum(), 1e-30))
    picture = attribution_waveform_picture(
        explanation.extra["inputs"], attributions, rate, marker=pick_sample - start,
        component_order=getattr(extractor, "component_order", None),
        title=f"{explanation.extra['station_id']}: integrated gradients of the {explanation.target} ({label})",
        xlabel=f"seconds after {explanation.extra['starttime']}",
    )  # fmt: skip
    text = (f"Explained: {which}. **{explanation.target}** = {explanation.output:.3f} on the {window / rate:g} s window of "
            f"{explanation.extra['station_id']} starting {explanation.extra['starttime']} (picked by **{label}**); "
            f"{_completeness(explanation)}. **{100 * share:.0f} %** of the total |attribution| lies within 1 s of "
            f"the pick. Positive (above zero): samples that raise the P probability.")  # fmt: skip
    return picture, text


# --- landform --------------------------------------------------------------------------------------------------
def explain_landform(models: DemoModels, limits: DemoLimits, file_path: str | None, example: str | None = None,
                     spacing_m: float | None = None):  # fmt: skip
    """(picture `(H, W, 3)`, Markdown) of the per-pixel attribution of the tile's predicted class on the patch
    that shows it most clearly."""
    from ..explain import explain
    from ..inference.terrain import landform_patches

    _, dem, model, processor = landform_input(models, limits, file_path, example, spacing_m)
    patches = landform_patches(dem, processor, int(model.config.image_size), max_patches=MAX_LANDFORM_PATCHES)
    pixel_values = processor(patches)["pixel_values"].to(model.device)
    with torch.no_grad():
        probabilities = model(pixel_values=pixel_values).logits.float().softmax(-1)
    label = int(probabilities.mean(0).argmax())
    best = int(probabilities[:, label].argmax())
    explanation = explain(model, {"pixel_values": pixel_values[best : best + 1]}, target=label, **_settings(limits))
    name = model.config.id2label[label]
    picture = attribution_overlay_picture(patches[best], explanation.attributions, float(processor.spacing_m),
                                          title=f"why '{name}': integrated gradients per pixel")  # fmt: skip
    text = (f"Patch {best + 1} of {len(patches)} (P({name}) = {float(probabilities[best, label]):.2f}; the tile's "
            f"class is **{name}**): red pixels raise the **{explanation.target}**, blue ones lower it, relative to "
            f"a flat patch; {_completeness(explanation)}.")  # fmt: skip
    return picture, text


# --- knowledge -------------------------------------------------------------------------------------------------
def token_entities(labels: list[str], special: list[bool]) -> list[tuple[int, int, str]]:
    """Entity spans `(first token, last token, type)` of BIO(-like) token labels (special tokens skipped)."""
    spans: list[list] = []
    for i, (tag, skip) in enumerate(zip(labels, special)):
        if skip or tag == "O":
            continue
        kind = tag.split("-", 1)[-1]
        continuing = spans and spans[-1][1] == i - 1 and spans[-1][2] == kind and not tag.startswith("B-")
        if continuing:
            spans[-1][1] = i
        else:
            spans.append([i, i, kind])
    return [tuple(span) for span in spans]


def explain_knowledge(models: DemoModels, limits: DemoLimits, text: str | None, file_path: str | None = None,
                      entity: int | None = 1):  # fmt: skip
    """(highlighted text `{"text", "entities"}` with one score in [-1, 1] per token, Markdown) of the tagger's
    entity number `entity` (1-based, in text order) within the text's first `max_explain_tokens` tokens."""
    from ..explain import explain

    text = read_text_input(text, file_path, limits)
    model, tokenizer = models.get("knowledge_extraction")
    encoded = tokenizer(text, truncation=True, max_length=limits.max_explain_tokens, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")  # fmt: skip
    offsets = encoded.pop("offset_mapping")[0].tolist()
    special = encoded.pop("special_tokens_mask")[0].bool().tolist()
    batch = {k: v.to(model.device) for k, v in encoded.items()}
    with torch.no_grad():
        predicted = model(**batch).logits[0].argmax(-1).tolist()
    spans = token_entities([model.config.id2label[i] for i in predicted], special)
    if not spans:
        raise CorpusError("the tagger finds no entity in the text's first "
                          f"{limits.max_explain_tokens} tokens, so there is nothing to explain", field="text",
                          expected="a text naming rocks, minerals, places, periods, methods...")  # fmt: skip
    number = int(entity or 1)
    if not 1 <= number <= len(spans):
        raise CorpusError(f"entity {number} asked, the tagger finds {len(spans)}", field="entity",
                          expected=f"a number from 1 to {len(spans)}")  # fmt: skip
    first, last, kind = spans[number - 1]
    explanation = explain(model, batch, target=(first, predicted[first]), tokenizer=tokenizer, **_settings(limits))
    scores = explanation.attributions / max(float(np.abs(explanation.attributions).max()), 1e-30)
    pieces, end = [], 0
    for (a, b), score, skip in zip(offsets, scores, special):
        if skip or b <= a:
            continue
        pieces.append({"entity": round(float(score), 3), "start": a, "end": b})
        end = b
    shown = text[:end]
    phrase = text[offsets[first][0] : offsets[last][1]]
    note = f" (the explanation covers the first {len(shown):,} characters)" if len(shown) < len(text.rstrip()) else ""
    markdown = (f"Entity {number} of {len(spans)}: **{phrase}** ({kind}); explained: the **{explanation.target}**. "
                f"Red tokens raise it, blue ones lower it (scaled to the largest |attribution|), relative to "
                f"[PAD] tokens; {_completeness(explanation)}{note}.")  # fmt: skip
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
