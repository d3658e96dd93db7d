"""Terrain GAN: `TerrainGANConfig`, `TerrainGAN` (generator + discriminator), `TerrainImageProcessor` (metres <-> model)."""

from .configuration_terrain_gan import TerrainGANConfig
from .modeling_terrain_gan import (
    TerrainDiscriminator,
    TerrainDiscriminatorBlock,
    TerrainGAN,
    TerrainGANPreTrainedModel,
    TerrainGenerator,
    TerrainGeneratorBlock,
)
from .processing_terrain_gan import TerrainImageProcessor, TerrainProcessor

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
