"""Weight clipping of the critic after every critic optimizer step."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn

__all__ = ["WeightClipping"]


class WeightClipping(Callback):
    """Clamp the critic's parameters to ``[-clip_value, clip_value]`` after every critic update.

    WGAN, Algorithm 1 line 7 (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875): the clamp
    keeps the critic in a compact set of K-Lipschitz functions.

    The clamp runs in a post-step hook of the critic's optimizer, so it follows every critic step
    and nothing else: not generator steps, and not a step that AMP's GradScaler skipped.

    Module protocol: ``pl_module.critic`` and ``configure_optimizers()`` returning
    ``[generator_optimizer, critic_optimizer]``.

    Args:
        clip_value: c > 0.
        parameter_filter: ``(name, parameter) -> bool`` choosing which critic parameters to clip
            (default: all).

    Example:
        >>> trainer = Trainer(callbacks=[WeightClipping(0.01)])  # doctest: +SKIP
    """

    def __init__(self, clip_value: float = 0.01, parameter_filter: Optional[Callable[[str, nn.Parameter], bool]] = None) -> None:
        if not isinstance(clip_value, (int, float)) or not clip_value > 0:
            raise ValueError(f"`clip_value` must be a number > 0, got {clip_value!r}.")
        self.clip_value = float(clip_value)
        self._filter = parameter_filter
        self._params: list[nn.Parameter] = []
        self._handle: Any = None
        #: How many times the critic was clipped in this fit.
        self.clip_events = 0

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        critic = getattr(pl_module, "critic", None)
        if not isinstance(critic, nn.Module) or len(trainer.optimizers) != 2:
            raise TypeError(
                "WeightClipping needs a module with a `critic` attribute and optimizers [generator, critic]."
            )
        self._params = [p for n, p in critic.named_parameters() if self._filter is None or self._filter(n, p)]
        self._handle = trainer.optimizers[1].register_step_post_hook(self._clip)

    def _clip(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for p in self._params:
                p.clamp_(-self.clip_value, self.clip_value)
        self.clip_events += 1

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
