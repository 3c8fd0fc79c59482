"""What the adversarial modules need from Lightning's strategies, arranged in ``setup``.

Tested on CPU with gloo (tests/test_ddp.py): ``"ddp"`` (Lightning's launcher), multi-node via the
torchrun environment, ``"ddp_spawn"`` checked by hand. FSDP is refused on CPU by Lightning itself,
so it is untested here and warned about; DeepSpeed is rejected. See docs/scaling.md.
"""

from __future__ import annotations

from typing import Any, Optional

from lightning.pytorch import Trainer
from lightning.pytorch.plugins.io.wrapper import _WrappingCheckpointIO
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
from lightning.pytorch.utilities import rank_zero_warn

try:  # deepspeed's strategy class imports without deepspeed installed
    from lightning.pytorch.strategies import DeepSpeedStrategy
except ImportError:  # pragma: no cover
    DeepSpeedStrategy = ()  # type: ignore[assignment,misc]

__all__ = ["prepare_strategy"]


def prepare_strategy(trainer: Trainer) -> None:
    """Make the trainer's strategy able to run critic/generator alternation.

    Each update backpropagates through one network only, so DDP must expect unused parameters
    (Lightning-AI/pytorch-lightning#20328). ``strategy="ddp"`` leaves ``find_unused_parameters``
    unset and is switched on here, before the model is wrapped; an explicit ``False`` is an error.
    A checkpoint that cannot be read is reported as a bad ``ckpt_path`` (instead of torch's advice
    to retry with ``weights_only=False``).

    Raises:
        ValueError: DeepSpeed (one optimizer only) or DDP with ``find_unused_parameters=False``.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise ValueError(
            "`strategy`: DeepSpeed supports a single optimizer, but adversarial training steps a generator and a "
            "critic optimizer. Use strategy='ddp' (or 'fsdp')."
        )
    if isinstance(strategy, FSDPStrategy):
        rank_zero_warn(
            "`strategy`: FSDP is untested with lightning-gans (Lightning refuses it on CPU, where our tests run); "
            "strategy='ddp' is the tested way to scale out. See docs/scaling.md."
        )
    if isinstance(strategy, DDPStrategy):
        kwargs = strategy._ddp_kwargs
        if kwargs.get("find_unused_parameters") is False:
            raise ValueError(
                "`strategy`: DDP with find_unused_parameters=False cannot train a GAN, whose updates each leave one "
                "network without gradients. Use strategy='ddp'; the module enables find_unused_parameters itself."
            )
        kwargs["find_unused_parameters"] = True
    if hasattr(strategy, "checkpoint_io") and not isinstance(strategy.checkpoint_io, _CheckpointErrorsNamed):
        strategy.checkpoint_io = _CheckpointErrorsNamed(strategy.checkpoint_io)


class _CheckpointErrorsNamed(_WrappingCheckpointIO):
    """Delegates to the strategy's checkpoint IO; a file that cannot be loaded is a ``ckpt_path`` error."""

    def load_checkpoint(self, path: Any, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict[str, Any]:
        try:
            return self.checkpoint_io.load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"`ckpt_path` {str(path)!r} does not exist.") from err
        except Exception as err:  # torch raises UnpicklingError/RuntimeError/EOFError for truncated or foreign files
            raise ValueError(
                f"`ckpt_path` {str(path)!r} is not a readable checkpoint (corrupt, truncated or not written by "
                f"Lightning; torch.load raised {type(err).__name__}, chained below). Do not retry with "
                "weights_only=False on a file you did not write yourself."
            ) from err
