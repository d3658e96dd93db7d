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
[PAD] tokens for text, zero sentence embeddings for the summarizer (with document features: the document's
embeddings shrunk 1000-fold); the number of steps doubles from `n_steps` until the completeness gap
`|sum(attributions) - (f(x) - f(baseline))|` is within `completeness_tolerance` of `|f(x) - f(baseline)|`, up to
`max_steps`), `saliency` (|gradient|, Simonyan et al. 2014) and `input_x_gradient` (Shrikumar et al. 2016), both
one backward pass. Models run in eval mode; the first input row is explained; gradients are on even inside a
caller's `torch.no_grad()` / `torch.inference_mode()`.

Whole inputs: `explain_station_p` / `explain_strongest_p` (a picker's strongest P pick), `explain_window`,
`explain_denoised_peak`, `explain_patches` / `explain_landform_patch`, `explain_mention` / `explain_entity`,
`explain_summary`. The pipelines' `explain=` parameter (every geohub pipeline, see `geohub/pipelines/`) goes through
`pipeline_settings` (checked before any model work) and returns `explanation_entry` dicts (waveform attributions as
`attribution_stream`); `geohub explain` is `explain_file` (in `geohub/explain_files.py`).
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
    "explain_mention",
    "explain_summary",
    "explain_window",
    "explain_station_p",
    "explain_denoised_peak",
    "explain_patches",
    "pipeline_settings",
    "explanation_entry",
    "attribution_stream",
    "token_entities",
    "explain_file",
]

METHODS = ("integrated_gradients", "saliency", "input_x_gradient")
_PICKERS = {"geohub_seismic_picker", "geohub_eqtransformer", "geohub_gpd"}
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


def _require_torch(model) -> None:
    """`ExplainError` unless `model` is a PyTorch module (an ONNX export has no gradients)."""
    if not isinstance(model, nn.Module):
        raise ExplainError(f"{type(model).__name__} is not a PyTorch model (an ONNX export has no gradients)",
                           field="model", expected="a PyTorch model, e.g. a save_pretrained folder")  # fmt: skip


def _require_picker(model) -> None:
    """`ExplainError` unless `model` is a phase picker (U-Net, EQTransformer, GPD)."""
    if getattr(model.config, "model_type", None) not in _PICKERS:
        raise ExplainError(f"model type {model.config.model_type!r} does not pick phases", field="model",
                           expected="a seismic picker (U-Net, EQTransformer or GPD)")  # fmt: skip


def _first(batch: dict[str, Any], name: str) -> torch.Tensor:
    if name not in batch:
        raise ExplainError(f"missing input {name!r}", field=name, expected=f"inputs with {name!r}")
    return torch.as_tensor(batch[name])[:1].clone()  # a copy: inference-mode tensors cannot enter autograd


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
    # (the seed-1 latent when z is the seed-0 one, e.g. the first patch of `generate(seed=0)`: x == baseline explains
    # nothing)
    seed = 0
    reference = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
    if torch.allclose(reference, z):
        seed = 1
        reference = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
    return _Problem(lambda v: model(latents=v).samples.mean(dim=(1, 2, 3)), z, reference,
                    f"mean of the generated patch (relative to the seed-{seed} reference latent)", None)  # fmt: skip


_SUMMARIZER_EXTRAS = ("sentence_features", "title_input_ids", "title_attention_mask", "title_embeddings", "title_mask")


