"""Plain ``nn.Module`` generators and critics (no Lightning inside), unconditional or class-conditional."""

from lightning_gans.nets.conditional import CRITIC_CONDITIONINGS, ConditionalBatchNorm2d, ProjectionHead
from lightning_gans.nets.dcgan import CRITIC_NORMS, DCGANCritic, DCGANGenerator
from lightning_gans.nets.mlp import MLPCritic, MLPGenerator
from lightning_gans.nets.resnet import ResNetCritic, ResNetGenerator

__all__ = [
    "CRITIC_CONDITIONINGS",
    "CRITIC_NORMS",
    "ConditionalBatchNorm2d",
    "DCGANCritic",
    "DCGANGenerator",
    "MLPCritic",
    "MLPGenerator",
    "ProjectionHead",
    "ResNetCritic",
    "ResNetGenerator",
]
