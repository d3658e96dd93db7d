"""Terrain inference and pipelines: generate_terrain, classify_landform, hillshade, save_dem, pipeline()."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import pipeline

import geohub  # noqa: F401  (registers the pipelines)
from geohub.data.dem import read_dem
from geohub.data.synthetic_terrain import synthetic_landform_patch
from geohub.errors import GeohubError, RasterError
from geohub.inference.terrain import (
    classify_landform,
    generate_terrain,
    hillshade,
    load_terrain_model,
    save_dem,
    save_hillshade_png,
)
from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
from geohub.models.terrain_gan import TerrainGAN, TerrainGANConfig, TerrainImageProcessor


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan")
    config = TerrainGANConfig(image_size=16, latent_dim=8, generator_channels=16, discriminator_channels=4,
                              min_channels=4, elevation_mean=400.0, elevation_std=50.0, spacing_m=90.0)  # fmt: skip
    TerrainGAN(config).save_pretrained(folder)
    TerrainImageProcessor(elevation_mean=400.0, elevation_std=50.0, spacing_m=90.0, patch_size=16).save_pretrained(
        folder
    )
    return folder


def test_generate_and_save_as_npy_and_geotiff(gan_dir, tmp_path):
    model, processor = load_terrain_model(gan_dir)
    dems = generate_terrain(model, 2, seed=0, processor=processor)
    assert dems.shape == (2, 16, 16) and 250 < dems.mean() < 550
    save_dem(dems[0], tmp_path / "g.npy")
    assert np.array_equal(np.load(tmp_path / "g.npy"), dems[0])
    save_dem(dems[0], tmp_path / "g.tif", spacing_m=90.0)
    back = read_dem(tmp_path / "g.tif")
    assert back.spacing_m == (90.0, 90.0) and np.array_equal(back.elevation, dems[0])
    with pytest.raises(RasterError, match="spacing"):
        save_dem(dems[0], tmp_path / "h.tif")
    png = save_hillshade_png(dems[0], 90.0, tmp_path / "g.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_hillshade_of_a_plane_facing_the_sun():
    x = np.arange(20) * 10.0
    flat = hillshade(np.zeros((20, 20)), 10.0)
    assert np.allclose(flat, np.cos(np.radians(45)))
    east_rising = np.tile(x, (20, 1))  # 45-degree slope facing west
    assert hillshade(east_rising, 10.0, azimuth_deg=270.0) == pytest.approx(1.0)  # sun in the west, 45 deg high
    assert hillshade(east_rising, 10.0, azimuth_deg=90.0) == pytest.approx(0.0, abs=1e-6)
    north_rising = np.tile(x[::-1, None], (1, 20))  # row 0 is north: faces south
    assert hillshade(north_rising, 10.0, azimuth_deg=180.0) == pytest.approx(1.0)


def test_classify_landform_and_errors(landform_dir):
    model, processor = load_terrain_model(landform_dir)
    patch = synthetic_landform_patch("mountain", 32, 25.0, np.random.default_rng(0))  # resampled to 50 m: 16 cells
    scores = classify_landform(model, patch, spacing_m=25.0, processor=processor)
    assert set(scores) == {"ridge", "hillside", "valley"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
    # the processor saved with the model is used when none is given (never a guessed default)
    assert classify_landform(model, patch, spacing_m=25.0) == pytest.approx(scores)
    with pytest.raises(RasterError, match="at least 16 x 16"):
        classify_landform(model, np.zeros((8, 8)), spacing_m=50.0, processor=processor)
    with pytest.raises(RasterError, match="spacing_m"):
        classify_landform(model, np.zeros((16, 16)))
    with pytest.raises(RasterError, match="spacing_m"):
        classify_landform(model, np.zeros((16, 16)), spacing_m=0.0, processor=processor)
    with pytest.raises(RasterError, match="nodata"):
        classify_landform(model, np.full((16, 16), np.nan), spacing_m=50.0, processor=processor)


def test_large_dems_are_tiled_and_averaged(landform_dir):
    """A rectangular DEM larger than one patch: the mean of its patches' probabilities (what the demo shows)."""
    model, processor = load_terrain_model(landform_dir)
    rng = np.random.default_rng(1)
    dem = rng.normal(300, 40, (32, 48)).astype(np.float32)
    scores = classify_landform(model, dem, spacing_m=50.0, processor=processor)
    by_patch = [classify_landform(model, dem[r : r + 16, c : c + 16], spacing_m=50.0, processor=processor)
                for r in (0, 16) for c in (0, 16, 32)]  # fmt: skip
    for label, value in scores.items():
        assert value == pytest.approx(np.mean([p[label] for p in by_patch]), abs=1e-5)


