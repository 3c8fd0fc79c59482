"""scikit-learn's embedded handwritten digits (1,797 images of 8x8), scaled to [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans._checks import integer
from lightning_gans.data.sampling import shuffled_loader

__all__ = ["NUM_DIGITS", "DigitsDataModule", "load_digits_tensor"]

NUM_DIGITS = 1797
"""Images in scikit-learn's digits dataset."""


def load_digits_tensor(image_size: int = 8) -> tuple[Tensor, Tensor]:
    """All 1,797 digits as ``(images (N, 1, S, S) in [-1, 1], labels (N,))``; no download.

    Args:
        image_size: side length; 8 is the native size, larger sizes are bilinear upsamplings.
    """
    from sklearn.datasets import load_digits

    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"`image_size` must be an integer >= 8, got {image_size!r}.")
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # pixel values 0..16
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp(-1, 1)
    return images, torch.tensor(digits.target, dtype=torch.long)


class DigitsDataModule(LightningDataModule):
    """The digits as ``(image, label)`` batches, shuffled, with a ``StatefulDataLoader``.

    Args:
        batch_size: images per batch (1 to 1,797: the last partial batch is dropped).
        image_size: side length (>= 8; 8 native; 16 or 32 upsampled, e.g. for a deeper DCGAN).
        num_workers: loader workers (>= 0).
        conditional: expose :attr:`num_classes` (10) so that the CLI makes the module class-conditional
            on the digit labels (the batches carry the labels either way).

    Raises:
        ValueError: an argument is out of range (the message names it), at construction.
    """

    def __init__(
        self, batch_size: int = 64, image_size: int = 8, num_workers: int = 0, conditional: bool = False
    ) -> None:
        super().__init__()
        batch_size = integer("batch_size", batch_size)
        if batch_size > NUM_DIGITS:  # drop_last=True: not one batch, so fit would train 0 updates
            raise ValueError(
                f"`batch_size`={batch_size} is larger than the dataset ({NUM_DIGITS} digits): batches drop the "
                "remainder, so not one update would be made. Lower `batch_size`."
            )
        image_size = integer("image_size", image_size, minimum=8)
        num_workers = integer("num_workers", num_workers, minimum=0)
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}.")
        self.save_hyperparameters()
        self.conditional = conditional
        self.batch_size = batch_size
        self.image_size = image_size
        self.num_workers = num_workers
        self._data: TensorDataset | None = None

    def setup(self, stage: str) -> None:
        if self._data is None:
            self._data = TensorDataset(*load_digits_tensor(self.image_size))

    @property
    def num_classes(self) -> int | None:
        """10 when ``conditional``, else None (the module stays unconditional)."""
        return 10 if self.conditional else None

    def train_dataloader(self) -> StatefulDataLoader:
        return shuffled_loader(
            self._data, self.trainer, batch_size=self.batch_size, drop_last=True, num_workers=self.num_workers
        )
