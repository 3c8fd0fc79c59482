"""Keeping normalisation buffers consistent across DDP ranks: the one thing DDP leaves per-rank.

Under DDP the parameters of every rank are identical after each update (gradients are all-reduced),
but a BatchNorm layer's ``running_mean``/``running_var`` are updated from each rank's own batch.
DDP's ``broadcast_buffers`` copies rank 0's buffers to all ranks at the start of every
``training_step``, so at any moment the ranks differ by the last update's statistics; a network in
eval mode then computes a different function on each rank. Two places read those buffers:

- **evaluation** that shards generation over ranks (``GANMetrics``): each rank would sample through a
  different generator. :func:`sync_sampling_statistics` averages the statistics of what
  ``pl_module.sample`` draws through (``generator`` and ``ema_generator``) before evaluating;
- **checkpoints**, written by rank 0 alone, would hold rank 0's statistics (estimated from 1/W of the
  data). ``AdversarialModule.on_save_checkpoint`` calls :func:`average_checkpoint_statistics`, which
  averages them over ranks *in the checkpoint* (the live buffers are left alone, so saving does not
  change training).

Training itself never reads running statistics (BatchNorm in train mode normalises with the batch's), so
neither step changes the weights. The mean of per-rank running variances omits the spread of the
per-rank means (a bias of order ``Var_r(mean_r)``); ``Trainer(sync_batchnorm=True)`` (SyncBatchNorm,
GPU only) gives exactly global statistics instead, at one all-reduce per BatchNorm forward.
Tested in tests/distributed/test_traps.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn

__all__ = ["RUNNING_STATISTICS", "average_checkpoint_statistics", "sync_running_statistics", "sync_sampling_statistics"]

RUNNING_STATISTICS = ("running_mean", "running_var")
"""Buffer names averaged over ranks (BatchNorm and InstanceNorm with ``track_running_stats``)."""


def _is_statistic(name: Any) -> bool:
    return isinstance(name, str) and name.rsplit(".", 1)[-1] in RUNNING_STATISTICS


def _world_size(strategy: Any) -> int:
    return int(getattr(strategy, "world_size", 1) or 1)


def _mean_over_ranks(tensors: list[Tensor], strategy: Any) -> list[Tensor]:
    """One all-reduce for all of ``tensors`` (flattened in float64); new tensors, same shapes and dtypes."""
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    flat = strategy.reduce(flat, reduce_op="mean")
    out, start = [], 0
    for t in tensors:
        out.append(flat[start : start + t.numel()].view_as(t).to(t.dtype))
        start += t.numel()
    return out


@torch.no_grad()
def sync_running_statistics(net: nn.Module | None, strategy: Any) -> list[str]:
    """Average ``net``'s running statistics over the ranks of ``strategy``, in place. Call it on every rank.

    Args:
        net: any module (``None``: nothing to do).
        strategy: a Lightning strategy (``trainer.strategy``); with one process nothing is communicated.

    Returns:
        The names of the averaged buffers (also with one process).

    Example:
        >>> sync_running_statistics(pl_module.generator, trainer.strategy)  # doctest: +SKIP
        ['net.1.running_mean', 'net.1.running_var']
    """
    if net is None:
        return []
    named = [(name, b) for name, b in net.named_buffers() if _is_statistic(name) and b.is_floating_point()]
    if named and _world_size(strategy) > 1:
        for (_, buffer), mean in zip(named, _mean_over_ranks([b for _, b in named], strategy)):
            buffer.copy_(mean)
    return [name for name, _ in named]


def sync_sampling_statistics(pl_module: Any, strategy: Any) -> list[str]:
    """Average the running statistics of the networks ``pl_module.sample`` draws through, on every rank.

    These are ``pl_module.generator`` and, when set, ``pl_module.ema_generator`` (whose buffers
    ``GeneratorEMA`` copies from the generator). ``GANMetrics`` calls it before each evaluation.

    Returns:
        The averaged buffers' names, prefixed with ``generator.`` or ``ema_generator.``.
    """
    names: list[str] = []
    for attr in ("generator", "ema_generator"):
        net = getattr(pl_module, attr, None)
        if isinstance(net, nn.Module):
            names += [f"{attr}.{n}" for n in sync_running_statistics(net, strategy)]
    return names


def _statistics_in(tree: Any) -> Iterator[tuple[dict[Any, Any], Any]]:
    """``(parent dict, key)`` of every running-statistics tensor in nested dicts, in insertion order."""
    if not isinstance(tree, dict):
        return
    for key, value in tree.items():
        if type(value) is Tensor and _is_statistic(key) and value.is_floating_point():  # plain tensors, not DTensors
            yield tree, key
        elif isinstance(value, dict):
            yield from _statistics_in(value)


def average_checkpoint_statistics(checkpoint: dict[str, Any], strategy: Any) -> list[str]:
    """Replace the running statistics in a checkpoint being saved by their mean over ranks. Call it on every rank.

    Looks in ``checkpoint["state_dict"]`` and in the callbacks' states (e.g. ``GeneratorEMA``'s ``ema``).
    Only under DDP strategies, where every rank's checkpoint has the same entries (a sharded strategy
    may gather the full state on rank 0 alone, and a collective over unequal entries would hang).
    The entries are replaced by new tensors: the module's live buffers, which ``state_dict()``
    tensors share memory with, are not changed.

    Returns:
        The replaced keys (empty with one process or another strategy than DDP).
    """
    if _world_size(strategy) <= 1 or not isinstance(strategy, DDPStrategy):
        return []
    found = [
        (parent, key) for part in ("state_dict", "callbacks") for parent, key in _statistics_in(checkpoint.get(part))
    ]
    if not found:
        return []
    for (parent, key), mean in zip(found, _mean_over_ranks([parent[key] for parent, key in found], strategy)):
        parent[key] = mean
    return [str(key) for _, key in found]
