"""Plain ``nn.Module`` generators and critics (no Lightning inside)."""

from lightning_gans.nets.dcgan import CRITIC_NORMS, DCGANCritic, DCGANGenerator
from lightning_gans.nets.mlp import MLPCritic, MLPGenerator

__all__ = ["CRITIC_NORMS", "DCGANCritic", "DCGANGenerator", "MLPCritic", "MLPGenerator"]
