"""What an EMA generator checkpoint holds, and re-attaching it on load: shared by the module and ``GeneratorEMA``.

A lower module (it imports no callback), so ``AdversarialModule.on_load_checkpoint`` can attach the
saved average without importing :mod:`lightning_gans.callbacks`.
"""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from lightning_gans._compat import has_submodule

__all__ = ["EMA_STATE_PREFIX", "attach_saved_ema"]

EMA_STATE_PREFIX = "GeneratorEMA"
"""Checkpoint ``callbacks`` keys of ``GeneratorEMA`` states start with the class name (Lightning's state keys)."""


def frozen_copy(generator: nn.Module) -> nn.Module:
    from lightning_gans.sharding import sharded_copy

    ema = sharded_copy(generator)  # FSDP2: a sharded copy (FSDP2 modules cannot be deep-copied)
    if ema is None:
        ema = copy.deepcopy(generator)
    ema.requires_grad_(False)
    return ema.eval()


def attach(pl_module: nn.Module, ema: nn.Module) -> None:
    """Set ``pl_module.ema_generator`` without registering a submodule.

    ``nn.Module.__setattr__`` would register any ``nn.Module`` value in ``_modules`` (and so in the
    state dict, DDP and ``.to()``); writing the instance attribute directly keeps it a plain reference.
    """
    if has_submodule(pl_module, "ema_generator"):
        raise ValueError(
            f"{type(pl_module).__name__} registers `ema_generator` as a submodule; GeneratorEMA manages it."
        )
    object.__setattr__(pl_module, "ema_generator", ema)


def _sampling_states(checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """States of ``GeneratorEMA`` callbacks with ``use_for_sampling=True`` saved in ``checkpoint``."""
    found = []
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if not (key.startswith(EMA_STATE_PREFIX) and isinstance(state, dict) and "ema" in state):
            continue
        if state.get("use_for_sampling", True):
            found.append(state)
    return found


def attach_saved_ema(pl_module: nn.Module, checkpoint: dict[str, Any]) -> nn.Module | None:
    """Re-attach the EMA generator a sampling ``GeneratorEMA`` saved, when a module is loaded without a Trainer.

    Called from ``AdversarialModule.on_load_checkpoint`` (before the state dict is loaded: the copy
    is taken of the generator's structure, spectral-norm parametrizations included, and filled
    from the saved average). Inside ``trainer.fit(ckpt_path=...)`` it does nothing: the callback
    itself restores and attaches the average when training starts, and a run resumed without the
    callback must not sample a stale average.

    Args:
        pl_module: the module being loaded (with a ``generator``).
        checkpoint: the loaded checkpoint dictionary.

    Returns:
        The attached average, or ``None`` (no sampling EMA saved, or a Trainer is attached).
    """
    if _attached_to_trainer(pl_module):
        return None
    states = _sampling_states(checkpoint)
    if len(states) != 1 or not isinstance(getattr(pl_module, "generator", None), nn.Module):
        return None
    ema = frozen_copy(pl_module.generator)  # type: ignore[arg-type]
    ema.load_state_dict(states[0]["ema"])
    attach(pl_module, ema)
    return ema


def _attached_to_trainer(pl_module: nn.Module) -> bool:
    try:
        return pl_module.trainer is not None  # LightningModule.trainer raises when no Trainer is attached
    except (RuntimeError, AttributeError):
        return False
