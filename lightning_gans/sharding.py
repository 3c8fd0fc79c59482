"""Sharded training: the generator and the critic under FSDP2 (``fully_shard``), with manual optimisation.

Lightning's ``FSDPStrategy`` cannot run manual optimisation (``training_step`` runs inside the wrapper's
forward; Lightning-AI/pytorch-lightning#19685), and DeepSpeed takes one optimizer. ``ModelParallelStrategy``
does not wrap the module: it calls the module's ``configure_model``, where
:class:`~lightning_gans.modules.base.AdversarialModule` calls :func:`shard_networks`, and ``training_step``
runs as written. :class:`FSDP2Strategy` is that strategy with every process one data-parallel replica (no
tensor parallelism) and the one thing the alternation needs beyond ``fully_shard``: each network is
resharded after every optimizer step (below). Usage::

    trainer = Trainer(strategy=FSDP2Strategy(), devices=8, accelerator="gpu")
    trainer.fit(WGANGP(generator, critic, latent_dim=128), datamodule=data)

Why the networks are resharded after each step rather than after each backward: an input-gradient
penalty (WGAN-GP, R1) differentiates the critic twice. ``torch.autograd.grad(..., create_graph=True)``
runs FSDP's post-backward, which by default frees the gathered parameters that the second backward still
needs ("setStorage: ... out of bounds for storage of size 0", measured on torch 2.14 with gloo). With
``set_reshard_after_backward(False)`` they stay gathered through the penalty's backward, but then also
after the optimizer step, holding the values from *before* the step; the next forward would reuse them.
So an optimizer post-step hook reshards both networks: between updates only each rank's shard is held,
and the next forward gathers the updated weights. ``reshard_after_forward=True`` (FSDP's default) frees
them between the forwards of one update as well.

``GeneratorEMA`` keeps a sharded average (:func:`sharded_copy`). Measured on CPU with 2 gloo ranks
(tests/distributed/test_fsdp2.py; docs/sharding.md): weights and EMA after 12 updates equal to the DDP run's
(bound 1e-6); resume from a full or a distributed checkpoint is exact.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.strategies import ModelParallelStrategy
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
from torch.distributed.fsdp import FSDPModule, fully_shard

from lightning_gans import _checks
from lightning_gans._compat import set_model_parallel_sizes

__all__ = [
    "FSDP2Strategy",
    "check_fsdp2",
    "full_state_dict",
    "load_full_state_dict",
    "reshard",
    "shard_networks",
    "sharded_bytes",
    "sharded_copy",
]

_NETS = ("generator", "critic")
# Unsharded copies of generators, taken just before sharding when a GeneratorEMA will need one (sharded_copy).
_TEMPLATES: weakref.WeakKeyDictionary[nn.Module, nn.Module] = weakref.WeakKeyDictionary()
_RANK_ZERO_SAMPLING = (
    "it samples on rank 0 only, but a sharded generator's forward gathers its weights from every rank, so rank 0's "
    "gather would pair with another rank's training collectives (a hang or wrong weights); train with strategy='ddp' "
    "or sample after fit from a checkpoint."
)
#: Callbacks (by class name: this module sits below lightning_gans.callbacks) that cannot run on sharded networks.
_REFUSED_CALLBACKS = {
    "GANMetrics": "each rank generates its contiguous share of `num_samples` in batches, and the shares (so the "
    "number of generator forwards, each a collective under FSDP2) can differ between ranks, which would pair one "
    "rank's gather with another's training collectives; evaluate checkpoints after fit (`lightning-gans evaluate`) "
    "or train with strategy='ddp'.",
    "SampleLogger": _RANK_ZERO_SAMPLING,
    "ToyPlot": _RANK_ZERO_SAMPLING,
    "LSUVInit": "it re-initialises the networks layer by layer from full weights in on_fit_start, after they are "
    "sharded; run LSUVInit(...).initialize(module, real_batch) before fit, or train with strategy='ddp'.",
}


class FSDP2Strategy(ModelParallelStrategy):
    """``ModelParallelStrategy`` for FSDP2 data parallelism of a GAN: every process one replica, no tensor parallelism.

    :class:`~lightning_gans.modules.base.AdversarialModule`'s ``configure_model`` shards its generator and
    critic with :func:`shard_networks`; this strategy adds an optimizer post-step hook that reshards them
    after every step (see the module docstring for why). Lightning's ``ModelParallelStrategy`` with its
    default sizes would make the processes of one node a tensor-parallel group (``tensor_parallel_size`` =
    devices), which a GAN's plain networks do not use; here the mesh is ``(world_size, 1)``.

    Args:
        save_distributed_checkpoint: ``True``: each rank saves its shard (a checkpoint is a folder);
            ``False``: full weights and optimizer states are gathered to rank 0 and saved in one file.
            Either resumes exactly (tests/distributed/test_fsdp2.py).
        process_group_backend: ``None`` (nccl on GPU, gloo on CPU) or a backend name.
        timeout: the process group's timeout.

    Example:
        >>> trainer = Trainer(strategy=FSDP2Strategy(save_distributed_checkpoint=False), devices=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        save_distributed_checkpoint: bool = True,
        process_group_backend: str | None = None,
        timeout: timedelta | None = default_pg_timeout,
    ) -> None:
        super().__init__(
            save_distributed_checkpoint=_checks.boolean("save_distributed_checkpoint", save_distributed_checkpoint),
            process_group_backend=process_group_backend,
            timeout=timeout,
        )
        self._reshard_handles: list[Any] = []

    def setup_environment(self) -> None:
        set_model_parallel_sizes(self, data_parallel=self.world_size, tensor_parallel=1)
        super().setup_environment()

    def setup_optimizers(self, trainer: Trainer) -> None:
        super().setup_optimizers(trainer)
        for handle in self._reshard_handles:
            handle.remove()
        module = self.lightning_module
        assert module is not None  # set by the Trainer before setup
        self._reshard_handles = [
            opt.register_step_post_hook(lambda *_: reshard(module)) for opt in self.optimizers
        ]  # registered before the callbacks' hooks (on_fit_start): weight clipping and EMA see the stepped shards

    def teardown(self) -> None:
        for handle in self._reshard_handles:
            handle.remove()
        self._reshard_handles = []
        super().teardown()


