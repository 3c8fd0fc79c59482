"""Instance noise: Gaussian noise on real and generated samples, annealed to zero."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lightning.pytorch import Callback, Trainer

from lightning_gans.protocol import require

__all__ = ["INSTANCE_NOISE_STD", "InstanceNoise", "instance_noise_std"]

INSTANCE_NOISE_STD = "train/instance_noise_std"
"""Name under which the current sigma is logged."""


def _linear(progress: float) -> float:
    return 1.0 - progress


def _cosine(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


_SCHEDULES: dict[str, Callable[[float], float]] = {"linear": _linear, "cosine": _cosine}


def instance_noise_std(generator_steps: int, initial_std: float, anneal_steps: int, schedule: str = "linear") -> float:
    """Sigma after ``generator_steps`` generator updates: ``initial_std`` at 0, exactly 0 from ``anneal_steps`` on.

    ``linear``: ``sigma_0 * (1 - t / T)``; ``cosine``: ``sigma_0 * (1 + cos(pi t / T)) / 2``.

    Args:
        generator_steps: t, generator updates made so far (``module.generator_steps``).
        initial_std: sigma_0 >= 0.
        anneal_steps: T >= 1, generator updates over which sigma decays to 0.
        schedule: one of ``"linear"``, ``"cosine"``.
    """
    if generator_steps >= anneal_steps:
        return 0.0
    return float(initial_std) * _SCHEDULES[schedule](generator_steps / anneal_steps)


class InstanceNoise(Callback):
    """Add ``N(0, sigma^2)`` noise to real and generated samples before the critic sees them.

    With disjoint (or low-dimensional) supports the optimal discriminator is perfect and its
    gradients vanish or explode; adding the same noise to both distributions makes them overlap,
    so divergences become continuous and gradients informative (Arjovsky & Bottou 2017, "Towards
    Principled Methods for Training GANs", https://arxiv.org/abs/1701.04862, Sec. 3; Sønderby et
    al. 2017, https://arxiv.org/abs/1610.04490). Sigma is annealed from ``initial_std`` to 0 over
    ``anneal_steps`` generator updates, since the noise also blurs what the critic can tell apart.

    Sigma is a pure function of ``module.generator_steps`` (see :func:`instance_noise_std`), so a
    resumed run needs no extra state: it is set before every batch and the ``n_critic`` critic
    updates that precede generator update ``t + 1`` all use ``sigma(t)``. The noise itself is drawn
    by the module from its per-update RNG, so runs stay reproducible. The current sigma is logged
    as ``train/instance_noise_std``.

    Module protocol: an ``instance_noise_std`` attribute that the module's updates read (for
    :class:`~lightning_gans.AdversarialModule`, in :meth:`~lightning_gans.AdversarialModule.critic_inputs`,
    which noises both samples in the critic and the generator updates, so a gradient penalty
    interpolates between the noised samples) and a ``generator_steps`` counter.

    Args:
        initial_std: sigma_0 >= 0, in the data's units (the toy data and [-1, 1] images have unit scale).
        anneal_steps: generator updates over which sigma decays to 0 (>= 1).
        schedule: ``"linear"`` or ``"cosine"``.

    Raises:
        ValueError: an argument is out of range or unknown.

    Example:
        >>> trainer = Trainer(callbacks=[InstanceNoise(initial_std=0.1, anneal_steps=2000)])  # doctest: +SKIP
    """

    def __init__(self, initial_std: float = 0.1, anneal_steps: int = 1000, schedule: str = "linear") -> None:
        if (
            isinstance(initial_std, bool)
            or not isinstance(initial_std, (int, float))
            or not initial_std >= 0
            or math.isinf(initial_std)
        ):
            raise ValueError(f"`initial_std` must be a finite number >= 0, got {initial_std!r}.")
        if isinstance(anneal_steps, bool) or not isinstance(anneal_steps, int) or anneal_steps < 1:
            raise ValueError(f"`anneal_steps` must be an integer >= 1, got {anneal_steps!r}.")
        if schedule not in _SCHEDULES:
            raise ValueError(f"Unknown `schedule` {schedule!r}; expected one of {sorted(_SCHEDULES)}.")
        self._initial_std = float(initial_std)
        self._anneal_steps = anneal_steps
        self._schedule = schedule
        self._previous_std = 0.0

    def std_at(self, generator_steps: int) -> float:
        """Sigma after ``generator_steps`` generator updates."""
        return instance_noise_std(generator_steps, self._initial_std, self._anneal_steps, self._schedule)

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        require(pl_module, self, "instance_noise_std", "generator_steps")
        self._previous_std = float(pl_module.instance_noise_std)

    def on_train_batch_start(self, trainer: Trainer, pl_module: Any, batch: object, batch_idx: int) -> None:
        std = self.std_at(int(pl_module.generator_steps))
        pl_module.instance_noise_std = std
        pl_module.log(INSTANCE_NOISE_STD, std, on_step=True, on_epoch=False)

    def teardown(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        if hasattr(pl_module, "instance_noise_std"):
            pl_module.instance_noise_std = self._previous_std  # sampling and evaluation after fit see clean inputs
