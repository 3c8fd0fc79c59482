"""torchvision image datasets and image folders, for users with their own data."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any, cast

from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans import _checks
from lightning_gans.data.folder import ImageFolderDataset, find_images
from lightning_gans.data.sampling import shuffled_loader

__all__ = ["IMAGE_DATASETS", "ImageDataModule"]

IMAGE_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "folder")

_NUM_CLASSES = {"MNIST": 10, "FashionMNIST": 10, "CIFAR10": 10, "CIFAR100": 100}  # "folder": one class a sub-folder


def _to_rgb(image: Any) -> Any:  # a module-level function, so loader workers can pickle the transform
    return image.convert("RGB")


def _transform(image_size: int, channels: int) -> Any:
    """Pillow image -> float ``(channels, image_size, image_size)`` in [-1, 1]; shared with the streaming DataModule."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(image_size),
            transforms.CenterCrop(image_size),
            transforms.Grayscale(1) if channels == 1 else transforms.Lambda(_to_rgb),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * channels, [0.5] * channels),
        ]
    )


class ImageDataModule(LightningDataModule):
    """Images resized to ``image_size``, with ``channels`` channels, scaled to [-1, 1].

    Nothing is downloaded unless ``download=True``; a missing dataset is a ``FileNotFoundError``
    that says where it was looked for and what to set. Folders are read by
    :class:`~lightning_gans.data.folder.ImageFolderDataset`: a flat folder of images, or one
    sub-folder per class (hidden folders such as ``.ipynb_checkpoints`` are not classes); 16-bit
    grayscale is scaled to 8 bits and a truncated or unreadable file is an error naming it.

    Args:
        root: directory of the dataset (for ``"folder"``: a flat folder of images, or one sub-folder per class).
        dataset: one of :data:`IMAGE_DATASETS`.
        image_size: output side length (>= 1).
        channels: 1 (grayscale) or 3 (RGB).
        download: let torchvision download the dataset into ``root`` (needs internet).
        batch_size: images per batch (>= 1, at most the number of images: the last partial batch is dropped).
        num_workers: loader workers (>= 0).
        conditional: expose :attr:`num_classes` so that the CLI makes the module class-conditional.
            Batches are ``(images, labels)`` either way: the dataset's classes, or for ``"folder"``
            the index of each image's sub-folder in sorted order (0 for a flat folder).

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
        _checks.choice("dataset", dataset, IMAGE_DATASETS)
        _checks.choice("channels", channels, (1, 3))
        image_size = _checks.integer("image_size", image_size)
        batch_size = _checks.integer("batch_size", batch_size)
        num_workers = _checks.integer("num_workers", num_workers, minimum=0)
        conditional = _checks.boolean("conditional", conditional)
        self.save_hyperparameters()
        self.conditional = conditional
        self.root, self.dataset, self.image_size, self.channels = root, dataset, image_size, channels
        self.download, self.batch_size, self.num_workers = download, batch_size, num_workers
        self._data: Dataset | None = None

    def _build(self, download: bool) -> Dataset:
        from torchvision import datasets

        tf = _transform(self.image_size, self.channels)
        try:
            if self.dataset == "folder":
                return ImageFolderDataset(self.root, transform=tf, with_labels=True)
            return getattr(datasets, self.dataset)(self.root, train=True, download=download, transform=tf)
        except _checks.InputError:
            raise
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
        classes = find_images(self.root)[2]
        if not classes:
            raise _checks.InputError(
                f"`root`={self.root!r} is a flat folder of images: `conditional`=True needs one sub-folder per class."
            )
        return len(classes)

    def prepare_data(self) -> None:
        if self.download:
            self._build(download=True)

    def setup(self, stage: str) -> None:
        if self._data is None:
            self._data = self._build(download=False)
        size = len(cast(Sized, self._data))
        if size < self.batch_size:  # drop_last=True: not one batch, so fit would train 0 updates
            raise ValueError(
                f"`batch_size`={self.batch_size} is larger than the dataset ({size} images in "
                f"`root`={self.root!r}): batches drop the remainder, so not one update would be made. Lower `batch_size`."
            )

    def train_dataloader(self) -> StatefulDataLoader:
        return shuffled_loader(
            self._data, self.trainer, batch_size=self.batch_size, drop_last=True, num_workers=self.num_workers
        )
