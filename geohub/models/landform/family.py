"""The landform classifier family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="landform",
    package=__package__,
    input_type="image",
    config=".configuration_landform:LandformConfig",
    model_type="geohub_landform",
    models={".modeling_landform:LandformCNNForImageClassification": "AutoModelForImageClassification"},
    processor=".processing_landform:LandformImageProcessor",
    processor_auto="AutoImageProcessor",
    # folders saved with the terrain family's TerrainImageProcessor (before this family had its own class) load as
    # that class through the terrain family's registration; TerrainProcessor is geohub 0.1's name
    legacy_processors=("geohub.models.terrain_gan.processing_terrain_gan:TerrainProcessor",),
    pipelines=(
        PipelineDecl(
            "landform-classification",
            "geohub.pipelines.terrain:LandformClassificationPipeline",
            "AutoModelForImageClassification",
            "image",
        ),
    ),
    task="landform",
    task_object="geohub.training.landform:LANDFORM",
    card=CardDecl(
        task_name="Landform classification",
        architecture="VGG-style 2-D CNN with group normalisation over elevation patches",
        citation="Simonyan, K. & Zisserman, A. (2015). Very deep convolutional networks for large-scale image "
        "recognition. ICLR. arXiv:1409.1556",
        data="Real terrain: matplotlib's Jacksboro DEM (3 arc-seconds, resampled to 92.7 m square cells), top 75 % "
        "of rows for training, bottom 25 % held out; each tile labelled ridge / hillside / valley from the "
        "geomorphons (Jasiewicz & Stepinski 2013, whitebox-workflows) of its central cells "
        "(geohub.data.geomorphons.landform_tiles).",
        tags=("terrain", "geomorphometry", "landform-classification"),
        # elevation patches, not photographs: the Hub's image widget would send RGB pictures
        pipeline_tag=None,
    ),
    demo=DemoDecl("landform", "--landform-model", "GEOHUB_LANDFORM_MODEL", "landform classifier", tab="landform"),
    quickstart={  # = recipes/landform/config_jacksboro.yaml (tests/models/landform checks they agree)
        "hidden_sizes": "16,32,64",
        "layers_per_stage": 2,
        "classifier_dropout": 0.0,
        "elevation_scale": 100.0,
        "dem": "jacksboro",
        "held_out_fraction": 0.25,
        "patch_size": 32,
        "context_cells": 8,
        "train_stride": 4,
        "eval_stride": 8,
        "search_cells": 10,
        "flat_degrees": 1.0,
        "margin": 0.1,
        "augment_copies": 2,
        "num_train_epochs": 6,
        "per_device_train_batch_size": 64,
        "per_device_eval_batch_size": 256,
        "learning_rate": 3e-3,
        "weight_decay": 1e-4,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 20,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_total_limit": 1,
        "logging_steps": 50,
        "report_to": "none",
        "seed": 42,
        "resume_from_checkpoint": "last",
    },
    quickstart_order=30,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={
        "train_stride": 32,
        "eval_stride": 16,
        "augment_copies": 0,
        "num_train_epochs": 1,
        "hidden_sizes": "8,16",
    },  # fmt: skip
    explain=".explain_landform",
    export=ExportDecl(),
    tiny_config={"image_size": 16, "hidden_sizes": [4, 8], "layers_per_stage": 1},
)
