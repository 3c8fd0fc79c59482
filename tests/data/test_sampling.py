"""lightning_gans.data.sampling: the DDP sampler of our DataModules counts and saves its own epochs."""

from __future__ import annotations

import pytest
from torch.utils.data import DistributedSampler

from lightning_gans.data.sampling import EpochDistributedSampler, shuffled_loader

ARGS = dict(num_replicas=2, rank=1, shuffle=True, seed=3)


def _reference(epoch: int) -> list[int]:
    ref = DistributedSampler(range(10), **ARGS)
    ref.set_epoch(epoch)
    return list(ref)


def test_passes_read_distributed_sampler_orders_and_set_epoch_is_ignored():
    """Pass e reads DistributedSampler's order of epoch e (seed + e, every 2nd index from rank 1); set_epoch changes nothing."""
    sampler = EpochDistributedSampler(range(10), **ARGS)
    sampler.set_epoch(5)
    assert [list(sampler) for _ in range(3)] == [_reference(e) for e in range(3)]
    assert _reference(0) != _reference(1)  # the orders differ, so the check above is not trivial


def test_state_resumes_mid_epoch_and_after_an_epoch_end():
    """A saved position continues its own epoch; a position at an epoch's end gives an empty pass, then the next epoch."""
    sampler = EpochDistributedSampler(range(10), **ARGS)
    list(sampler), list(sampler)  # epochs 0 and 1
    it = iter(sampler)
    head = [next(it), next(it)]  # 2 of epoch 2's 5 indices
    resumed = EpochDistributedSampler(range(10), **ARGS)
    resumed.load_state_dict(sampler.state_dict())
    assert head + list(resumed) == _reference(2) and list(resumed) == _reference(3)
    finished = EpochDistributedSampler(range(10), **ARGS)
    finished.load_state_dict(resumed.state_dict())  # saved at the end of epoch 3
    assert list(finished) == [] and list(finished) == _reference(4)


def test_shuffled_loader_needs_the_data():
    """Before the DataModule's setup the dataset is None: a clear error, not a loader of nothing."""
    with pytest.raises(RuntimeError, match=r"setup\('fit'\)"):
        shuffled_loader(None, None, batch_size=2)
    loader = shuffled_loader(list(range(4)), None, batch_size=2)  # no trainer: one process, RandomSampler
    assert type(loader.sampler).__name__ == "RandomSampler"
