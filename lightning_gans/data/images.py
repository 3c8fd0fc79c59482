"""torchvision image datasets and image folders, for users with their own data."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

__all__ = ["ImageDataModule", "IMAGE_DATASETS"]

IMAGE_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "folder")

_NUM_CLASSES = {"MNIST": 10, "FashionMNIST": 10, "CIFAR10": 10, "CIFAR100": 100}  # "folder": one class a sub-folder


def _to_rgb(image):  # a module-level function, so loader workers can pickle the transform
    return image.convert("RGB")


class ImageDataModule(LightningDataModule):
    """Images resized to ``image_size``, with ``channels`` channels, scaled to [-1, 1].

    Nothing is downloaded unless ``download=True``; a missing dataset is a ``FileNotFoundError``
    that says where it was looked for and what to set.

    Args:
        root: directory of the dataset (for ``"folder"``: a torchvision ``ImageFolder`` root).
        dataset: one of :data:`IMAGE_DATASETS`.
        image_size: output side length.
        channels: 1 (grayscale) or 3 (RGB).
        download: let torchvision download the dataset into ``root`` (needs internet).
        batch_size: images per batch.
        num_workers: loader workers.
        conditional: expose :attr:`num_classes` so that the CLI makes the module class-conditional.
            Batches are ``(images, labels)`` either way: the dataset's classes, or for ``"folder"``
            the index of each image's sub-folder in sorted order (torchvision ``ImageFolder``).
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
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}.")
        self.save_hyperparameters()
        self.conditional = conditional
        self.root, self.dataset, self.image_size, self.channels = root, dataset, image_size, channels
        self.download, self.batch_size, self.num_workers = download, batch_size, num_workers
        self._data: Optional[Dataset] = None

    def _build(self, download: bool) -> Dataset:
        from torchvision import datasets, transforms

        tf = transforms.Compose([
            transforms.Resize(self.image_size),
            transforms.CenterCrop(self.image_size),
            transforms.Grayscale(1) if self.channels == 1 else transforms.Lambda(_to_rgb),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * self.channels, [0.5] * self.channels),
        ])
        try:
            if self.dataset == "folder":
                return datasets.ImageFolder(self.root, transform=tf)
            return getattr(datasets, self.dataset)(self.root, train=True, download=download, transform=tf)
        except (RuntimeError, FileNotFoundError) as err:
            hint = "pass `download=True` (needs internet) or " if self.dataset != "folder" else ""
            raise FileNotFoundError(
                f"`root`={self.root!r} holds no {self.dataset} dataset ({err}); {hint}point `root` at a local copy."
            ) from err

    @property
    def num_classes(self) -> Optional[int]:
        """The number of classes when ``conditional`` (for ``"folder"``: of sub-folders of ``root``), else None."""
        if not self.conditional:
            return None
        if self.dataset != "folder":
            return _NUM_CLASSES[self.dataset]
        from torchvision.datasets.folder import find_classes

        try:
            return len(find_classes(self.root)[0])
        except OSError as err:  # FileNotFoundError included
            raise FileNotFoundError(f"`root`={self.root!r} has no class sub-folders to count for `conditional`=True ({err}).") from err

    def prepare_data(self) -> None:
        if self.download:
            self._build(download=True)

    def setup(self, stage: str) -> None:
        if self._data is None:
            self._data = self._build(download=False)

    def train_dataloader(self) -> StatefulDataLoader:
        return StatefulDataLoader(self._data, batch_size=self.batch_size, shuffle=True, drop_last=True, num_workers=self.num_workers)
