"""lightning-gans: Lightning modules and callbacks for adversarial training.

>>> from lightning_gans import GAN, WGAN, WGANGP
"""

from lightning_gans._quiet import quiet_console
from lightning_gans._versions import check_lightning_version

quiet_console()  # the dependency warnings and tips a user can do nothing about, as quiet as `lightning-gans`
check_lightning_version()  # warns once outside the tested Lightning range, before anything can break on it

from lightning_gans.data import DigitsDataModule, ImageDataModule, ToyDataModule  # noqa: E402
from lightning_gans.data.mnist import MNISTDataModule  # noqa: E402
from lightning_gans.evaluation.mnist_classifier import MNISTClassifier  # noqa: E402
from lightning_gans.losses import LOSSES, AdversarialLoss  # noqa: E402
from lightning_gans.modules import ACGAN, GAN, R3GAN, SNGAN, WGAN, WGANGP, AdversarialModule  # noqa: E402
from lightning_gans.penalties import PENALTIES  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "ACGAN",
    "GAN",
    "LOSSES",
    "PENALTIES",
    "R3GAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "AdversarialLoss",
    "AdversarialModule",
    "DigitsDataModule",
    "ImageDataModule",
    "MNISTClassifier",
    "MNISTDataModule",
    "ToyDataModule",
]
