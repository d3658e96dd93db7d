"""Landform CNN: shapes, loss, exact save/load round trip, Auto class, bad input, and a tiny CLI training run."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModelForImageClassification

import geohub  # noqa: F401  (registers the Auto classes)
from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
from geohub.models.terrain_gan import TerrainProcessor
from tests.conftest import run_command


class LandformModelTester:
    """Builds a tiny config and inputs."""

    batch_size = 3
    image_size = 16

    def get_config(self) -> LandformConfig:
        return LandformConfig(image_size=self.image_size, hidden_sizes=[4, 8], layers_per_stage=1)

    def prepare_inputs(self, seed: int = 0) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        pixel_values = torch.randn(self.batch_size, 1, self.image_size, self.image_size, generator=generator)
        return {"pixel_values": pixel_values, "labels": torch.tensor([0, 2, 1])}


@pytest.fixture
def tester() -> LandformModelTester:
    return LandformModelTester()


def test_forward_shapes_and_loss(tester):
    torch.manual_seed(0)
    model = LandformCNNForImageClassification(tester.get_config()).eval()
    inputs = tester.prepare_inputs()
    out = model(**inputs)
    assert out.logits.shape == (3, 3)
    assert out.pooler_output.shape == (3, 8)
    expected = torch.nn.functional.cross_entropy(out.logits, inputs["labels"])
    assert torch.allclose(out.loss, expected)
    assert model(pixel_values=inputs["pixel_values"]).loss is None
    assert model.config.id2label[2] == "valley"


def test_outputs_do_not_depend_on_the_rest_of_the_batch(tester):
    """Group norm: each sample's logits are the same alone or in a batch (needed for N-process equivalence)."""
    config = tester.get_config()
    config.classifier_dropout = 0.0
    model = LandformCNNForImageClassification(config).train()
    pixel_values = tester.prepare_inputs()["pixel_values"]
    together = model(pixel_values).logits
    alone = torch.cat([model(pixel_values[i : i + 1]).logits for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-6)


def test_save_load_round_trip_is_exact(tmp_path, tester):
    model = LandformCNNForImageClassification(tester.get_config()).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    config = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(config, LandformConfig)
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, LandformCNNForImageClassification)
    inputs = tester.prepare_inputs(seed=1)
    assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)


def test_bad_config_and_input(tester):
    with pytest.raises(ValueError, match="hidden_sizes"):
        LandformConfig(hidden_sizes=[])
    with pytest.raises(ValueError, match="too small"):
        LandformConfig(image_size=4, hidden_sizes=[4, 8, 16])
    model = LandformCNNForImageClassification(tester.get_config())
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.zeros(2, 16, 16))


def test_landform_recipe_trains_from_the_cli(tmp_path, repo_root):
    """`geohub train` on the landform recipe (shrunk) writes a model, its processor and metrics."""
    out = tmp_path / "run"
    result = run_command(
        [
            sys.executable,
            "-m",
            "geohub.cli",
            "train",
            "recipes/landform/config_jacksboro.yaml",
            "--config_file",
            "recipes/accelerate_configs/cpu.yaml",
            "--",
            "--output_dir",
            str(out),
            "--train_stride",
            "32",
            "--eval_stride",
            "16",
            "--augment_copies",
            "0",
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "16",
            "--hidden_sizes",
            "4,8",
        ],
        cwd=repo_root,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "all_results.json").read_text())
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and -1.0 <= metrics["eval_kappa"] <= 1.0
    assert 0.0 < metrics["eval_majority_accuracy"] < 1.0
    model = AutoModelForImageClassification.from_pretrained(out)
    assert list(model.config.id2label.values()) == ["ridge", "hillside", "valley"]
    processor = TerrainProcessor.from_pretrained(out)
    assert processor.normalization == "patch" and processor.patch_size == 32
    assert processor.spacing_m == pytest.approx(92.66, abs=0.01)  # Jacksboro on square cells
    assert model.config.hidden_sizes == [4, 8]


def test_quickstart_recipe_is_the_jacksboro_recipe_file(repo_root):
    """The family's quickstart recipe (what `geohub quickstart --retrain` trains) is recipes/landform/config_jacksboro.yaml."""
    import yaml

    from geohub.models.landform.family import FAMILY

    recipe = yaml.safe_load((repo_root / "recipes/landform/config_jacksboro.yaml").read_text())
    recipe.pop("task"), recipe.pop("output_dir")
    assert recipe == dict(FAMILY.quickstart)
