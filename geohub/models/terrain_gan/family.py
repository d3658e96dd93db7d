"""The terrain GAN family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="terrain_gan",
    package=__package__,
    input_type="latent",
    config=".configuration_terrain_gan:TerrainGANConfig",
    model_type="geohub_terrain_gan",
    models={".modeling_terrain_gan:TerrainGAN": "AutoModel"},
    processor=".processing_terrain_gan:TerrainImageProcessor",
    processor_auto="AutoImageProcessor",
    legacy_processors=("geohub.models.terrain_gan.processing_terrain_gan:TerrainProcessor",),
    pipelines=(PipelineDecl("terrain-generation", "geohub.pipelines.terrain:TerrainGenerationPipeline"),),
    task="terrain_gan",
    task_object="geohub.training.terrain:TERRAIN_GAN",
    card=CardDecl(
        task_name="Terrain generation",
        architecture="fully convolutional generator over a position-keyed latent field (seamless terrain of any "
        "extent) with a spectrally normalised discriminator",
        citation="Jetchev, N., Bergmann, U. & Vollgraf, R. (2016). Texture synthesis with spatial generative "
        "adversarial networks. arXiv:1611.08207; Radford, A., Metz, L. & Chintala, S. (2016). Unsupervised "
        "representation learning with deep convolutional generative adversarial networks. ICLR. arXiv:1511.06434",
        data="matplotlib's Jacksboro fault DEM (sample data shipped with matplotlib, matplotlib licence; training "
        "rows only, the bottom 25 % held out), geohub synthetic terrain, or the DEM rasters given in the recipe.",
        tags=("terrain", "dem", "generative-adversarial-network"),
        pipeline_tag="unconditional-image-generation",
    ),
    demo=DemoDecl("terrain_gan", "--terrain-model", "GEOHUB_TERRAIN_MODEL", "terrain GAN", tab="terrain"),
    # 32 x 32 crops of matplotlib's real Jacksboro DEM (ships with matplotlib, no download), training rows only;
    # the convolutional generator then makes terrain of any extent: a few minutes on a quiet 2-core CPU. Dilated
    # convs at the latent resolution widen its context, Gaussian-smoothed structure channels (sigma 16 latent
    # cells, 3 km) give regional elevation, the spectral loss holds the power spectrum to the real patches'
    # (issue #24: trials and figures in recipes/terrain_gan/README.md)
    quickstart={
        "dem": "jacksboro",
        "image_size": 32,
        "stride": 4,
        "generator_type": "convolutional",
        "field_upsamplings": 1,
        "context_dilations": [2, 4],
        "structure_channels": 4,
        "structure_sigma": 16.0,
        "spectral_loss_weight": 3.0,
        "latent_dim": 16,
        "generator_channels": 64,
        "discriminator_channels": 16,
        "min_channels": 32,
        "max_steps": 600,
        "per_device_train_batch_size": 16,
        "generator_learning_rate": 2e-4,
        "discriminator_learning_rate": 2e-4,
        "ema_decay": 0.99,
        "logging_steps": 50,
        "save_steps": 200,
        "eval_steps": 0,
        "report_to": "none",
        "seed": 42,
        "resume_from_checkpoint": "last",
    },
    quickstart_order=40,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={
        "dem": "synthetic",
        "num_synthetic_patches": 16,
        "image_size": 16,
        "latent_dim": 16,
        "generator_channels": 16,
        "discriminator_channels": 8,
        "min_channels": 4,
        "structure_sigma": 2.0,
        "max_steps": 2,
        "per_device_train_batch_size": 8,
        "save_steps": 0,
        "report_to": "none",
        "disable_tqdm": True,
    },  # fmt: skip
    explain=".explain_terrain_gan",
    # the convolutional generator has no Linear layer: int8 (Linear/LSTM, MatMul quantisation) does not apply
    export=ExportDecl(formats=("onnx",)),
    tiny_config={
        "image_size": 16,
        "latent_dim": 8,
        "generator_channels": 16,
        "discriminator_channels": 4,
        "min_channels": 4,
    },
)
