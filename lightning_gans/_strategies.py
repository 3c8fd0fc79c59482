"""What the adversarial modules need from Lightning's strategies, arranged in ``setup``."""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy

try:  # deepspeed's strategy class imports without deepspeed installed
    from lightning.pytorch.strategies import DeepSpeedStrategy
except ImportError:  # pragma: no cover
    DeepSpeedStrategy = ()  # type: ignore[assignment,misc]


def prepare_strategy(trainer: Trainer) -> None:
    """Make the trainer's strategy able to run critic/generator alternation.

    Each update backpropagates through one network only, so DDP must expect unused parameters
    (Lightning-AI/pytorch-lightning#20328). ``strategy="ddp"`` leaves ``find_unused_parameters``
    unset and is switched on here, before the model is wrapped; an explicit ``False`` is an error.

    Raises:
        ValueError: DeepSpeed (one optimizer only) or DDP with ``find_unused_parameters=False``.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise ValueError(
            "`strategy`: DeepSpeed supports a single optimizer, but adversarial training steps a generator and a "
            "critic optimizer. Use strategy='ddp' (or 'fsdp')."
        )
    if isinstance(strategy, DDPStrategy):
        kwargs = strategy._ddp_kwargs
        if kwargs.get("find_unused_parameters") is False:
            raise ValueError(
                "`strategy`: DDP with find_unused_parameters=False cannot train a GAN, whose updates each leave one "
                "network without gradients. Use strategy='ddp'; the module enables find_unused_parameters itself."
            )
        kwargs["find_unused_parameters"] = True
