"""The shuffled training loader of our DataModules: under DDP its order is a function of ``(seed, epoch, rank)``.

One process: a ``StatefulDataLoader`` with ``shuffle=True``; its ``RandomSampler`` is saved and restored
with the loader's ``state_dict``, and resume is exact, also with ``num_workers=2`` (tested). Several
processes: Lightning would wrap that ``RandomSampler`` in its ``DistributedSamplerWrapper``, whose
inner sampler is not in the loader's state, so a resumed run trained on other batches than an
uninterrupted one (measured with ``strategy="ddp"``, ``num_workers`` 0 and 2: every batch after a
mid-epoch resume differed). A plain ``DistributedSampler`` fixes the permutation (``randperm`` seeded
with ``seed + epoch``) but not the epoch Lightning gives it on resume (see
:class:`EpochDistributedSampler`). So under DDP the loader gets an :class:`EpochDistributedSampler`,
which Lightning leaves in place; resume is then exact at an epoch's last batch and mid-epoch, with
``num_workers`` 0 and 2 (tests/distributed/test_traps.py). ``seed`` is ``PL_GLOBAL_SEED`` (set by
``seed_everything``), else 0, as for Lightning's own sampler.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler

from lightning_gans._compat import uses_distributed_sampler

__all__ = ["EpochDistributedSampler", "shuffled_loader"]


class EpochDistributedSampler(StatefulDistributedSampler):
    """torchdata's ``StatefulDistributedSampler`` that counts its own epochs, and saves the count.

    Epoch ``e`` on rank ``r`` reads ``DistributedSampler``'s order: ``randperm`` seeded with ``seed + e``,
    every ``num_replicas``-th index from ``r``. ``e`` is the number of passes this sampler has started
    (a pass restored from a checkpoint continues its own epoch), and Lightning's ``set_epoch`` is
    ignored. Both ways Lightning sets the epoch broke exact resume (measured with ``strategy="ddp"``,
    ``num_workers`` 0 and 2): after a mid-epoch resume the loader rebuilt its iterator before
    ``set_epoch`` and replayed epoch 0's order from the saved position
    (Lightning-AI/pytorch-lightning#21938); after a resume from an epoch's last batch Lightning counts an
    empty epoch and sets ``epoch + 2``, skipping an epoch's order.

    Args:
        dataset, num_replicas, rank, shuffle, seed, drop_last: as ``torch.utils.data.DistributedSampler``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_epoch = 0

    def __iter__(self) -> Iterator[int]:
        if self.next_yielded is None:  # a fresh pass (runs at the first ``next``: unread iterators do not count)
            self.epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        yield from super().__iter__()

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the sampler counts its passes itself (see the class docstring)."""

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "epoch": self.epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.epoch = int(state_dict["epoch"])
        self._next_epoch = self.epoch + 1


def shuffled_loader(dataset: Dataset | None, trainer: Any, **loader_kwargs: Any) -> StatefulDataLoader:
    """A shuffling ``StatefulDataLoader`` of ``dataset``; under several processes each rank reads its own part.

    With ``Trainer(use_distributed_sampler=False)`` the loader is left as in one process (the user shards).
    Use it in your own DataModule for the same exact resume under DDP.

    Args:
        dataset: a map-style dataset (``None`` before the DataModule's ``setup``: an error).
        trainer: the DataModule's trainer (``None`` outside ``fit``: one process).
        **loader_kwargs: passed to ``StatefulDataLoader`` (``batch_size``, ``drop_last``, ``num_workers`` ...).

    Raises:
        RuntimeError: ``dataset`` is ``None`` (the DataModule's ``setup`` has not run).

    Example:
        >>> def train_dataloader(self):  # in a LightningDataModule  # doctest: +SKIP
        ...     return shuffled_loader(self.dataset, self.trainer, batch_size=64, drop_last=True, num_workers=2)
    """
    if dataset is None:
        raise RuntimeError(
            "The DataModule's data is built in `setup`: call `setup('fit')` before `train_dataloader()`."
        )
    shards = None if trainer is None else trainer.distributed_sampler_kwargs  # {num_replicas, rank} under DDP
    if shards is None or not uses_distributed_sampler(trainer):
        return StatefulDataLoader(dataset, shuffle=True, **loader_kwargs)
    seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    sampler = EpochDistributedSampler(dataset, **shards, shuffle=True, seed=seed)
    return StatefulDataLoader(dataset, sampler=sampler, **loader_kwargs)
