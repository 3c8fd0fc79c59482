"""What the adversarial modules need from Lightning's strategies, arranged in ``setup``.

Tested on CPU with gloo (tests/distributed/test_ddp.py): ``"ddp"`` (Lightning's launcher), multi-node via the
torchrun environment, ``"ddp_spawn"`` checked by hand. FSDP is refused on CPU by Lightning itself,
so it is untested here and warned about; DeepSpeed is rejected. See docs/scaling.md. The checkpoint
IO is wrapped by :class:`lightning_gans.checkpoints.GuardedCheckpointIO`.
"""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
from lightning.pytorch.utilities import rank_zero_warn

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
        ValueError: DeepSpeed (one optimizer only) or DDP with ``find_unused_parameters=False``.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise ValueError(
            "`strategy`: DeepSpeed supports a single optimizer, but adversarial training steps a generator and a "
            "critic optimizer. Use strategy='ddp'."
        )
    if isinstance(strategy, FSDPStrategy):
        rank_zero_warn(
            "`strategy`: FSDP is untested with lightning-gans (Lightning refuses it on CPU, where our tests run); "
            "strategy='ddp' is the tested way to scale out. See docs/scaling.md."
        )
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
