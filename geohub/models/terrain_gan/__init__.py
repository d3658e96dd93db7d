"""Terrain GAN: `TerrainGANConfig`, `TerrainGAN` (generator + discriminator), `TerrainImageProcessor` (metres <-> model)."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_terrain_gan": ["TerrainGANConfig"],
        ".modeling_terrain_gan": [
            "TerrainDiscriminator",
            "TerrainDiscriminatorBlock",
            "TerrainGAN",
            "TerrainGANPreTrainedModel",
            "TerrainGenerator",
            "TerrainGeneratorBlock",
        ],
        ".processing_terrain_gan": ["TerrainImageProcessor", "TerrainProcessor"],
    },
)

__all__ = [
    "TerrainGANConfig",
    "TerrainGAN",
    "TerrainGANPreTrainedModel",
    "TerrainGenerator",
    "TerrainDiscriminator",
    "TerrainGeneratorBlock",
    "TerrainDiscriminatorBlock",
    "TerrainImageProcessor",
    "TerrainProcessor",
]
