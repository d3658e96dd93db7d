"""Explanations of geohub models with Captum: integrated gradients and cheaper gradient methods for every family.

    from geohub.explain import explain
    e = explain(picker, {"inputs": batch["inputs"][:1]})                 # the P pick at the highest P probability
    e.attributions.shape        # (3, T): how much each sample of each component drove P(sample e.target_index)
    e = explain(tagger, tokenizer("Basalt of the Mull Lava Group", return_tensors="pt"), target=(3, 2))
    e.attributions, e.tokens    # one score per token for label 2 at token 3

What is explained (the scalar `f(x)` whose attribution is computed), by family:

| family | target (`target=`) | attributions |
|---|---|---|
| seismic picker | P (or `phase="S"`) probability at sample `t` (default: its argmax) | per sample `(C, T)` |
| EQTransformer | P/S/detection probability at sample `t` | per sample `(C, T)` |
| GPD | probability of class `k` (default: the predicted one) | per sample `(C, T)` |
| magnitude | the predicted magnitude | per sample `(C, T)` |
| denoiser | the denoised sample `t` of component `c` (`target=(c, t)`) | per sample `(C, T)` |
| landform | logit of class `k` (default: the predicted one) | per pixel `(H, W)` |
| terrain GAN | mean of the generated patch (vs a fixed reference latent) | per latent dimension `(latent_dim,)` |
| token classifier (BERT) | logit of label `k` at token `i` (`target=(i, k)`) | per token `(L,)` (embeddings summed) |
| extractive summarizer | score of sentence `s` (default: the best one) | per sentence `(S,)` |

Methods: `integrated_gradients` (Sundararajan et al. 2017; zero baseline; a flat patch for the landform CNN,
[PAD] tokens for text, zero sentence embeddings for the summarizer; the number of steps doubles from `n_steps` until the completeness gap
`|sum(attributions) - (f(x) - f(baseline))|` is within `completeness_tolerance` of `|f(x) - f(baseline)|`, up to
`max_steps`), `saliency` (|gradient|, Simonyan et al. 2014) and `input_x_gradient` (Shrikumar et al. 2016), both
one backward pass. Models run in eval mode; the first input row is explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import GeohubError

__all__ = [
    "METHODS",
    "Explanation",
    "ExplainError",
    "explain",
    "explain_stream",
    "explain_strongest_p",
    "explain_landform_patch",
    "explain_entity",
    "token_entities",
    "explain_file",
]

METHODS = ("integrated_gradients", "saliency", "input_x_gradient")
_WAVEFORM = {"geohub_seismic_picker", "geohub_eqtransformer", "geohub_gpd", "geohub_seismic_magnitude",
             "geohub_seismic_denoiser"}  # fmt: skip


class ExplainError(GeohubError):
    """A model, method or target that cannot be explained (the message says what is supported)."""


@dataclass
class Explanation:
    """One attribution map.

    Attributes:
        attributions: per input element (shape in the module docstring's table), float64.
        method: one of `METHODS`.
        target: what was explained, in words ("P probability at sample 812").
        output: `f(x)`; baseline_output: `f(baseline)` (integrated gradients only, else NaN).
        completeness_gap: `|sum(attributions) - (f(x) - f(baseline))|` (integrated gradients only, else NaN).
        n_steps: integration steps used (0 for one-pass methods).
        tokens: the tokens (text models) or None.
        target_index: the sample, pixel class, token or sentence index explained.
    """

    attributions: np.ndarray
    method: str
    target: str
    output: float
    baseline_output: float = float("nan")
    completeness_gap: float = float("nan")
    n_steps: int = 0
    tokens: list[str] | None = None
    target_index: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def relative_completeness_gap(self) -> float:
        return self.completeness_gap / max(abs(self.output - self.baseline_output), 1e-12)


@dataclass
class _Problem:
    """A differentiable scalar function of one float input tensor, its input, baseline and how to report."""

    forward: Any
    inputs: torch.Tensor
    baseline: torch.Tensor
    target: str
    target_index: Any
    reduce: Any = None  # attributions (1, ...) -> reported array
    tokens: list[str] | None = None


def _first(batch: dict[str, Any], name: str) -> torch.Tensor:
    if name not in batch:
        raise ExplainError(f"missing input {name!r}", field=name, expected=f"inputs with {name!r}")
    return torch.as_tensor(batch[name])[:1]


def _waveform_problem(model, batch, target, phase: str) -> _Problem:
    config = model.config
    x = _first(batch, "inputs").float()
    extra = {k: torch.as_tensor(v)[:1] for k, v in batch.items() if k not in {"inputs", "labels"}}
    with torch.no_grad():
        out = model(inputs=x, **extra)
    model_type = config.model_type
    if model_type == "geohub_seismic_magnitude":

        def magnitude(v):
            return model(inputs=v, **{k: t.expand(v.shape[0], *t.shape[1:]) for k, t in extra.items()}).magnitude

        return _Problem(magnitude, x, torch.zeros_like(x), "predicted magnitude", None)
    if model_type == "geohub_seismic_denoiser":
        channel, sample = target if target is not None else (0, int(out.denoised[0, 0].abs().argmax()))
        return _Problem(lambda v: model(inputs=v).denoised[:, channel, sample], x, torch.zeros_like(x),
                        f"denoised sample {sample} of component {channel}", (channel, sample))  # fmt: skip
    if model_type == "geohub_gpd":
        label = int(out.logits[0].argmax()) if target is None else int(target)
        return _Problem(lambda v: torch.softmax(model(inputs=v).logits, -1)[:, label], x, torch.zeros_like(x),
                        f"probability of class {config.id2label.get(label, label)}", label)  # fmt: skip
    if model_type == "geohub_eqtransformer":
        key = {"P": "p_probabilities", "S": "s_probabilities", "D": "detection_probabilities"}[phase]

        def probability(v):
            return getattr(model(inputs=v), key)
    else:  # the U-Net picker
        row = {"P": 1, "S": 2}[phase]

        def probability(v):
            return torch.softmax(model(inputs=v).logits, dim=1)[:, row]

    with torch.no_grad():
        curve = probability(x)[0]
    sample = int(curve.argmax()) if target is None else int(target)
    if not 0 <= sample < curve.shape[-1]:
        raise ExplainError(f"target sample {sample}", field="target", expected=f"0 <= sample < {curve.shape[-1]}")
    return _Problem(lambda v: probability(v)[:, sample], x, torch.zeros_like(x), f"{phase} probability at sample {sample}",
                    sample)  # fmt: skip


def _image_problem(model, batch, target) -> _Problem:
    x = _first(batch, "pixel_values").float()
    with torch.no_grad():
        logits = model(pixel_values=x).logits
    label = int(logits[0].argmax()) if target is None else int(target)
    name = model.config.id2label.get(label, label)
    # baseline: a flat patch at the patch's mean (the CNN's group norms are scale-invariant, so the path from an
    # all-zero patch would be constant except at zero, and integrated gradients would not add up)
    baseline = torch.full_like(x, float(x.mean()))
    return _Problem(lambda v: model(pixel_values=v).logits[:, label], x, baseline, f"logit of {name}", label,
                    reduce=lambda a: a.sum(axis=1)[0])  # fmt: skip


def _latent_problem(model, batch) -> _Problem:
    z = _first(batch, "latents").float()
    # baseline: a fixed reference latent (seed 0), not zero: the generator's pixel norm is scale-invariant, so the
    # straight path from zero would be constant and integrated gradients would not add up
    reference = torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    return _Problem(lambda v: model(latents=v).samples.mean(dim=(1, 2, 3)), z, reference,
                    "mean of the generated patch (relative to the seed-0 reference latent)", None)  # fmt: skip


def _summarizer_problem(model, batch, target) -> _Problem:
    input_ids, mask = _first(batch, "input_ids"), _first(batch, "attention_mask")
    with torch.no_grad():
        embeddings = model.embed_sentences(input_ids, mask).float()
        present = mask.any(dim=-1)
        logits = model(sentence_embeddings=embeddings, sentence_mask=present).logits
    sentence = int(logits[0].argmax()) if target is None else int(target)
    if not bool(present[0, sentence]):
        raise ExplainError(f"sentence {sentence} is padding", field="target", expected="a present sentence")

    def score(v):
        return model(sentence_embeddings=v, sentence_mask=present.expand(v.shape[0], -1)).logits[:, sentence]

    return _Problem(score, embeddings, torch.zeros_like(embeddings), f"score of sentence {sentence}", sentence,
                    reduce=lambda a: a.sum(axis=-1)[0])  # fmt: skip


def _token_problem(model, batch, target, tokenizer) -> _Problem:
    input_ids = _first(batch, "input_ids")
    mask = _first(batch, "attention_mask") if "attention_mask" in batch else torch.ones_like(input_ids)
    embedding_layer = model.get_input_embeddings()
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask).logits
    if target is None:
        probabilities = logits[0].softmax(-1)
        token = int(probabilities.max(-1).values[1:].argmax()) + 1
        label = int(probabilities[token].argmax())
    else:
        token, label = int(target[0]), int(target[1])
    pad = getattr(model.config, "pad_token_id", 0) or 0
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    if tokenizer is not None:
        special = torch.tensor([tokenizer.get_special_tokens_mask(input_ids[0].tolist(), already_has_special_tokens=True)],
                               dtype=torch.bool)  # fmt: skip
    baseline_ids = torch.where(special, input_ids, torch.full_like(input_ids, pad))
    with torch.no_grad():
        embeddings, baseline = embedding_layer(input_ids), embedding_layer(baseline_ids)

    def logit(v):
        return model(inputs_embeds=v, attention_mask=mask.expand(v.shape[0], -1)).logits[:, token, label]

    tokens = tokenizer.convert_ids_to_tokens(input_ids[0].tolist()) if tokenizer is not None else None
    name = model.config.id2label.get(label, label)
    return _Problem(logit, embeddings, baseline, f"logit of {name} at token {token}", (token, label),
                    reduce=lambda a: a.sum(axis=-1)[0], tokens=tokens)  # fmt: skip


def _problem(model, batch, target, phase: str, tokenizer) -> _Problem:
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type in _WAVEFORM:
        return _waveform_problem(model, batch, target, phase)
    if model_type == "geohub_landform":
        return _image_problem(model, batch, target)
    if model_type == "geohub_terrain_gan":
        return _latent_problem(model, batch)
    if model_type == "geohub_extractive_summarizer":
        return _summarizer_problem(model, batch, target)
    architecture = type(model).__name__
    if architecture.endswith("ForTokenClassification") and hasattr(model, "get_input_embeddings"):
        return _token_problem(model, batch, target, tokenizer)
    raise ExplainError(f"no explanation recipe for model type {model_type!r} ({architecture})", field="model",
                       expected="a geohub seismic, terrain or text family model, or a token classifier")  # fmt: skip


def _integrated_gradients(
    problem: _Problem, n_steps: int, max_steps: int, tolerance: float, internal_batch_size: int | None = None
):
    from captum.attr import IntegratedGradients

    method = IntegratedGradients(problem.forward)
    with torch.no_grad():
        output = float(problem.forward(problem.inputs)[0])
        baseline_output = float(problem.forward(problem.baseline)[0])
    steps = n_steps
    while True:
        attributions, delta = method.attribute(problem.inputs, baselines=problem.baseline, n_steps=steps,
                                               method="gausslegendre", return_convergence_delta=True,
                                               internal_batch_size=min(steps, internal_batch_size or 128))  # fmt: skip
        gap = abs(float(delta[0]))
        if gap <= tolerance * max(abs(output - baseline_output), 1e-12) or steps * 2 > max_steps:
            return attributions, output, baseline_output, gap, steps
        steps *= 2


def explain(model: nn.Module, inputs: dict[str, Any], *, method: str = "integrated_gradients", target: Any = None,
            phase: str = "P", tokenizer: Any = None, n_steps: int = 32, max_steps: int = 4096,
            completeness_tolerance: float = 0.01, internal_batch_size: int | None = None) -> Explanation:  # fmt: skip
    """Attribute one model output to the input (see the module docstring for targets and shapes).

    Args:
        model: a geohub model (or stock token classifier); put in eval mode.
        inputs: the model's inputs as prepared by its processor (`inputs`, `pixel_values`, `input_ids`, ...).
        method: one of `METHODS`.
        target: the output to explain (family-specific, see the table); None picks the most salient one.
        phase: "P", "S" (or "D" for EQTransformer's detection) for waveform pickers.
        tokenizer: for token classifiers: keeps special tokens in the baseline and names the tokens.
        n_steps, max_steps, completeness_tolerance: integrated gradients' first and largest step counts and the
            relative completeness gap at which doubling stops.
        internal_batch_size: interpolated inputs run through the model at once (default: up to 128); bounds the
            memory of one explanation (a server passes a small value).
    """
    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}", field="method", expected=", ".join(METHODS))
    if phase not in {"P", "S", "D"}:
        raise ExplainError(f"unknown phase {phase!r}", field="phase", expected="P, S or D")
    model.eval()
    problem = _problem(model, inputs, target, phase, tokenizer)
    result = {"baseline_output": float("nan"), "completeness_gap": float("nan"), "n_steps": 0}
    if method == "integrated_gradients":
        attributions, output, baseline_output, gap, steps = _integrated_gradients(
            problem, n_steps, max_steps, completeness_tolerance, internal_batch_size
        )
        result.update(baseline_output=baseline_output, completeness_gap=gap, n_steps=steps)
    else:
        from captum.attr import InputXGradient, Saliency

        explainer = Saliency(problem.forward) if method == "saliency" else InputXGradient(problem.forward)
        kwargs = {"abs": True} if method == "saliency" else {}
        attributions = explainer.attribute(problem.inputs.clone().requires_grad_(True), **kwargs)
        with torch.no_grad():
            output = float(problem.forward(problem.inputs)[0])
    array = attributions.detach().double().numpy()
    array = problem.reduce(array) if problem.reduce is not None else array[0]
    return Explanation(attributions=array, method=method, target=problem.target, output=output,
                       tokens=problem.tokens, target_index=problem.target_index, **result)  # fmt: skip


def explain_stream(stream_or_path, model: nn.Module, feature_extractor: Any, *, start_sample: int = 0,
                   method: str = "integrated_gradients", **kwargs) -> Explanation:  # fmt: skip
    """Explain one model window of the first station of an ObsPy stream (resampled to the model's rate), starting
    `start_sample` samples into the record; `extra["starttime"]` is the window's UTCDateTime, `extra["inputs"]` the
    model input `(C, T)` that was explained (after the feature extractor's normalisation)."""
    from .data.waveforms import read_waveforms

    records = read_waveforms(stream_or_path, sampling_rate=feature_extractor.sampling_rate,
                             component_order=feature_extractor.component_order)  # fmt: skip
    record = records[0]
    window = int(feature_extractor.window_length)
    data = record.data[:, start_sample : start_sample + window]
    if data.shape[-1] < window:
        data = np.pad(data, ((0, 0), (0, window - data.shape[-1])))
    features = feature_extractor(data[None], return_tensors="pt")
    batch = {k: v for k, v in features.items() if k in {"inputs", "log_amplitude"}}
    explanation = explain(model, batch, method=method, **kwargs)
    explanation.extra.update(starttime=record.starttime + start_sample / record.sampling_rate,
                             station_id=record.station_id, sampling_rate=record.sampling_rate,
                             inputs=batch["inputs"][0].detach().float().numpy())  # fmt: skip
    return explanation


# --- explanations of whole inputs (a record, a DEM tile, a text): shared by the demo and `geohub explain` ----------
_PICKERS = {"geohub_seismic_picker", "geohub_eqtransformer", "geohub_gpd"}


def _best_p(annotation) -> tuple[float, str]:
    """(seconds after the first station's start, what it is) of its strongest P pick; without one, of its highest
    P probability (a per-window model: that window's centre)."""
    from .errors import WaveformError

    trace = annotation.traces[0]
    picks = [p for p in annotation.picks if p.phase == "P" and p.station == trace.station]
    if picks:
        best = max(picks, key=lambda p: p.probability)
        return float(best.time - trace.starttime), f"the strongest of {len(picks)} P pick(s)"
    row = trace.row("P")
    if row is None:
        raise WaveformError("the picker gives no P probability", field="model", expected="a P/S phase picker")
    return float(trace.output_times()[int(np.argmax(row))]), "no P pick above the threshold: the highest P probability"


def explain_strongest_p(stream_or_path, picker: nn.Module, feature_extractor: Any, **kwargs) -> Explanation:
    """The P probability at the strongest P pick of the first station (without a pick: at its highest P probability),
    attributed over the model window centred on it (clamped to the record). Besides `explain_stream`'s `extra`:
    `which` (in words), `pick_sample` (the pick's sample within the window) and `share_near_pick` (the share of the
    total |attribution| within 1 s of the pick)."""
    from .inference.seismic import annotate

    if getattr(picker.config, "model_type", None) not in _PICKERS:
        raise ExplainError(f"model type {picker.config.model_type!r} does not pick phases", field="model",
                           expected="a seismic picker (U-Net, EQTransformer or GPD)")  # fmt: skip
    annotation = annotate(stream_or_path, picker, feature_extractor=feature_extractor)
    trace = annotation.traces[0]
    rate, window = float(feature_extractor.sampling_rate), int(feature_extractor.window_length)
    seconds, which = _best_p(annotation)
    pick_sample = int(round(seconds * rate))
    start = int(np.clip(pick_sample - window // 2, 0, max(trace.waveforms.shape[-1] - window, 0)))
    per_window = picker.config.model_type == "geohub_gpd"
    target = int(picker.config.label2id["P"]) if per_window else int(np.clip(pick_sample - start, 0, window - 1))
    explanation = explain_stream(stream_or_path, picker, feature_extractor, start_sample=start, target=target,
                                 phase="P", **kwargs)  # fmt: skip
    attributions = explanation.attributions
    near = np.abs(np.arange(attributions.shape[-1]) - (pick_sample - start)) <= rate  # within 1 s of the pick
    share = float(np.abs(attributions[:, near]).sum() / max(np.abs(attributions).sum(), 1e-30))
    explanation.extra.update(which=which, pick_sample=pick_sample - start, share_near_pick=share)
    return explanation


def explain_landform_patch(model: nn.Module, processor: Any, dem, *, spacing_m: float | None = None,
                           max_patches: int = 64, **kwargs) -> Explanation:  # fmt: skip
    """Per-pixel attribution of a DEM's predicted class (the mean over its patches, as `classify_landform`) on the
    patch that shows it most clearly. `extra`: `patch` `(S, S)` metres, `patch_index`, `num_patches`, `label`,
    `probability` (of the label on that patch), `spacing_m` (the patch's grid spacing)."""
    from .inference.terrain import landform_patches

    patches = landform_patches(dem, processor, int(model.config.image_size), spacing_m=spacing_m,
                               max_patches=max_patches)  # fmt: skip
    pixel_values = processor(patches)["pixel_values"].to(model.device)
    with torch.no_grad():
        probabilities = model(pixel_values=pixel_values).logits.float().softmax(-1)
    label = int(probabilities.mean(0).argmax())
    best = int(probabilities[:, label].argmax())
    explanation = explain(model, {"pixel_values": pixel_values[best : best + 1]}, target=label, **kwargs)
    explanation.extra.update(patch=patches[best], patch_index=best, num_patches=len(patches),
                             label=model.config.id2label[label], probability=float(probabilities[best, label]),
                             spacing_m=float(processor.spacing_m))  # fmt: skip
    return explanation


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


def explain_entity(model: nn.Module, tokenizer: Any, text: str, *, entity: int = 1, max_tokens: int = 128,
                   **kwargs) -> Explanation:  # fmt: skip
    """The tagger's logit of the label of entity number `entity` (1-based, in text order) at its first token, per
    token of the text's first `max_tokens` tokens. `extra`: `offsets` (character span per token), `special` (per
    token), `entity`, `num_entities`, `phrase`, `kind`, `first_token`, `last_token`."""
    from .errors import CorpusError

    encoded = tokenizer(text, truncation=True, max_length=max_tokens, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")  # fmt: skip
    offsets = encoded.pop("offset_mapping")[0].tolist()
    special = encoded.pop("special_tokens_mask")[0].bool().tolist()
    batch = {k: v.to(model.device) for k, v in encoded.items()}
    with torch.no_grad():
        predicted = model(**batch).logits[0].argmax(-1).tolist()
    spans = token_entities([model.config.id2label[i] for i in predicted], special)
    if not spans:
        raise CorpusError(f"the tagger finds no entity in the text's first {max_tokens} tokens, so there is nothing "
                          "to explain", field="text",
                          expected="a text naming rocks, minerals, places, periods, methods...")  # fmt: skip
    number = int(entity or 1)
    if not 1 <= number <= len(spans):
        raise CorpusError(f"entity {number} asked, the tagger finds {len(spans)}", field="entity",
                          expected=f"a number from 1 to {len(spans)}")  # fmt: skip
    first, last, kind = spans[number - 1]
    explanation = explain(model, batch, target=(first, predicted[first]), tokenizer=tokenizer, **kwargs)
    explanation.extra.update(offsets=[tuple(o) for o in offsets], special=special, entity=number,
                             num_entities=len(spans), phrase=text[offsets[first][0] : offsets[last][1]], kind=kind,
                             first_token=first, last_token=last)  # fmt: skip
    return explanation


def _read_text_file(path) -> str:
    from .errors import CorpusError

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


def _explain_input(model, processor, path, *, entity: int, spacing_m: float | None, max_tokens: int, settings: dict):
    """(Explanation, JSON-ready context) of one input file, by the model's kind."""
    from .data.dem import read_dem

    model_type = getattr(model.config, "model_type", None)
    if model_type in _PICKERS:
        e = explain_strongest_p(str(path), model, processor, **settings)
        return e, {"kind": "seismic", "explained": e.extra["which"], "station_id": e.extra["station_id"],
                   "window_start": str(e.extra["starttime"]), "sampling_rate": e.extra["sampling_rate"],
                   "pick_sample": e.extra["pick_sample"], "share_near_pick": e.extra["share_near_pick"],
                   "component_order": getattr(processor, "component_order", None)}  # fmt: skip
    if model_type in _WAVEFORM:  # magnitude, denoiser: the first window, the family's default target
        e = explain_stream(str(path), model, processor, **settings)
        return e, {"kind": "seismic", "station_id": e.extra["station_id"], "window_start": str(e.extra["starttime"]),
                   "sampling_rate": e.extra["sampling_rate"]}  # fmt: skip
    if model_type == "geohub_landform":
        bare = path.suffix.lower() in (".npy", ".npz")
        dem = read_dem(path, spacing_m=(spacing_m or float(processor.spacing_m)) if bare else spacing_m)
        e = explain_landform_patch(model, processor, dem, **settings)
        return e, {"kind": "landform", "label": e.extra["label"], "probability": e.extra["probability"],
                   "patch_index": e.extra["patch_index"], "num_patches": e.extra["num_patches"],
                   "spacing_m": e.extra["spacing_m"]}  # fmt: skip
    if type(model).__name__.endswith("ForTokenClassification"):
        text = _read_text_file(path)
        e = explain_entity(model, processor, text, entity=entity, max_tokens=max_tokens, **settings)
        return e, {"kind": "text", "entity": e.extra["entity"], "num_entities": e.extra["num_entities"],
                   "phrase": e.extra["phrase"], "entity_type": e.extra["kind"], "offsets": e.extra["offsets"],
                   "special_tokens": e.extra["special"]}  # fmt: skip
    raise ExplainError(f"`geohub explain` has no input reader for model type {model_type!r}", field="model",
                       expected="a seismic model (waveform file), the landform model (DEM) or a tagger (text file)")  # fmt: skip


def explain_file(model_dir, input_path, *, method: str = "integrated_gradients", n_steps: int = 32,
                 max_steps: int = 4096, entity: int = 1, spacing_m: float | None = None,
                 max_tokens: int = 512) -> dict:  # fmt: skip
    """What `geohub explain` writes: the explanation of one input file by a saved model, as a JSON-ready dict.

    The input is read by the model's kind: an ObsPy-readable waveform file for seismic models (a picker: the P
    probability at the strongest P pick of the first station; magnitude/denoiser: the first window), a DEM tile
    (.npy/.npz at `spacing_m`, default the model's, or GeoTIFF) for the landform model, a UTF-8 text file for a
    token classifier (entity number `entity`). Arguments are checked before the model is loaded."""
    from pathlib import Path

    from .errors import DataError
    from .inference.loading import load_model_and_processor

    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}", field="method", expected=", ".join(METHODS))
    if not 1 <= int(n_steps) <= int(max_steps):
        raise ExplainError(f"steps {n_steps} (max {max_steps})", field="steps", expected="1 <= steps <= max steps")
    path = Path(input_path)
    if not path.is_file():
        raise DataError("input file not found", path=path, expected="a waveform file, a DEM tile or a text file")
    model, processor = load_model_and_processor(model_dir)
    settings = {"method": method, "n_steps": int(n_steps), "max_steps": int(max_steps)}
    e, context = _explain_input(model, processor, path, entity=entity, spacing_m=spacing_m, max_tokens=max_tokens,
                                settings=settings)  # fmt: skip
    target_index = e.target_index
    return {"model": str(model_dir), "input": str(path), "model_type": getattr(model.config, "model_type", None),
            "method": e.method, "steps": e.n_steps, "target": e.target,
            "target_index": list(target_index) if isinstance(target_index, tuple) else target_index,
            "output": e.output, "baseline_output": _json_number(e.baseline_output),
            "completeness_gap": _json_number(e.completeness_gap),
            "relative_completeness_gap": _json_number(e.relative_completeness_gap if e.n_steps else None),
            "shape": list(e.attributions.shape), "attributions": e.attributions.tolist(), "tokens": e.tokens,
            **context}  # fmt: skip
