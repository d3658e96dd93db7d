"""geohub.explain: IG completeness within 1 % for every family, the cheaper methods' shapes, and the
model-randomisation sanity check of Adebayo et al. (2018) on a briefly trained picker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from geohub.auto import families
from geohub.explain import METHODS, ExplainError, explain
from geohub.explain.files import READERS
from geohub.export import export_spec
from geohub.family import OptOut
from tests.test_export import _picker


def explained() -> list[str]:
    """The families that declare an explain hook (`explain=".explain_<family>"`; the tests grow with them)."""
    return sorted(n for n, f in families().items() if isinstance(f.explain, str))


def _inputs(model) -> dict:
    """One example input of the family's tiny model: row 1 of the example inputs its `export=` declaration gives."""
    return {k: v[1:2] for k, v in export_spec(model).inputs.items()}


def _expected_shape(input_type: str, inputs: dict) -> tuple[int, ...]:
    """Attributions per input element: samples `(C, T)`, pixels `(H, W)`, latent dimensions, tokens or sentences."""
    if input_type == "waveform":
        return tuple(inputs["inputs"].shape[1:])
    if input_type == "image":
        return tuple(inputs["pixel_values"].shape[2:])
    if input_type == "latent":
        return tuple(inputs["latents"].shape[1:])
    return tuple(inputs["input_ids"].shape[1:2])  # tokens (tagger) or sentences (extractive summarizer)


@pytest.mark.parametrize("name", sorted(families()))
def test_every_family_declares_its_explanation(name):
    family = families()[name]
    assert isinstance(family.explain, (str, OptOut)), (
        f"{name}: declare explain='.explain_{name}' (a hook module) or explain=OptOut(reason) in its family.py"
    )
    if isinstance(family.explain, str):
        hook = family.explain_hook()
        assert callable(hook.problem) and hook.FILE_READER in READERS
        assert family.tiny_config is not None, f"{name}: declare tiny_config so that these tests build its model"


@pytest.mark.parametrize("name", explained())
def test_integrated_gradients_completeness_and_shapes(name):
    torch.manual_seed(0)
    family = families()[name]
    model = family.tiny_model()
    inputs = _inputs(model)
    shape = _expected_shape(family.input_type, inputs)
    result = explain(model, inputs, method="integrated_gradients")
    assert result.attributions.shape == shape
    assert np.isfinite(result.attributions).all()
    difference = result.output - result.baseline_output
    assert abs(result.attributions.sum() - difference) <= 0.01 * abs(difference) + 1e-6, (result.target, difference)
    for method in METHODS[1:]:
        cheap = explain(model, inputs, method=method, target=result.target_index)
        assert cheap.attributions.shape == shape and cheap.target == result.target
        assert np.abs(cheap.attributions).sum() > 0


def test_errors():
    model = _picker().eval()
    with pytest.raises(ExplainError, match="unknown method"):
        explain(model, {"inputs": torch.randn(1, 3, 600)}, method="shap")
    with pytest.raises(ExplainError, match="target sample"):
        explain(model, {"inputs": torch.randn(1, 3, 600)}, target=10_000)
    with pytest.raises(ExplainError, match="missing input"):
        explain(model, {"waveforms": torch.randn(1, 3, 600)})
    with pytest.raises(ExplainError, match="no explanation recipe"):
        explain(torch.nn.Linear(2, 2), {"inputs": torch.randn(1, 2)})


def _trained_picker():
    """A tiny picker trained for 120 steps on synthetic windows (P picks become sharp near the onset)."""
    from geohub.data.synthetic_seismic import generate_synthetic_windows
    from geohub.models.seismic_picker import SeismicFeatureExtractor, make_picker_labels

    torch.manual_seed(0)
    model = _picker()
    data = generate_synthetic_windows(512, window_length=600, seed=0, noise_fraction=0.0, snr_db_range=(10, 30),
                                      p_position_range=(0.2, 0.6))  # fmt: skip
    extractor = SeismicFeatureExtractor(window_length=600)
    inputs = extractor(data["waveforms"])["inputs"]
    labels = torch.from_numpy(make_picker_labels(data["p_sample"], data["s_sample"], 600))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _step in range(120):
        index = torch.randint(0, len(inputs), (32,))
        loss = model(inputs[index], labels=labels[index]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = generate_synthetic_windows(4, window_length=600, seed=99, noise_fraction=0.0, snr_db_range=(15, 25),
                                      p_position_range=(0.3, 0.5))  # fmt: skip
    return model.eval(), extractor(test["waveforms"])["inputs"], test["p_sample"]


def test_randomised_weights_change_the_attributions():
    """Adebayo et al. (2018): a trained model's attributions must differ clearly from those of the same architecture
    with randomised weights; the trained picker's also concentrate near the P onset it picks."""
    trained, inputs, p_samples = _trained_picker()
    randomised = _picker().eval()
    torch.manual_seed(123)
    randomised.apply(randomised._init_weights)
    for index in range(2):
        window = {"inputs": inputs[index : index + 1]}
        p = int(p_samples[index])
        ours = explain(trained, window, target=p)
        theirs = explain(randomised, window, target=p)
        a, b = ours.attributions.ravel(), theirs.attributions.ravel()
        rho = spearmanr(a, b).statistic  # NaN when the random model's attributions are all zero: clearly different
        assert not rho >= 0.5, rho
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
        assert abs(cosine) < 0.5, cosine
        magnitude = np.abs(ours.attributions).sum(0)
        near = np.abs(np.arange(600) - p) <= 50  # +-0.5 s around the P onset
        assert magnitude[near].sum() / magnitude.sum() > 2 * near.mean()  # the trained picker looks near P
        assert abs(ours.relative_completeness_gap) <= 0.01


def test_internal_batch_size_bounds_memory_not_the_result():
    """A server's small `internal_batch_size` runs the same integration in more, smaller model calls."""
    torch.manual_seed(0)
    model = _picker().eval()
    inputs = _inputs(model)
    calls: list[int] = []
    hook = model.register_forward_pre_hook(lambda _m, args, kwargs: calls.append(kwargs["inputs"].shape[0]),
                                           with_kwargs=True)  # fmt: skip
    try:
        small = explain(model, inputs, n_steps=16, max_steps=16, internal_batch_size=4)
        small_calls = list(calls)
        calls.clear()
        large = explain(model, inputs, n_steps=16, max_steps=16)
    finally:
        hook.remove()
    assert max(small_calls) <= 4 < max(calls)
    np.testing.assert_allclose(small.attributions, large.attributions, rtol=1e-4, atol=1e-7)
