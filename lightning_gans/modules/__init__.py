"""LightningModules for adversarial training with manual optimisation.

:class:`AdversarialModule` (in :mod:`~lightning_gans.modules.base`) owns the alternation between
critic and generator updates; the papers' modules in :mod:`~lightning_gans.modules.variants` only
choose a loss, a penalty, defaults and the callbacks their papers need.
"""

from lightning_gans.modules.base import AdversarialModule, LabelledCritic, OptimizerCallable, UpdateTensors, adam
from lightning_gans.modules.variants import ACGAN, GAN, R3GAN, SNGAN, WGAN, WGANGP

__all__ = [
    "ACGAN",
    "GAN",
    "R3GAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "AdversarialModule",
    "LabelledCritic",
    "OptimizerCallable",
    "UpdateTensors",
    "adam",
]
