"""What the adversarial modules need from Lightning's strategies, arranged in ``setup``.

Tested on CPU with gloo (tests/distributed/test_ddp.py, tests/distributed/test_fsdp2.py): ``"ddp"``
(Lightning's launcher), multi-node via the torchrun environment, ``"ddp_spawn"`` checked by hand, and
sharded training with :class:`lightning_gans.sharding.FSDP2Strategy`. Lightning's ``FSDPStrategy`` cannot run
manual optimisation and DeepSpeed takes one optimizer: both are refused here, naming the way that works. See
docs/sharding.md. The checkpoint IO is wrapped by :class:`lightning_gans.checkpoints.GuardedCheckpointIO`.
"""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy

from lightning_gans._checks import InputError
from lightning_gans._compat import ddp_kwargs
from lightning_gans.checkpoints import GuardedCheckpointIO

try:  # deepspeed's strategy class imports without deepspeed installed
    from lightning.pytorch.strategies import DeepSpeedStrategy
except ImportError:  # pragma: no cover
    DeepSpeedStrategy = ()  # type: ignore[assignment,misc]

__all__ = ["prepare_strategy"]


def prepare_strategy(trainer: Trainer) -> None:
    """Make the trainer's strategy able to run critic/generator alternation, and guard its checkpoints.

    Each update backpropagates through one network only, so DDP must expect unused parameters
    (Lightning-AI/pytorch-lightning#20328). ``strategy="ddp"`` leaves ``find_unused_parameters``
    unset and is switched on here, before the model is wrapped; an explicit ``False`` is an error.
    The checkpoint IO is wrapped in :class:`~lightning_gans.checkpoints.GuardedCheckpointIO`.

    Raises:
        lightning_gans._checks.InputError: DeepSpeed (one optimizer only), ``FSDPStrategy`` (no manual
            optimisation), DDP with ``find_unused_parameters=False``, or what
            :func:`lightning_gans.sharding.check_fsdp2` refuses under a ``ModelParallelStrategy``.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise InputError(
            "`strategy`: DeepSpeed supports a single optimizer, but adversarial training steps a generator and a "
            "critic optimizer. Use strategy='ddp', or lightning_gans.sharding.FSDP2Strategy() to shard the "
            "networks (docs/sharding.md)."
        )
    if isinstance(strategy, FSDPStrategy):
        raise InputError(
            "`strategy`: Lightning's FSDPStrategy cannot run manual optimisation, which the generator/critic "
            "alternation needs (training_step runs inside FSDP's forward; Lightning-AI/pytorch-lightning#19685). "
            "Use strategy=lightning_gans.sharding.FSDP2Strategy() (FSDP2 under ModelParallelStrategy) to shard the "
            "networks, or strategy='ddp' (docs/sharding.md)."
        )
    if isinstance(strategy, ModelParallelStrategy):
        from lightning_gans.sharding import check_fsdp2

        check_fsdp2(trainer)
    if isinstance(strategy, DDPStrategy):
        kwargs = ddp_kwargs(strategy)
        if kwargs.get("find_unused_parameters") is False:
            raise ValueError(
                "`strategy`: DDP with find_unused_parameters=False cannot train a GAN, whose updates each leave one "
                "network without gradients. Use strategy='ddp'; the module enables find_unused_parameters itself."
            )
        kwargs["find_unused_parameters"] = True
    if hasattr(strategy, "checkpoint_io") and not isinstance(strategy.checkpoint_io, GuardedCheckpointIO):
        strategy.checkpoint_io = GuardedCheckpointIO(strategy.checkpoint_io, trainer)