def _summarizer_problem(model, batch, target) -> _Problem:
    input_ids, mask = _first(batch, "input_ids"), _first(batch, "attention_mask")
    extra = {k: _first(batch, k) for k in _SUMMARIZER_EXTRAS if batch.get(k) is not None}  # title, lexical features
    with torch.no_grad():
        embeddings = model.embed_sentences(input_ids, mask).float()
        present = mask.any(dim=-1)
        logits = model(sentence_embeddings=embeddings, sentence_mask=present, **extra).logits
    sentence = int(logits[0].argmax()) if target is None else int(target)
    if not bool(present[0, sentence]):
        raise ExplainError(f"sentence {sentence} is padding", field="target", expected="a present sentence")

    def score(v):
        expanded = {k: t.expand(v.shape[0], *t.shape[1:]) for k, t in extra.items()}
        mask = present.expand(v.shape[0], -1)
        return model(sentence_embeddings=v, sentence_mask=mask, **expanded).logits[:, sentence]

    # baseline: zero sentence embeddings; with document features, the document shrunk 1000-fold towards them (the
    # cosine and z-score features are discontinuous at exactly zero, so the path from zero would not add up)
    baseline = embeddings * 1e-3 if getattr(model, "num_features", 0) else torch.zeros_like(embeddings)
    return _Problem(score, embeddings, baseline, f"score of sentence {sentence}", sentence,
                    reduce=lambda a: a.sum(axis=-1)[0])  # fmt: skip


def _token_problem(model, batch, target, tokenizer) -> _Problem:
    input_ids = _first(batch, "input_ids")
    mask = _first(batch, "attention_mask") if "attention_mask" in batch else torch.ones_like(input_ids)
    embedding_layer = model.get_input_embeddings()
    types = {"token_type_ids": _first(batch, "token_type_ids")} if "token_type_ids" in batch else {}
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, **types).logits
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
        expanded = {k: t.expand(v.shape[0], -1) for k, t in types.items()}
        return model(inputs_embeds=v, attention_mask=mask.expand(v.shape[0], -1), **expanded).logits[:, token, label]

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
    _require_torch(model)
    model.eval()
    with torch.inference_mode(False), torch.enable_grad():  # also inside a pipeline's or caller's no_grad
        return _explain(model, inputs, method, target, phase, tokenizer, n_steps, max_steps, completeness_tolerance,
                        internal_batch_size)  # fmt: skip


def _explain(model, inputs, method, target, phase, tokenizer, n_steps, max_steps, completeness_tolerance,
             internal_batch_size) -> Explanation:  # fmt: skip
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


def _best_p(trace, picks) -> tuple[float, str]:
    """(seconds after the station's start, what it is) of its strongest P pick; without one, of its highest P
    probability (a per-window model: that window's centre)."""
    from .errors import WaveformError

    picks = [p for p in picks if p.phase == "P" and p.station == trace.station]
    if picks:
        best = max(picks, key=lambda p: p.probability)
        return float(best.time - trace.starttime), f"the strongest of {len(picks)} P pick(s)"
    row = trace.row("P")
    if row is None:
        raise WaveformError("the picker gives no P probability", field="model", expected="a P/S phase picker")
    return float(trace.output_times()[int(np.argmax(row))]), "no P pick above the threshold: the highest P probability"


def _window_batch(data: np.ndarray, start: int, feature_extractor: Any, window: int | None = None) -> dict:
    """The model inputs (`inputs` `(1, C, W)`, the magnitude model's `log_amplitude`) of the window of `data`
    `(C, T)` starting at sample `start` (`window` samples, default the extractor's; zero-padded past the end), as
    the feature extractor prepares them."""
    window = int(window or feature_extractor.window_length)
    part = np.asarray(data, dtype=np.float32)[:, start : start + window]
    if part.shape[-1] < window:
        part = np.pad(part, ((0, 0), (0, window - part.shape[-1])))
    features = feature_extractor(part[None], return_tensors="pt")
    return {k: v for k, v in features.items() if k in {"inputs", "log_amplitude"}}


def explain_window(model: nn.Module, feature_extractor: Any, data: np.ndarray, start: int, *, starttime=None,
                   sampling_rate: float | None = None, station_id: str = "", window: int | None = None,
                   **kwargs) -> Explanation:  # fmt: skip
    """Explain the model window of a station record `data` `(C, T)` (at the model's rate and component order)
    starting at sample `start` (`window` samples, default the feature extractor's). `extra`: `starttime` (of the
    window, when the record's is given), `station_id`, `sampling_rate`, `inputs` (the explained model input
    `(C, W)`, after the feature extractor's normalisation)."""
    batch = _window_batch(data, start, feature_extractor, window)
    explanation = explain(model, batch, **kwargs)
    rate = float(sampling_rate or feature_extractor.sampling_rate)
    explanation.extra.update(starttime=None if starttime is None else starttime + start / rate,
                             station_id=station_id, sampling_rate=rate,
                             inputs=batch["inputs"][0].detach().float().numpy())  # fmt: skip
    return explanation


