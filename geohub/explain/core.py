"""The core of `geohub.explain`: `explain(model, inputs)` on one model input, by the model family's explain hook.

Shared code never names a family: `explain` finds the model's family (`geohub.auto.family_for_config`, or for a stock
architecture the family whose `stock_model_types` has it) and asks its hook (`explain=` in its `family.py`, a module
`geohub/models/<family>/explain_<family>.py`) for the `Problem`: the scalar `f(x)` to attribute, its input and
baseline. This module computes the attributions (Captum) and checks completeness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ExplainError

__all__ = ["METHODS", "Explanation", "ExplainError", "Problem", "explain", "family_of", "explain_hook",
           "require_torch", "require_picker", "pipeline_settings", "explanation_entry", "attribution_stream"]  # fmt: skip

METHODS = ("integrated_gradients", "saliency", "input_x_gradient")


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
class Problem:
    """A differentiable scalar function of one float input tensor, its input, baseline and how to report (what a
    family's explain hook `problem(...)` returns, as a dict of these fields)."""

    forward: Any
    inputs: torch.Tensor
    baseline: torch.Tensor
    target: str
    target_index: Any
    reduce: Any = None  # attributions (1, ...) -> reported array
    tokens: list[str] | None = None


def require_torch(model) -> None:
    """`ExplainError` unless `model` is a PyTorch module (an ONNX export has no gradients)."""
    if not isinstance(model, nn.Module):
        raise ExplainError(f"{type(model).__name__} is not a PyTorch model (an ONNX export has no gradients)",
                           field="model", expected="a PyTorch model, e.g. a save_pretrained folder")  # fmt: skip


def family_of(model):
    """The geohub `Family` of a model (`geohub.auto.family_for_model`), or None."""
    from ..auto import family_for_model

    return family_for_model(model)


def explain_hook(model):
    """The explain hook module of the model's family; `ExplainError` naming why when there is none."""
    family = family_of(model)
    hook = family.explain_hook() if family is not None else None
    if hook is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        why = f": {family.explain.reason}" if family is not None and hasattr(family.explain, "reason") else ""
        raise ExplainError(f"no explanation recipe for model type {model_type!r} ({type(model).__name__}){why}",
                           field="model", expected="a model of a geohub family that declares explain= in its "
                           "family.py")  # fmt: skip
    return hook


def require_picker(model) -> None:
    """`ExplainError` unless `model` is a phase picker (its family's explain hook has `pick_target`)."""
    family = family_of(model)
    hook = family.explain_hook() if family is not None else None
    if not hasattr(hook, "pick_target"):
        raise ExplainError(f"model type {getattr(model.config, 'model_type', None)!r} does not pick phases",
                           field="model", expected="a seismic phase picker")  # fmt: skip


class _FirstRows(dict):
    """The first row of each input; a missing input is an `ExplainError` naming it."""

    def __missing__(self, name):
        raise ExplainError(f"missing input {name!r}", field=name, expected=f"inputs with {name!r}")


def _first_rows(batch: dict[str, Any]) -> _FirstRows:
    rows = _FirstRows()
    for name, value in batch.items():
        if value is None or not isinstance(value, (torch.Tensor, np.ndarray, list, tuple)):
            continue
        try:
            rows[name] = torch.as_tensor(value)[:1].clone()  # a copy: inference-mode tensors cannot enter autograd
        except (TypeError, ValueError):  # not numbers (e.g. words): no model input
            continue
    return rows


def _problem(model, batch, target, phase: str, tokenizer) -> Problem:
    hook = explain_hook(model)
    return Problem(**hook.problem(model, _first_rows(batch), target, phase, tokenizer))


def _integrated_gradients(
    problem: Problem, n_steps: int, max_steps: int, tolerance: float, internal_batch_size: int | None = None
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
            completeness_tolerance: float = 0.01, internal_batch_size: int | None = None,
            baseline: Any = None) -> Explanation:  # fmt: skip
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
        baseline: `(inputs, hook's baseline) -> baseline` tensor replacing the family's default baseline (e.g.
            the picker explanation's noise baseline that equals the input on zero padding).
    """
    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}", field="method", expected=", ".join(METHODS))
    if phase not in {"P", "S", "D"}:
        raise ExplainError(f"unknown phase {phase!r}", field="phase", expected="P, S or D")
    if method == "integrated_gradients":  # the step cap of the memory budget, before any allocation
        from ..data.limits import check_explain_steps

        check_explain_steps(max_steps, "max_steps", error=ExplainError)
    require_torch(model)
    model.eval()
    with torch.inference_mode(False), torch.enable_grad():  # also inside a pipeline's or caller's no_grad
        return _explain(model, inputs, method, target, phase, tokenizer, n_steps, max_steps, completeness_tolerance,
                        internal_batch_size, baseline)  # fmt: skip


def _explain(model, inputs, method, target, phase, tokenizer, n_steps, max_steps, completeness_tolerance,
             internal_batch_size, baseline=None) -> Explanation:  # fmt: skip
    problem = _problem(model, inputs, target, phase, tokenizer)
    if baseline is not None:
        problem.baseline = baseline(problem.inputs, problem.baseline)
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
    from ..data.limits import check_explain_steps

    check_explain_steps(largest, "explain_max_steps", error=ExplainError)  # the memory budget's cap
    if model is not None:
        require_torch(model)
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
