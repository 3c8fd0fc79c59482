"""lightning-gans: Lightning modules and callbacks for adversarial training.

>>> from lightning_gans import GAN, WGAN, WGANGP
"""

from lightning_gans.data import DigitsDataModule, ImageDataModule, ToyDataModule
from lightning_gans.losses import LOSSES, AdversarialLoss
from lightning_gans.modules import GAN, PENALTIES, WGAN, WGANGP, AdversarialModule

__version__ = "0.1.0"

__all__ = [
    "AdversarialLoss",
    "AdversarialModule",
    "DigitsDataModule",
    "GAN",
    "ImageDataModule",
    "LOSSES",
    "PENALTIES",
    "ToyDataModule",
    "WGAN",
    "WGANGP",
]
