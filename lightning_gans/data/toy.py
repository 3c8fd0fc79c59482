"""2-D toy distributions of the WGAN-GP paper (Gulrajani et al. 2017, Sec. 4 and Fig. 2).

Generated, never downloaded. Constants follow the paper's released toy code: 8 Gaussians on a
circle of radius 2 with std 0.02, 25 Gaussians on a 5x5 grid with std 0.05, and a 2-D Swiss roll,
each then rescaled so the data has roughly unit scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans.data.sampling import shuffled_loader

__all__ = ["TOY_DISTRIBUTIONS", "ToyDataModule", "ToyDistribution", "mode_coverage"]


@dataclass(frozen=True)
class ToyDistribution:
    """A 2-D distribution: a sampler and, for Gaussian mixtures, the modes' centres and std."""

    sample: Callable[[int, torch.Generator | None], Tensor]
    centers: Tensor | None = None  # (K, 2)
    std: float | None = None

    def sample_with_labels(self, n: int, rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points and the index of their mode (the class label of a conditional toy); mixtures only.

        The points are exactly those of ``sample(n, rng)`` from the same RNG state.
        """
        labelled = getattr(self.sample, "sample_with_labels", None)
        if self.centers is None or labelled is None:
            raise ValueError("This toy distribution has no labelled modes (build mixtures with a `_Mixture` sampler).")
        return labelled(n, rng)


class _Mixture:
    """Equal-weight isotropic Gaussian mixture (a class, not a closure, so that it pickles for ``ddp_spawn``)."""

    def __init__(self, centers: Tensor, std: float) -> None:
        self.centers, self.std = centers, std

    def __call__(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        return self.sample_with_labels(n, rng)[0]

    def sample_with_labels(self, n: int, rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points ``(n, 2)`` and the index of the mode each was drawn from ``(n,)``."""
        idx = torch.randint(len(self.centers), (n,), generator=rng)
        return self.centers[idx] + self.std * torch.randn(n, 2, generator=rng), idx


def _mixture(centers: Tensor, std: float) -> ToyDistribution:
    return ToyDistribution(_Mixture(centers, std), centers, std)


def _eight_gaussians() -> ToyDistribution:
    s = 1.0 / math.sqrt(2)
    unit = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)], dtype=torch.float32)
    return _mixture(unit * 2.0 / 1.414, 0.02 / 1.414)  # scale 2, std 0.02, then /1.414 as in the paper's code


def _twenty_five_gaussians() -> ToyDistribution:
    grid = torch.tensor([(x, y) for x in range(-2, 3) for y in range(-2, 3)], dtype=torch.float32)
    return _mixture(grid * 2.0 / 2.828, 0.05 / 2.828)  # spacing 2, std 0.05, then /2.828


def _swiss_roll_sample(n: int, rng: torch.Generator | None = None) -> Tensor:
    # sklearn.datasets.make_swiss_roll(noise=0.25), the (x, z) plane, / 7.5
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=rng))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    return (points + 0.25 * torch.randn(n, 2, generator=rng)) / 7.5


TOY_DISTRIBUTIONS: dict[str, ToyDistribution] = {
    "8gaussians": _eight_gaussians(),
    "25gaussians": _twenty_five_gaussians(),
    "swissroll": ToyDistribution(_swiss_roll_sample),
}


def mode_coverage(
    samples: Tensor, centers: Tensor, std: float, k: float = 3.0, min_fraction: float = 0.01
) -> tuple[int, float]:
    """Modes covered and fraction of high-quality samples.

    A sample is *high quality* when it lies within ``k * std`` of its nearest centre; a mode is
    *covered* when at least ``min_fraction`` of all samples are high-quality samples of that mode.

    Returns:
        ``(modes_covered, high_quality_fraction)``.
    """
    dist = torch.cdist(samples.float(), centers.float())  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= k * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    covered = int((counts >= min_fraction * len(samples)).sum())
    return covered, float(good.float().mean())


class _Batches(Dataset):
    """Item ``i`` is the whole ``i``-th batch (with its labels, if any), so loading costs one index, not ``batch_size`` collates."""

    def __init__(self, batches: Tensor, labels: Tensor | None = None) -> None:
        self.batches = batches  # (num_batches, batch_size, 2)
        self.labels = labels  # (num_batches, batch_size) mode indices, or None

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> Tensor | tuple[Tensor, Tensor]:
        return self.batches[i] if self.labels is None else (self.batches[i], self.labels[i])


class ToyDataModule(LightningDataModule):
    """Batches of a 2-D toy distribution, drawn once from a seeded RNG.

    An epoch is ``batches_per_epoch`` batches, shuffled in a different order each epoch. Under DDP
    each process gets its own batches of ``batch_size``. The loader is a ``StatefulDataLoader``, so a
    mid-epoch resume continues where it stopped.

    With ``conditional=True`` (Gaussian mixtures only) batches are ``(points, labels)``, the label of a
    point being the index of the mode it was drawn from (its row in ``distribution.centers``), and
    :attr:`num_classes` is the number of modes; the points are the same as without labels. The CLI
    hands :attr:`num_classes` to the module's ``num_classes``.

    Args:
        dataset: one of :data:`TOY_DISTRIBUTIONS`.
        batch_size: samples per batch (the WGAN-GP toy code uses 256).
        batches_per_epoch: batches in one epoch.
        seed: seed of the data.
        conditional: yield mode indices as labels and expose :attr:`num_classes` for a conditional module.

    Example:
        >>> dm = ToyDataModule("8gaussians", batch_size=4, batches_per_epoch=2, conditional=True)
        >>> dm.setup("fit")
        >>> points, labels = next(iter(dm.train_dataloader()))
        >>> points.shape, labels.shape, dm.num_classes
        (torch.Size([4, 2]), torch.Size([4]), 8)
    """

    def __init__(
        self,
        dataset: str = "8gaussians",
        batch_size: int = 256,
        batches_per_epoch: int = 1000,
        seed: int = 0,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        if dataset not in TOY_DISTRIBUTIONS:
            raise ValueError(f"Unknown `dataset` {dataset!r}; expected one of {sorted(TOY_DISTRIBUTIONS)}.")
        for name, value in (("batch_size", batch_size), ("batches_per_epoch", batches_per_epoch)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}.")
        if conditional and TOY_DISTRIBUTIONS[dataset].centers is None:
            raise ValueError(
                f"`conditional`=True needs a Gaussian mixture (its mode index is the label); {dataset!r} has no modes."
            )
        self.save_hyperparameters()
        self.distribution = TOY_DISTRIBUTIONS[dataset]
        self.conditional = conditional
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.seed = seed
        self._data: _Batches | None = None

    def setup(self, stage: str) -> None:
        if self._data is None:
            rng = torch.Generator().manual_seed(self.seed)
            n = self.batches_per_epoch * self.batch_size
            if self.conditional:
                points, labels = self.distribution.sample_with_labels(n, rng)
                self._data = _Batches(
                    points.view(self.batches_per_epoch, self.batch_size, 2),
                    labels.view(self.batches_per_epoch, self.batch_size),
                )
            else:
                points = self.distribution.sample(n, rng)
                self._data = _Batches(points.view(self.batches_per_epoch, self.batch_size, 2))

    @property
    def num_classes(self) -> int | None:
        """Number of modes when ``conditional``, else None (the module stays unconditional)."""
        centers = self.distribution.centers
        return len(centers) if self.conditional and centers is not None else None

    def train_dataloader(self) -> StatefulDataLoader:
        return shuffled_loader(self._data, self.trainer, batch_size=None)
