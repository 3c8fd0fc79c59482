"""torchvision image datasets and image folders, for users with their own data."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans._checks import integer

__all__ = ["IMAGE_DATASETS", "ImageDataModule"]

IMAGE_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "folder")

_NUM_CLASSES = {"MNIST": 10, "FashionMNIST": 10, "CIFAR10": 10, "CIFAR100": 100}  # "folder": one class a sub-folder


_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # Pillow's modes for 16-bit grayscale PNG/TIFF


def _to_rgb(image):  # a module-level function, so loader workers can pickle the transform
    return image.convert("RGB")


def _load_image(path: str) -> Any:
    """Open an image file for ``ImageFolder``: 16-bit grayscale scaled to 8 bits; unreadable files named.

    Pillow's ``convert("L")`` clips a 16-bit image (mode ``I;16``) at 255 instead of scaling it, which
    turns most 16-bit photographs into constant white images; here values are multiplied by 255/65535.

    Raises:
        ValueError: the file is truncated or not an image (the message names it).
    """
    import numpy as np
    from PIL import Image

    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            image.load()  # decode now, inside the try: truncation surfaces here
    except (OSError, SyntaxError, ValueError) as err:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"`root`: cannot read the image file {path!r} (truncated or not an image): {err}") from err
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")
    return image


class ImageDataModule(LightningDataModule):
    """Images resized to ``image_size``, with ``channels`` channels, scaled to [-1, 1].

    Nothing is downloaded unless ``download=True``; a missing dataset is a ``FileNotFoundError``
    that says where it was looked for and what to set. In image folders, 16-bit grayscale files
    (Pillow mode ``I;16``) are scaled to 8 bits (x 255/65535) and a truncated or unreadable file is
    a ``ValueError`` naming it.

    Args:
        root: directory of the dataset (for ``"folder"``: a torchvision ``ImageFolder`` root).
        dataset: one of :data:`IMAGE_DATASETS`.
        image_size: output side length (>= 1).
        channels: 1 (grayscale) or 3 (RGB).
        download: let torchvision download the dataset into ``root`` (needs internet).
        batch_size: images per batch (>= 1, at most the number of images: the last partial batch is dropped).
        num_workers: loader workers (>= 0).
        conditional: expose :attr:`num_classes` so that the CLI makes the module class-conditional.
            Batches are ``(images, labels)`` either way: the dataset's classes, or for ``"folder"``
            the index of each image's sub-folder in sorted order (torchvision ``ImageFolder``).

    Raises:
        ValueError: an argument is out of range (at construction), or ``batch_size`` exceeds the
            number of images (in ``setup``).
    """

    def __init__(
        self,
        root: str,
        dataset: str = "folder",
        image_size: int = 32,
        channels: int = 3,
        download: bool = False,
        batch_size: int = 64,
        num_workers: int = 0,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        if dataset not in IMAGE_DATASETS:
            raise ValueError(f"Unknown `dataset` {dataset!r}; expected one of {list(IMAGE_DATASETS)}.")
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3, got {channels!r}.")
        image_size = integer("image_size", image_size)
        batch_size = integer("batch_size", batch_size)
        num_workers = integer("num_workers", num_workers, minimum=0)
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}.")
        self.save_hyperparameters()
        self.conditional = conditional
        self.root, self.dataset, self.image_size, self.channels = root, dataset, image_size, channels
        self.download, self.batch_size, self.num_workers = download, batch_size, num_workers
        self._data: Dataset | None = None

    def _build(self, download: bool) -> Dataset:
        from torchvision import datasets, transforms

        tf = transforms.Compose(
            [
                transforms.Resize(self.image_size),
                transforms.CenterCrop(self.image_size),
                transforms.Grayscale(1) if self.channels == 1 else transforms.Lambda(_to_rgb),
                transforms.ToTensor(),
                transforms.Normalize([0.5] * self.channels, [0.5] * self.channels),
            ]
        )
        try:
            if self.dataset == "folder":
                return datasets.ImageFolder(self.root, transform=tf, loader=_load_image)
            return getattr(datasets, self.dataset)(self.root, train=True, download=download, transform=tf)
        except (RuntimeError, FileNotFoundError) as err:
            hint = "pass `download=True` (needs internet) or " if self.dataset != "folder" else ""
            raise FileNotFoundError(
                f"`root`={self.root!r} holds no {self.dataset} dataset ({err}); {hint}point `root` at a local copy."
            ) from err

    @property
    def num_classes(self) -> int | None:
        """The number of classes when ``conditional`` (for ``"folder"``: of sub-folders of ``root``), else None."""
        if not self.conditional:
            return None
        if self.dataset != "folder":
            return _NUM_CLASSES[self.dataset]
        from torchvision.datasets.folder import find_classes

        try:
            return len(find_classes(self.root)[0])
        except OSError as err:  # FileNotFoundError included
            raise FileNotFoundError(
                f"`root`={self.root!r} has no class sub-folders to count for `conditional`=True ({err})."
            ) from err

    def prepare_data(self) -> None:
        if self.download:
            self._build(download=True)

    def setup(self, stage: str) -> None:
        if self._data is None:
            self._data = self._build(download=False)
        if len(self._data) < self.batch_size:  # drop_last=True: not one batch, so fit would train 0 updates
            raise ValueError(
                f"`batch_size`={self.batch_size} is larger than the dataset ({len(self._data)} images in "
                f"`root`={self.root!r}): batches drop the remainder, so not one update would be made. Lower `batch_size`."
            )

    def train_dataloader(self) -> StatefulDataLoader:
        return StatefulDataLoader(
            self._data, batch_size=self.batch_size, shuffle=True, drop_last=True, num_workers=self.num_workers
        )