def shard_networks(module: LightningModule) -> None:
    """Shard ``module.generator`` and ``module.critic`` with ``fully_shard`` when the strategy is FSDP2.

    Called by ``AdversarialModule.configure_model``; does nothing under other strategies and for networks
    already sharded (a second ``fit``). Before sharding, rank 0's parameters and buffers are broadcast, as
    DDP does in its constructor, so that ranks seeded differently still train one model.

    Raises:
        lightning_gans._checks.InputError: the strategy is a ``ModelParallelStrategy`` that is not an
            :class:`FSDP2Strategy`, the module holds parameters outside the
            two networks (FSDP2 would not synchronise their gradients), or ``compile`` is set.
    """
    try:
        strategy = module.trainer.strategy
    except RuntimeError:  # not attached to a Trainer: load_from_checkpoint calls configure_model too
        return
    if not isinstance(strategy, ModelParallelStrategy):
        return
    check_fsdp2(module.trainer)
    mesh = strategy.device_mesh["data_parallel"]
    for name in _NETS:
        net = getattr(module, name)
        if isinstance(net, FSDPModule):
            continue
        _broadcast_from_first(net, mesh.get_group())
        if name == "generator" and _wants_ema(module.trainer):
            _TEMPLATES[net] = copy.deepcopy(net)  # FSDP2 modules cannot be deep-copied: GeneratorEMA's copy starts here
        fully_shard(net, mesh=mesh, reshard_after_forward=True)
        # An input-gradient penalty's second backward needs the gathered weights the first one used.
        net.set_reshard_after_backward(False)


def check_fsdp2(trainer: Trainer) -> None:
    """Refuse, before any training step, what FSDP2 sharding of the two networks cannot train correctly.

    Called in the module's ``setup`` (``lightning_gans._strategies.prepare_strategy``) and again before sharding.

    Raises:
        lightning_gans._checks.InputError: see :func:`shard_networks`, and callbacks that need full networks
            (``GeneratorEMA``, ``LSUVInit``).
    """
    strategy, module = trainer.strategy, trainer.lightning_module
    if not isinstance(strategy, FSDP2Strategy):
        raise _checks.InputError(
            f"`strategy`: {type(strategy).__name__} (tensor-parallel by default) needs each sharded network resharded after every optimizer step "
            "(an input-gradient penalty keeps the gathered weights past the backward; docs/sharding.md). Use "
            "strategy=lightning_gans.sharding.FSDP2Strategy(), a ModelParallelStrategy that does this."
        )
    own = {id(p) for name in _NETS for p in getattr(module, name).parameters()}
    outside = [n for n, p in module.named_parameters() if id(p) not in own]
    if outside:
        raise _checks.InputError(
            f"`{type(module).__name__}` has parameters outside `generator` and `critic` ({', '.join(outside[:3])}): "
            "under FSDP2 nothing would synchronise their gradients across ranks. Move them into one of the networks."
        )
    refused = [type(cb).__name__ for cb in getattr(trainer, "callbacks", []) if type(cb).__name__ in _REFUSED_CALLBACKS]
    if refused:
        name = refused[0]
        raise _checks.InputError(f"`callbacks`: {name} does not work with FSDP2Strategy: {_REFUSED_CALLBACKS[name]}")
    if getattr(module, "compile_options", None) is not None:
        raise _checks.InputError(
            "`compile` is set, but compiled forwards are not supported with FSDP2Strategy here (untested, and "
            "penalties need the eager critic): set compile=False."
        )


