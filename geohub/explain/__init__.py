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
`attribution_stream`); `geohub explain` is `explain_file`.

What is explained for a family is the family's own declaration: `explain=".explain_<family>"` in its `family.py`
names a hook module in its folder (`problem(...)`: the scalar, input and baseline; `FILE_READER`: how `geohub explain`
reads an input file; `pick_target(...)` for phase pickers), or `explain=OptOut(reason)`. Modules: `core` (`explain`,
the methods, the pipelines' `explain=` helpers), `waveform`, `raster`, `text` (whole inputs), `files` (`geohub
explain`).
"""

from .core import (
    METHODS,
    ExplainError,
    Explanation,
    attribution_stream,
    explain,
    explanation_entry,
    pipeline_settings,
)
from .files import explain_file
from .raster import explain_landform_patch, explain_patches
from .text import explain_entity, explain_mention, explain_summary, token_entities
from .waveform import explain_denoised_peak, explain_station_p, explain_stream, explain_strongest_p, explain_window

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
