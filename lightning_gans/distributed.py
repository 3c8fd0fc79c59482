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
  change training); under ``FSDP2Strategy`` it averages the live networks' buffers into the checkpoint.

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


def _running_statistics(net: nn.Module) -> list[tuple[str, Tensor]]:
    """``(name, buffer)`` of ``net``'s floating-point running statistics, in ``named_buffers`` order."""
    return [(name, b) for name, b in net.named_buffers() if _is_statistic(name) and b.is_floating_point()]


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
    named = _running_statistics(net)
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


def average_checkpoint_statistics(checkpoint: dict[str, Any], strategy: Any, module: Any = None) -> list[str]:
    """Replace the running statistics in a checkpoint being saved by their mean over ranks. Call it on every rank.

    Looks in ``checkpoint["state_dict"]`` and in the callbacks' states (e.g. ``GeneratorEMA``'s ``ema``).
    The entries are replaced by new tensors: the module's live buffers, which ``state_dict()``
    tensors share memory with, are not changed.

    Under DDP strategies every rank's checkpoint has the same entries, and those are averaged. Under
    another multi-process strategy (``FSDP2Strategy``) the full state may be gathered on rank 0 alone,
    so a collective over the checkpoint's entries could pair unequal tensors and hang: there the
    statistics of ``module``'s live networks (``generator``, ``critic``, ``ema_generator``: the same
    buffers on every rank, FSDP2 shards parameters only) are averaged, and written into the entries
    of those names that this rank's checkpoint holds.

    Args:
        checkpoint: the dictionary Lightning is about to save (``on_save_checkpoint``'s argument).
        strategy: ``trainer.strategy``.
        module: the :class:`~lightning_gans.AdversarialModule` being saved (used outside DDP only).

    Returns:
        The replaced keys (empty with one process, or outside DDP without ``module``).
    """
    if _world_size(strategy) <= 1:
        return []
    if not isinstance(strategy, DDPStrategy):
        return [] if module is None else _average_from_live_networks(checkpoint, strategy, module)
    found = [
        (parent, key) for part in ("state_dict", "callbacks") for parent, key in _statistics_in(checkpoint.get(part))
    ]
    if not found:
        return []
    for (parent, key), mean in zip(found, _mean_over_ranks([parent[key] for parent, key in found], strategy)):
        parent[key] = mean
    return [str(key) for _, key in found]


def _live_statistics(module: Any) -> list[tuple[str, str, Tensor]]:
    """``(net, buffer name, buffer)`` of the running statistics of the module's networks, in a fixed order."""
    out = []
    for attr in ("generator", "critic", "ema_generator"):
        net = getattr(module, attr, None)
        if isinstance(net, nn.Module):
            out += [(attr, n, b) for n, b in _running_statistics(net)]
    return out


def _average_from_live_networks(checkpoint: dict[str, Any], strategy: Any, module: Any) -> list[str]:
    live = _live_statistics(module)
    if not live:
        return []
    means = _mean_over_ranks([b for _, _, b in live], strategy)
    state = checkpoint.get("state_dict") or {}
    emas = [s["ema"] for s in (checkpoint.get("callbacks") or {}).values() if isinstance(s, dict) and "ema" in s]
    replaced = []
    for (attr, name, _), mean in zip(live, means):
        if attr == "ema_generator":
            for ema in emas:
                if isinstance(ema, dict) and name in ema:
                    ema[name] = mean.to(ema[name].device)
                    replaced.append(name)
        elif f"{attr}.{name}" in state:
            key = f"{attr}.{name}"
            state[key] = mean.to(state[key].device)
            replaced.append(key)
    return replaced