def explain_stream(stream_or_path, model: nn.Module, feature_extractor: Any, *, start_sample: int = 0,
                   method: str = "integrated_gradients", **kwargs) -> Explanation:  # fmt: skip
    """Explain one model window of the first station of an ObsPy stream (resampled to the model's rate), starting
    `start_sample` samples into the record (`extra` as `explain_window`'s)."""
    from .data.waveforms import read_waveforms

    records = read_waveforms(stream_or_path, sampling_rate=feature_extractor.sampling_rate,
                             component_order=feature_extractor.component_order)  # fmt: skip
    record = records[0]
    return explain_window(model, feature_extractor, record.data, start_sample, starttime=record.starttime,
                          sampling_rate=record.sampling_rate, station_id=record.station_id, method=method,
                          **kwargs)  # fmt: skip


# --- explanations of whole inputs (a record, a DEM tile, a text): shared by the pipelines, the demo and the CLI ----
def explain_station_p(trace, picks, picker: nn.Module, feature_extractor: Any, **kwargs) -> Explanation:
    """The P probability at the strongest P pick of one station's annotation `trace` (a `StationAnnotation`;
    `picks` may hold other stations' picks too; without a pick: at its highest P probability), attributed over the
    model window centred on it (clamped to the record). Besides `explain_window`'s `extra`: `which` (in words),
    `pick_sample` (the pick's sample within the window), `pick_time` and `share_near_pick` (the share of the total
    |attribution| within 1 s of the pick)."""
    _require_picker(picker)
    rate, window = float(trace.sampling_rate), int(feature_extractor.window_length)
    seconds, which = _best_p(trace, picks)
    pick_sample = int(round(seconds * rate))
    start = int(np.clip(pick_sample - window // 2, 0, max(trace.waveforms.shape[-1] - window, 0)))
    per_window = picker.config.model_type == "geohub_gpd"
    target = int(picker.config.label2id["P"]) if per_window else int(np.clip(pick_sample - start, 0, window - 1))
    explanation = explain_window(picker, feature_extractor, trace.waveforms, start, starttime=trace.starttime,
                                 sampling_rate=rate, station_id=trace.station, target=target, phase="P",
                                 **kwargs)  # fmt: skip
    attributions = explanation.attributions
    near = np.abs(np.arange(attributions.shape[-1]) - (pick_sample - start)) <= rate  # within 1 s of the pick
    share = float(np.abs(attributions[:, near]).sum() / max(np.abs(attributions).sum(), 1e-30))
    explanation.extra.update(which=which, pick_sample=pick_sample - start, share_near_pick=share,
                             pick_time=trace.starttime + seconds)  # fmt: skip
    return explanation


def explain_strongest_p(stream_or_path, picker: nn.Module, feature_extractor: Any, **kwargs) -> Explanation:
    """`explain_station_p` of the first station of a record (annotated with `geohub.inference.seismic.annotate`)."""
    from .inference.seismic import annotate

    _require_picker(picker)
    annotation = annotate(stream_or_path, picker, feature_extractor=feature_extractor)
    return explain_station_p(annotation.traces[0], annotation.picks, picker, feature_extractor, **kwargs)


def explain_denoised_peak(record, denoised: np.ndarray, starts: list[int], model: nn.Module, feature_extractor: Any,
                          **kwargs) -> Explanation:  # fmt: skip
    """The denoiser's output at the record's largest denoised sample (`denoised` `(C, T)`, the overlap-added
    output), attributed over the window (of those starting at `starts`) that holds it most centrally. `extra` as
    `explain_window`'s, plus `peak_time`."""
    channel, sample = np.unravel_index(int(np.abs(denoised).argmax()), denoised.shape)
    window = min(int(feature_extractor.window_length), denoised.shape[-1])  # a short record is one shorter window
    start = min(starts, key=lambda s: abs(sample - (s + window / 2)))
    explanation = explain_window(model, feature_extractor, record.data, int(start), starttime=record.starttime,
                                 sampling_rate=record.sampling_rate, station_id=record.station_id, window=window,
                                 target=(int(channel), int(np.clip(sample - start, 0, window - 1))), **kwargs)  # fmt: skip
    explanation.extra["peak_time"] = record.starttime + int(sample) / float(record.sampling_rate)
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
    explanation = explain_patches(model, pixel_values, **kwargs)
    explanation.extra.update(patch=patches[explanation.extra["patch_index"]], spacing_m=float(processor.spacing_m))
    return explanation


def explain_patches(model: nn.Module, pixel_values: torch.Tensor, logits: torch.Tensor | None = None,
                    **kwargs) -> Explanation:  # fmt: skip
    """Per-pixel attribution of the class predicted for a DEM's patches `pixel_values` `(N, 1, S, S)` (the mean of
    their probabilities; `logits` `(N, K)` when already computed) on the patch that shows it most clearly. `extra`:
    `patch_index`, `num_patches`, `label`, `probability` (of the label on that patch)."""
    if logits is None:
        with torch.no_grad():
            logits = model(pixel_values=pixel_values).logits
    probabilities = logits.detach().float().softmax(-1)
    label = int(probabilities.mean(0).argmax())
    best = int(probabilities[:, label].argmax())
    explanation = explain(model, {"pixel_values": pixel_values[best : best + 1]}, target=label, **kwargs)
    explanation.extra.update(patch_index=best, num_patches=len(pixel_values), label=model.config.id2label[label],
                             probability=float(probabilities[best, label]))  # fmt: skip
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


def explain_mention(model: nn.Module, tokenizer: Any, text: str, mention, *, max_length: int = 256,
                    **kwargs) -> Explanation:  # fmt: skip
    """The tagger's logit of its label at the first sub-word of an entity `mention` (a `geohub.knowledge.Mention`
    of `extract`/the knowledge-extraction pipeline), per token of the mention's sentence, tokenized as
    `geohub.inference.text.predict_entities` does (words of that sentence window, case token types when the model
    uses them). `extra`: `offsets` (character span in `text` of each token's word, None for special tokens)."""
    from .data.corpus import sentence_spans, word_spans
    from .data.ner_files import case_token_types
    from .inference.text import _word_windows

    max_length = min(max_length, getattr(model.config, "max_position_embeddings", max_length) or max_length)
    sentences = sentence_spans(text) or [(0, len(text))]
    begin, end = sentences[min(int(mention.sentence), len(sentences) - 1)]
    spans = [(begin + x, begin + y) for x, y in word_spans(text[begin:end])]
    windows = _word_windows(spans, text, tokenizer, max_length - 2) or [[(mention.start, mention.end)]]
    window = next((w for w in windows if any(a <= mention.start < b for a, b in w)), windows[0])
    word = next((i for i, (a, b) in enumerate(window) if a <= mention.start < b), 0)
    words = [text[a:b] for a, b in window]
    encoded = tokenizer([words], is_split_into_words=True, truncation=True, max_length=max_length,
                        return_tensors="pt")  # fmt: skip
    word_ids = encoded.word_ids(0)
    batch = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    if getattr(model.config, "case_token_types", False):
        batch["token_type_ids"] = torch.tensor([case_token_types(word_ids, words)], dtype=torch.long)
    token = word_ids.index(word) if word in word_ids else 1
    with torch.no_grad():
        label = int(model(**batch).logits[0, token].argmax())
    explanation = explain(model, batch, target=(token, label), tokenizer=tokenizer, **kwargs)
    explanation.extra["offsets"] = [None if w is None else window[w] for w in word_ids]
    return explanation


# --- the `explain=` call parameter of the geohub pipelines --------------------------------------------------------
def pipeline_settings(explain_value: Any, steps: Any = None, max_steps: Any = None, model: Any = None) -> dict | None:
    """Check a pipeline's `explain=` (False/None: off; True: integrated gradients; or a name from `METHODS`),
    `explain_steps=` and `explain_max_steps=` before any model work; -> keyword arguments of `explain`, or None."""
    if explain_value is None or explain_value is False:
        return None
    method = "integrated_gradients" if explain_value is True else explain_value
    if not isinstance(method, str) or method not in METHODS:
        raise ExplainError(f"explain={explain_value!r}", field="explain",
                           expected="False, True (integrated gradients) or one of " + ", ".join(METHODS))  # fmt: skip
    n_steps, largest = 32 if steps is None else steps, 4096 if max_steps is None else max_steps
    numbers = isinstance(n_steps, (int, np.integer)) and isinstance(largest, (int, np.integer))
    if not numbers or isinstance(n_steps, bool) or not 1 <= n_steps <= largest:
        raise ExplainError(f"explain_steps={steps!r}, explain_max_steps={max_steps!r}", field="explain_steps",
                           expected="integers with 1 <= explain_steps <= explain_max_steps")  # fmt: skip
    if model is not None:
        _require_torch(model)
    return {"method": method, "n_steps": int(n_steps), "max_steps": int(largest)}


def attribution_stream(e: Explanation, component_order: str):
    """The `(C, W)` attributions of a waveform explanation (`extra` from `explain_window`) as an `obspy.Stream`: one
    trace per component (channel `ATTR_<component>`, the window's start time and rate)."""
    import obspy

    network, station, location = (e.extra.get("station_id", "") or "..").split(".")[:3]
    traces = []
    for component, values in zip(component_order, e.attributions):
        header = {"network": network, "station": station, "location": location, "channel": f"ATTR_{component}",
                  "sampling_rate": float(e.extra["sampling_rate"])}  # fmt: skip
        if e.extra.get("starttime") is not None:
            header["starttime"] = e.extra["starttime"]
        traces.append(obspy.Trace(np.asarray(values, dtype=np.float64), header=header))
    return obspy.Stream(traces)


def explanation_entry(e: Explanation, attributions: Any = None, **context) -> dict:
    """What a pipeline result's `explanation` holds: `attributions` (the array, or `attributions` when given, e.g.
    an `obspy.Stream`), `method`, `target` (in words), `target_index`, `output` (f(x)), `baseline_output`,
    `completeness_gap`, `relative_completeness_gap` (NaN for one-pass methods), `n_steps`, `tokens` (text models),
    and `context`."""
    entry = {"attributions": e.attributions if attributions is None else attributions, "method": e.method,
             "target": e.target, "target_index": e.target_index, "output": e.output,
             "baseline_output": e.baseline_output, "completeness_gap": e.completeness_gap,
             "relative_completeness_gap": e.relative_completeness_gap if e.n_steps else float("nan"),
             "n_steps": e.n_steps}  # fmt: skip
    if e.tokens is not None:
        entry["tokens"] = e.tokens
    return {**entry, **context}


def explain_summary(model: nn.Module, tokenizer: Any, text: str, *, title: str | None = None,
                    max_sentence_length: int = 64, **kwargs) -> Explanation:  # fmt: skip
    """The extractive summarizer's score of its best sentence of `text` (split into sentences as the
    extractive-summarization pipeline does), per sentence `(S,)`. `extra`: `sentences`."""
    from .inference.text import check_documents
    from .models.extractive_summarizer.processing_extractive_summarizer import collate_documents, encode_documents

    sentences = check_documents([text])[0]
    encoded = encode_documents(tokenizer, [sentences], max_sentence_length, titles=[title])
    batch = collate_documents([dict(zip(encoded, values)) for values in zip(*encoded.values())],
                              tokenizer.pad_token_id or 0)  # fmt: skip
    explanation = explain(model, batch, **kwargs)
    explanation.extra["sentences"] = sentences
    return explanation


from .explain_files import explain_file  # noqa: E402  (reads input files with the functions above; re-exported)
