"""Adaptive discriminator augmentation (ADA): an augmentation probability steered by overfitting."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from lightning_gans.augment import ADA_OPS, ada_augment
from lightning_gans.callbacks.diff_augment import install_critic_augment, remove_critic_augment
from lightning_gans.protocol import REAL_SIGN, split_batch

__all__ = ["ADA_P", "ADA_RT", "REAL_SIGN", "AdaptiveAugment"]

ADA_P = "train/ada_p"
"""Name under which the current augmentation probability ``p`` is logged."""
ADA_RT = "train/ada_rt"
"""Name under which the last overfitting estimate ``r_t`` is logged."""


class AdaptiveAugment(Callback):
    """Augment the critic's inputs with probability ``p`` steered by ``r_t = E[sign(D(real))]`` (ADA).

    Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data",
    https://arxiv.org/abs/2006.06676, Sec. 3: an overfitting critic grows confident on the training
    images, so the fraction of (augmented) reals it scores positive rises. Every ``interval`` critic
    updates the callback takes ``r_t`` over the real samples of those updates (on every rank, summed
    across ranks), and moves ``p`` by ``sign(r_t - target) * n / (speed_kimg * 1000)``, ``n`` the real
    images behind ``r_t`` (the global batch size times ``interval``): so ``p`` can go from 0 to 1
    in ``speed_kimg`` thousand real images, the paper's 500k by default, whatever the batch size.
    ``p`` is clamped to [0, 1].

    The transforms are a differentiable subset of ADA's "bgc" pipeline
    (:func:`lightning_gans.augment.ada_augment`: flips, quarter turns, integer and fractional
    translation, isotropic and anisotropic scaling, rotation, brightness, contrast, saturation),
    each applied to each image with probability ``p``. Like :class:`DiffAugment`, it is installed as
    the module's ``critic_augment``: real and fake images, both updates, penalties included, drawn
    from the module's per-update RNG.

    ``p`` is the attribute :attr:`p`, logged as ``train/ada_p`` (and ``r_t`` as ``train/ada_rt``) at
    every adjustment, saved in the checkpoint with the partial statistics of the current interval
    (so a resumed run adjusts exactly when and as an uninterrupted one), and identical on every
    DDP rank (the statistics are all-reduced before each adjustment).

    Module protocol: a ``critic_augment`` attribute, and a ``training_step`` that returns, on a
    critic update, diagnostics holding ``train/real_sign`` (the mean sign of the critic's scores of
    the real batch); :class:`~lightning_gans.AdversarialModule` does. The batch size is read from
    the batch (:func:`lightning_gans.protocol.split_batch`).

    Args:
        target: the value of ``r_t`` to hold (ADA: 0.6).
        interval: critic updates between adjustments (ADA: 4 minibatches).
        speed_kimg: thousands of real images over which ``p`` can move from 0 to 1 (ADA: 500).
        initial_p: ``p`` at the start of a fresh fit.
        ops: the transforms to apply, a subset of :data:`lightning_gans.augment.ADA_OPS`.

    Raises:
        ValueError: an argument is out of range (the message names it); in ``setup``, another
            callback already augments the module.
        TypeError: in ``setup``, the module has no ``critic_augment`` attribute.
        RuntimeError: during fit, a critic update returned no ``train/real_sign`` diagnostic.

    Example:
        >>> trainer = Trainer(callbacks=[AdaptiveAugment(target=0.6)])  # doctest: +SKIP
    """

    def __init__(
        self,
        target: float = 0.6,
        interval: int = 4,
        speed_kimg: float = 500.0,
        initial_p: float = 0.0,
        ops: Sequence[str] = ADA_OPS,
    ) -> None:
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not -1.0 <= target <= 1.0:
            raise ValueError(f"`target` must be a number in [-1, 1], got {target!r}.")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"`interval` must be an integer >= 1, got {interval!r}.")
        if (
            isinstance(speed_kimg, bool)
            or not isinstance(speed_kimg, (int, float))
            or not speed_kimg > 0
            or math.isinf(speed_kimg)
        ):
            raise ValueError(f"`speed_kimg` must be a finite number > 0, got {speed_kimg!r}.")
        if isinstance(initial_p, bool) or not isinstance(initial_p, (int, float)) or not 0.0 <= initial_p <= 1.0:
            raise ValueError(f"`initial_p` must be a number in [0, 1], got {initial_p!r}.")
        unknown = [o for o in ops if o not in ADA_OPS]
        if unknown or isinstance(ops, str):
            raise ValueError(f"Unknown `ops` {unknown or ops!r}; expected a sequence of names from {list(ADA_OPS)}.")
        self._target = float(target)
        self._interval = interval
        self._speed = float(speed_kimg) * 1000.0
        self._ops = tuple(ops)
        #: The current augmentation probability, in [0, 1].
        self.p: float = float(initial_p)
        #: The last overfitting estimate ``r_t`` (``None`` before the first adjustment).
        self.rt: float | None = None
        self._sign_sum = 0.0  # this rank's sum of sign(D(real)) since the last adjustment
        self._count = 0  # this rank's real samples since the last adjustment
        self._updates = 0  # critic updates since the last adjustment

    def augment(self, x: Tensor, rng: torch.Generator | None = None) -> Tensor:
        """Each transform applied to each image of ``x`` with probability :attr:`p`, drawn from ``rng``."""
        return ada_augment(x, self.p, rng, self._ops)

    # ------------------------------------------------------------------------------------------
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if getattr(pl_module, "updates_per_batch", "one") != "one":
            raise ValueError(
                "`AdaptiveAugment` reads each critic update's `train/real_sign` from its batch's outputs, so it needs "
                "one update per batch: use `updates_per_batch='one'` (the default)."
            )
        install_critic_augment(pl_module, self, self.augment)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        remove_critic_augment(pl_module, self.augment)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not isinstance(outputs, Mapping) or REAL_SIGN not in outputs:
            if isinstance(outputs, Mapping) and "train/critic_loss" in outputs:
                raise RuntimeError(
                    f"`AdaptiveAugment` needs critic updates that return `{REAL_SIGN}` in their diagnostics "
                    "(AdversarialModule.critic_update does)."
                )
            return  # a generator update
        n = split_batch(batch)[0].shape[0]
        self._sign_sum += round(float(outputs[REAL_SIGN]) * n)  # a sum of signs: a whole number
        self._count += n
        self._updates += 1
        if self._updates >= self._interval:
            self._adjust(trainer, pl_module)

    def _adjust(self, trainer: Trainer, pl_module: LightningModule) -> None:
        stats = torch.tensor([self._sign_sum, float(self._count)], dtype=torch.float64, device=pl_module.device)
        stats = trainer.strategy.reduce(stats, reduce_op="sum")  # the same totals on every rank
        sign_sum, count = float(stats[0]), float(stats[1])
        self._sign_sum, self._count, self._updates = 0.0, 0, 0
        if count == 0:
            return
        self.rt = sign_sum / count  # r_t = E[sign(D(real))]
        step = math.copysign(count / self._speed, self.rt - self._target) if self.rt != self._target else 0.0
        self.p = min(max(self.p + step, 0.0), 1.0)
        pl_module.log(ADA_P, self.p, on_step=True, on_epoch=False)
        pl_module.log(ADA_RT, self.rt, on_step=True, on_epoch=False)

    # ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "rt": self.rt, "sign_sum": self._sign_sum, "count": self._count, "updates": self._updates}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.p = float(state_dict["p"])
        self.rt = None if state_dict["rt"] is None else float(state_dict["rt"])
        self._sign_sum = float(state_dict["sign_sum"])
        self._count = int(state_dict["count"])
        self._updates = int(state_dict["updates"])
