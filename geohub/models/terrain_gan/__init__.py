"""Terrain GAN: `TerrainGANConfig`, `TerrainGAN` (generator + discriminator), `TerrainProcessor` (metres <-> model)."""

from .processing_terrain_gan import TerrainProcessor

__all__ = ["TerrainProcessor"]