def _wants_ema(trainer: Trainer) -> bool:
    return any(type(cb).__name__ == "GeneratorEMA" for cb in getattr(trainer, "callbacks", []))


@torch.no_grad()
def sharded_copy(net: nn.Module) -> nn.Module | None:
    """A copy of a sharded network, sharded the same way and holding its current values; ``None`` if not sharded.

    ``GeneratorEMA`` keeps its average in this copy: each rank averages its own shard, and sampling from the
    average gathers it like the generator. Built from the unsharded copy :func:`shard_networks` took before
    sharding (torch refuses to deep-copy an FSDP2 module).

    Raises:
        RuntimeError: ``net`` is sharded but no copy was taken before (no ``GeneratorEMA`` when the fit began).
    """
    if not isinstance(net, FSDPModule):
        return None
    template = _TEMPLATES.pop(net, None)
    if template is None:
        raise RuntimeError(
            "A copy of a sharded generator was requested, but none was taken before sharding: add GeneratorEMA to "
            "the Trainer's callbacks before fit, so that configure_model keeps an unsharded copy."
        )
    mesh: Any = getattr(next(iter(net.parameters())), "device_mesh")  # noqa: B009 - a DTensor attribute
    fully_shard(template, mesh=mesh, reshard_after_forward=True)
    for p_copy, p in zip(template.parameters(), net.parameters()):
        p_copy.copy_(p)  # DTensor to DTensor: each rank copies its shard
    for b_copy, b in zip(template.buffers(), net.buffers()):
        b_copy.copy_(b)
    return template


def full_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """``net.state_dict()`` with sharded tensors gathered to full ones (a collective: call it on every rank)."""
    return {
        k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone() for k, v in net.state_dict().items()
    }


def load_full_state_dict(net: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load full tensors into ``net``, sharding them first when ``net`` is sharded."""
    if isinstance(net, FSDPModule):
        set_model_state_dict(net, dict(state_dict), options=StateDictOptions(full_state_dict=True))
    else:
        net.load_state_dict(state_dict)


@torch.no_grad()
def _broadcast_from_first(net: nn.Module, group: Any) -> None:
    src = dist.get_global_rank(group, 0)
    for tensor in [*net.parameters(), *net.buffers()]:
        dist.broadcast(tensor.data, src=src, group=group)


def reshard(module: LightningModule) -> None:
    """Free the gathered weights of the module's sharded networks (each rank keeps its shard)."""
    for net in _sharded(module):
        net.reshard()


def _sharded(module: LightningModule) -> Iterator[FSDPModule]:
    for name in _NETS:
        net = getattr(module, name, None)
        if isinstance(net, FSDPModule):
            yield net


def sharded_bytes(net: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, int]:
    """Bytes this rank holds of ``net``'s parameters and of ``optimizer``'s state for them (local shards only).

    Returns:
        ``{"parameters": ..., "optimizer_state": ...}``; for a sharded network each is about ``1 / world_size``
        of the unsharded network's.
    """

    def local(t: torch.Tensor) -> torch.Tensor:
        return t.to_local() if hasattr(t, "to_local") else t

    params = sum(local(p).numel() * local(p).element_size() for p in net.parameters())
    state = 0
    if optimizer is not None:
        mine = {id(p) for p in net.parameters()}
        for p, s in optimizer.state.items():
            if id(p) in mine:
                state += sum(
                    local(v).numel() * local(v).element_size()
                    for v in s.values()
                    if isinstance(v, torch.Tensor) and v.dim() > 0
                )
    return {"parameters": params, "optimizer_state": state}
