"""Terrain GAN: `TerrainGANConfig`, `TerrainGAN` (generator + discriminator), `TerrainProcessor` (metres <-> model)."""

from .configuration_terrain_gan import TerrainGANConfig
from .modeling_terrain_gan import (
    TerrainDiscriminator,
    TerrainDiscriminatorBlock,
    TerrainGAN,
    TerrainGANPreTrainedModel,
    TerrainGenerator,
    TerrainGeneratorBlock,
)
from .processing_terrain_gan import TerrainProcessor

__all__ = [
    "TerrainGANConfig",
    "TerrainGAN",
    "TerrainGANPreTrainedModel",
    "TerrainGenerator",
    "TerrainDiscriminator",
    "TerrainGeneratorBlock",
    "TerrainDiscriminatorBlock",
    "TerrainProcessor",
]