def test_a_folder_without_its_processor_is_an_error(tmp_path):
    from geohub.errors import HubError

    LandformCNNForImageClassification(LandformConfig(image_size=16, hidden_sizes=[4, 8])).save_pretrained(tmp_path)
    with pytest.raises(HubError, match="no processor"):
        load_terrain_model(tmp_path)


def test_pipelines(gan_dir, landform_dir):
    generate = pipeline("terrain-generation", model=str(gan_dir))
    out = generate(3, seed=1)
    assert out["elevation"].shape == (3, 16, 16) and out["spacing_m"] == 90.0
    assert np.array_equal(generate({"num_samples": 3, "seed": 1})["elevation"], out["elevation"])
    classify = pipeline("landform-classification", model=str(landform_dir))
    ranked = classify(np.random.default_rng(0).normal(300, 40, (16, 16)), spacing_m=50.0, top_k=2)
    assert len(ranked) == 2 and ranked[0]["score"] >= ranked[1]["score"]


def test_pipelines_batch_lists_and_workers(gan_dir, landform_dir):
    """batch_size, lists of inputs and num_workers give the same answers as one input at a time."""
    generate = pipeline("terrain-generation", model=str(gan_dir))
    single = generate(3, seed=4)["elevation"]
    batched = generate([{"num_samples": 3, "seed": 4}, {"num_samples": 1, "seed": 5}], batch_size=2, num_workers=0)
    assert np.allclose(batched[0]["elevation"], single, atol=1e-4) and batched[1]["elevation"].shape == (1, 16, 16)
    classify = pipeline("landform-classification", model=str(landform_dir))
    rng = np.random.default_rng(2)
    dems = [rng.normal(300, 40, (16, 16)), rng.normal(300, 90, (32, 32)), rng.normal(300, 10, (16, 32))]
    one_by_one = [classify(d, spacing_m=50.0) for d in dems]
    together = classify(dems, spacing_m=50.0, batch_size=2, num_workers=1)
    for a, b in zip(one_by_one, together):
        assert [x["label"] for x in a] == [x["label"] for x in b]
        assert [x["score"] for x in a] == pytest.approx([x["score"] for x in b], abs=1e-5)
    # the pipeline and the library function (the demo's) agree on a large DEM
    model, processor = load_terrain_model(landform_dir)
    scores = classify_landform(model, dems[1], spacing_m=50.0, processor=processor)
    assert {x["label"]: x["score"] for x in one_by_one[1]} == pytest.approx(scores, abs=1e-5)


@pytest.mark.parametrize("bad", [0, 2.7, -1, "3", float("nan")])
def test_generation_counts_must_be_whole_positive_numbers(gan_dir, bad):
    generate = pipeline("terrain-generation", model=str(gan_dir))
    with pytest.raises(RasterError, match="num_samples"):
        generate(bad)


def test_top_k_and_seed_are_checked(gan_dir, landform_dir):
    with pytest.raises(GeohubError, match="seed"):
        pipeline("terrain-generation", model=str(gan_dir))(1, seed=1.5)
    classify = pipeline("landform-classification", model=str(landform_dir))
    with pytest.raises(GeohubError, match="top_k"):
        classify(np.zeros((16, 16)), spacing_m=50.0, top_k=-1)
    assert len(classify(np.zeros((16, 16)), spacing_m=50.0, top_k=2)) == 2
