"""geohub.explain: IG completeness within 1 % for every family, the cheaper methods' shapes, and the
model-randomisation sanity check of Adebayo et al. (2018) on a briefly trained picker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from geohub.explain import METHODS, ExplainError, explain
from tests.test_export import (
    _denoiser,
    _gpd,
    _landform,
    _magnitude,
    _picker,
    _summarizer,
    _tagger,
    _terrain_gan,
)


def _inputs(family: str, model) -> dict:
    generator = torch.Generator().manual_seed(1)
    if family in {"seismic_picker", "seismic_magnitude", "seismic_denoiser", "gpd"}:
        length = 400 if family == "gpd" else 600
        batch = {"inputs": torch.randn(1, 3, length, generator=generator)}
        if family == "seismic_magnitude":
            batch["log_amplitude"] = torch.randn(1, 3, generator=generator)
        return batch
    if family == "landform":
        return {"pixel_values": torch.randn(1, 1, 16, 16, generator=generator)}
    if family == "terrain_gan":
        return {"latents": torch.randn(1, 8, generator=generator)}
    if family == "bert_tagger":
        return {
            "input_ids": torch.randint(5, 100, (1, 12), generator=generator),
            "attention_mask": torch.ones(1, 12).long(),
        }
    mask = torch.ones(1, 4, 6, dtype=torch.long)
    mask[0, 3] = 0
    return {"input_ids": torch.randint(5, 1000, (1, 4, 6), generator=generator), "attention_mask": mask}


FAMILIES = {"seismic_picker": (_picker, (3, 600)), "seismic_magnitude": (_magnitude, (3, 600)),
            "seismic_denoiser": (_denoiser, (3, 600)), "gpd": (_gpd, (3, 400)), "landform": (_landform, (16, 16)),
            "terrain_gan": (_terrain_gan, (8,)), "bert_tagger": (_tagger, (12,)),
            "extractive_summarizer": (_summarizer, (4,))}  # fmt: skip


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_integrated_gradients_completeness_and_shapes(family):
    torch.manual_seed(0)
    build, shape = FAMILIES[family]
    model = build().eval()
    inputs = _inputs(family, model)
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
    inputs = _inputs("seismic_picker", model)
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
