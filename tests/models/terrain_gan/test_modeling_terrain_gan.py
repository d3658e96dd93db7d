"""Terrain GAN: shapes, presets, losses, exact save/load round trip, generate in metres, processor round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

import geohub  # noqa: F401  (registers the Auto classes)
from geohub.models.terrain_gan import TerrainGAN, TerrainGANConfig, TerrainProcessor


class TerrainGANModelTester:
    """Builds a tiny config and latents."""

    batch_size = 3

    def get_config(self, **kwargs) -> TerrainGANConfig:
        defaults = {"image_size": 16, "latent_dim": 8, "generator_channels": 16, "discriminator_channels": 4,
                    "min_channels": 4, "elevation_mean": 500.0, "elevation_std": 120.0, "spacing_m": 90.0}  # fmt: skip
        return TerrainGANConfig(**{**defaults, **kwargs})

    def latents(self, seed: int = 0, **kwargs) -> torch.Tensor:
        shape = self.get_config(**kwargs).latent_shape  # (8, 13, 13): the latent field of one 16 x 16 patch
        return torch.randn(self.batch_size, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def tester() -> TerrainGANModelTester:
    return TerrainGANModelTester()


def test_forward_shapes_and_presets(tester):
    model = TerrainGAN(tester.get_config()).eval()
    out = model(tester.latents(), return_critic_scores=True)
    assert out.samples.shape == (3, 1, 16, 16) and out.critic_scores.shape == (3,)
    assert model(tester.latents()).critic_scores is None
    for size, ups in ((64, 4), (128, 5)):
        config = TerrainGANConfig.preset(size)
        assert config.image_size == size and config.num_upsamplings == ups
    big = TerrainGAN(TerrainGANConfig.preset(64, generator_channels=16, discriminator_channels=4))
    assert big(big.sample_latents(1)).samples.shape == (1, 1, 64, 64)
    legacy = TerrainGAN(tester.get_config(generator_type="dcgan"))  # geohub 0.1's patch generator
    assert legacy(torch.randn(3, 8), return_critic_scores=True).samples.shape == (3, 1, 16, 16)
    wide = model(torch.randn(1, 8, 20, 30)).samples  # the latent field has no fixed size: 4 cells per latent cell
    assert wide.shape == (1, 1, 4 * 20 - 36, 4 * 30 - 36)


def test_discriminator_is_spectrally_normalised(tester):
    model = TerrainGAN(tester.get_config())
    conv = model.discriminator.blocks[0].conv
    assert hasattr(conv, "parametrizations")
    for _ in range(20):  # power iterations converge in training mode
        model.discriminator(torch.randn(2, 1, 16, 16))
    weight = conv.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(weight, ord=2) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_losses_are_finite_and_reach_both_networks(tester, loss):
    model = TerrainGAN(tester.get_config(loss=loss))
    real = torch.randn(3, 1, 16, 16)
    fake = model(tester.latents()).samples
    d_loss, logs = model.discriminator_loss(real, fake.detach())
    d_loss.backward()
    assert torch.isfinite(d_loss) and {"real_score", "fake_score"} <= set(logs)
    assert ("gradient_penalty" in logs) == (loss == "wgan-gp")
    assert model.generator.to_elevation.weight.grad is None  # fakes were detached
    model.generator_loss(fake).backward()
    assert model.generator.to_elevation.weight.grad.abs().sum() > 0


def test_save_load_round_trip_is_exact_and_generate_is_seeded(tmp_path, tester):
    model = TerrainGAN(tester.get_config()).eval()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), TerrainGANConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, TerrainGAN)
    latents = tester.latents(1)
    assert torch.equal(model(latents, return_critic_scores=True).critic_scores,
                       loaded(latents, return_critic_scores=True).critic_scores)  # fmt: skip
    a, b = model.generate(4, seed=3), loaded.generate(4, seed=3)
    assert a.shape == (4, 16, 16) and a.dtype == np.float32 and np.array_equal(a, b)
    assert not np.array_equal(a, model.generate(4, seed=4))


def test_generate_returns_metres_through_the_processor(tester):
    model = TerrainGAN(tester.get_config()).eval()
    normalised = model.generator(model.sample_latents(2, torch.Generator().manual_seed(5))).detach()
    metres = model.generate(2, seed=5)
    assert np.allclose(metres, normalised[:, 0].numpy() * 120.0 + 500.0, atol=1e-3)
    other = TerrainProcessor(elevation_mean=0.0, elevation_std=1.0)
    assert np.allclose(model.generate(2, seed=5, processor=other), normalised[:, 0].numpy(), atol=1e-5)


def test_processor_round_trip_metres_in_metres_out(tmp_path):
    rng = np.random.default_rng(0)
    patches = (rng.standard_normal((5, 16, 16)) * 80 + 650).astype(np.float32)
    processor = TerrainProcessor(spacing_m=92.7, patch_size=16).fit(patches)
    values = processor(patches)["pixel_values"]
    assert values.shape == (5, 1, 16, 16) and abs(float(values.mean())) < 1e-4
    assert np.allclose(processor.postprocess(values), patches, atol=1e-3)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["elevation_mean"] == pytest.approx(float(patches.mean()), rel=1e-6)
    loaded = TerrainProcessor.from_pretrained(tmp_path)
    assert np.array_equal(loaded(patches)["pixel_values"].numpy(), values.numpy())
    local = TerrainProcessor(normalization="patch", elevation_scale=100.0)
    local_values = local(patches[0])["pixel_values"]
    assert np.allclose(local.postprocess(local_values)[0], patches[0] - patches[0].mean(), atol=1e-3)
    assert local.resample(np.zeros((10, 10)), 60.0).shape == (20, 20)  # 60 m -> the default 30 m


def test_bad_config_and_inputs(tester):
    with pytest.raises(ValueError, match="power of two"):
        TerrainGANConfig(image_size=48)
    with pytest.raises(ValueError, match="loss"):
        TerrainGANConfig(loss="bce")
    with pytest.raises(ValueError, match="latents"):
        TerrainGAN(tester.get_config())(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="latents"):  # a field too small for one output cell
        TerrainGAN(tester.get_config())(torch.zeros(1, 8, 7, 7))
    with pytest.raises(ValueError, match="generator_type"):
        TerrainGANConfig(generator_type="stylegan")
    with pytest.raises(ValueError, match="NaN"):
        TerrainProcessor()(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="normalization"):
        TerrainProcessor(normalization="minmax")
