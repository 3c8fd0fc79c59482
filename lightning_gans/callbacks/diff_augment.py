"""DiffAugment: the same differentiable augmentation on real and generated images, in both updates."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from lightning_gans.augment import diff_augment, parse_policy
from lightning_gans.protocol import require

__all__ = ["DiffAugment", "install_critic_augment", "remove_critic_augment"]


def install_critic_augment(pl_module: Any, callback: Callback, augment: Any) -> None:
    """Set ``pl_module.critic_augment`` to ``augment``; refuse a module without it or one already augmented.

    Shared by :class:`DiffAugment` and :class:`~lightning_gans.callbacks.AdaptiveAugment`, which
    exclude each other (stacking two augmentation pipelines is almost never intended).
    """
    name = type(callback).__name__
    require(pl_module, callback, "critic_augment")
    current = pl_module.critic_augment
    if current is not None and current != augment:
        owner = getattr(getattr(current, "__self__", None), "__class__", type(current)).__name__
        raise ValueError(
            f"`{name}` cannot augment a module whose `critic_augment` is already set (by {owner}): use one augmentation callback."
        )
    pl_module.critic_augment = augment


def remove_critic_augment(pl_module: Any, augment: Any) -> None:
    """Unset ``pl_module.critic_augment`` if it is still ``augment`` (sampling after fit sees clean inputs)."""
    if getattr(pl_module, "critic_augment", None) == augment:
        pl_module.critic_augment = None


class DiffAugment(Callback):
    """Differentiable augmentation of every image the critic sees (Zhao et al. 2020).

    "Differentiable Augmentation for Data-Efficient GAN Training", https://arxiv.org/abs/2006.10738:
    with little data the critic memorises the real images; augmenting only the reals changes the
    distribution the generator learns, so the same random transformation family ``T`` is applied to
    real **and** generated images, in the critic update (``D(T(x))`` vs ``D(T(G(z)))``) **and** in the
    generator update (``D(T(G(z)))``), with gradients flowing through ``T`` to the generator. ``T``
    is drawn independently for every image.

    Installed as the module's ``critic_augment`` (applied by
    :meth:`~lightning_gans.AdversarialModule.critic_inputs` to the real and the fake batch after
    instance noise), so penalties (gradient penalty, R1) are computed on the augmented images, as in
    the paper's code. Every random number comes from the module's per-update RNG, so a resumed run
    augments exactly as an uninterrupted one would. The augmentation is removed again at the end
    of fit (``sample()`` and evaluation see the generator's own images).

    Args:
        policy: comma-separated subset of ``"color"`` (brightness, saturation, contrast),
            ``"translation"`` (whole-pixel shifts up to 1/8 of the side, zero fill) and ``"cutout"``
            (one zeroed square of half the side); the paper's default for small data is all three.

    Raises:
        ValueError: unknown ``policy`` entries (naming `policy`); in ``setup``, another callback already
            augments the module.
        TypeError: in ``setup``, the module has no ``critic_augment`` attribute.

    Example:
        >>> trainer = Trainer(callbacks=[DiffAugment("color,translation,cutout")])  # doctest: +SKIP
    """

    def __init__(self, policy: str = "color,translation,cutout") -> None:
        self._names = parse_policy(policy)
        self.policy = ",".join(self._names)

    def augment(self, x: Tensor, rng: torch.Generator | None = None) -> Tensor:
        """``T(x)``: the policy's ops on every sample of ``x``, drawn from ``rng``."""
        return diff_augment(x, self.policy, rng)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        install_critic_augment(pl_module, self, self.augment)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        remove_critic_augment(pl_module, self.augment)
