"""The small protocol between an adversarial module and the callbacks that work with it.

Callbacks never import a concrete module class: they check in ``setup`` that the module offers what
they use (:func:`require`), split batches with :func:`split_batch`, and reach the optimizers by name
(:func:`generator_optimizer`, :func:`critic_optimizer`). :class:`~lightning_gans.AdversarialModule`
implements all of :class:`AdversarialProtocol`; a user's own LightningModule can too.

Example:
    >>> import torch
    >>> real, labels = split_batch((torch.zeros(4, 2), torch.arange(4)))
    >>> labels.tolist()
    [0, 1, 2, 3]
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

__all__ = [
    "AdversarialProtocol",
    "critic_optimizer",
    "generator_optimizer",
    "grad_scale",
    "grad_scaler",
    "require",
    "scores_per_sample",
    "split_batch",
]


@runtime_checkable
class AdversarialProtocol(Protocol):
    """What the callbacks may use of a module. Each callback names the subset it needs in ``setup``.

    Attributes:
        generator: the generator network; ``critic``: the critic network.
        latent_dim: size of a latent vector; ``num_classes``: number of classes, ``None`` if unconditional.
        generator_steps, critic_steps: updates made so far (checkpointed).
        generator_optimizer, critic_optimizer: the two optimizers during ``fit`` (Lightning-wrapped).
    """

    generator: nn.Module
    critic: nn.Module
    latent_dim: int
    num_classes: int | None
    generator_steps: int
    critic_steps: int

    @property
    def generator_optimizer(self) -> Any: ...

    @property
    def critic_optimizer(self) -> Any: ...

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor: ...

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor: ...

    def sample(
        self, n: int, *, labels: Any = None, noise: Tensor | None = None, rng: torch.Generator | None = None
    ) -> Tensor: ...

    def sample_noise(self, n: int, rng: torch.Generator | None = None) -> Tensor: ...

    def sample_labels(self, n: int, rng: torch.Generator | None = None) -> Tensor | None: ...


def require(pl_module: Any, callback: Any, *names: str) -> None:
    """Raise a ``TypeError`` naming what ``callback`` needs and ``pl_module`` lacks.

    Args:
        pl_module: the module the callback is attached to.
        callback: the callback (or its name) asking.
        names: attribute or method names from :class:`AdversarialProtocol`.

    Raises:
        TypeError: "`SampleLogger` needs a module with `sample`, `generator_steps` ..." listing the missing names.
    """
    missing = [name for name in names if not hasattr(pl_module, name)]
    if missing:
        who = callback if isinstance(callback, str) else type(callback).__name__
        raise TypeError(
            f"`{who}` needs a module with {', '.join(f'`{n}`' for n in missing)} "
            f"(see lightning_gans.protocol.AdversarialProtocol); {type(pl_module).__name__} has none of these."
        )


def split_batch(batch: Any) -> tuple[Tensor, Tensor | None]:
    """Split a training batch into ``(real, labels)``; ``labels`` is ``None`` for unlabelled data.

    Accepts a Tensor of real samples, or a sequence ``(real,)`` / ``(real, labels, ...)`` as
    ``TensorDataset`` and torchvision datasets yield. Labels are returned as they come; the module
    validates them when it is conditional.

    Raises:
        TypeError: ``batch`` is neither (the message names `batch`).
    """
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        labels = batch[1] if len(batch) > 1 and isinstance(batch[1], Tensor) else None
        return batch[0], labels
    raise TypeError(
        f"`batch` must be a Tensor or a (Tensor, ...) sequence of real samples, got {type(batch).__name__}."
    )


def scores_per_sample(scores: Tensor, n: int) -> Tensor:
    """A critic's output as shape ``(N,)``: ``(N,)`` passes, ``(N, 1)`` is squeezed, anything else is an error.

    Raises:
        ValueError: naming `critic`, with the shape it returned.
    """
    if scores.dim() == 2 and scores.shape[1] == 1:
        scores = scores.squeeze(1)
    if scores.shape != (n,):
        raise ValueError(
            f"`critic` must return one score per sample, shape ({n},) or ({n}, 1); got {tuple(scores.shape)}."
        )
    return scores


def grad_scaler(trainer: Any) -> torch.amp.GradScaler | None:
    """The trainer's enabled GradScaler under ``16-mixed``, else ``None``."""
    if trainer is None:
        return None
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return scaler if scaler is not None and scaler.is_enabled() else None


def grad_scale(trainer: Any) -> float | None:
    """The GradScaler's current scale under ``16-mixed``, else ``None``."""
    scaler = grad_scaler(trainer)
    return None if scaler is None else float(scaler.get_scale())


def _raw(optimizer: Any) -> Optimizer:
    return getattr(optimizer, "optimizer", optimizer)  # LightningOptimizer wraps the torch optimizer


def generator_optimizer(pl_module: Any) -> Optimizer:
    """The torch optimizer of the generator (valid from ``on_fit_start``), named, never by index."""
    return _raw(pl_module.generator_optimizer)


def critic_optimizer(pl_module: Any) -> Optimizer:
    """The torch optimizer of the critic (valid from ``on_fit_start``), named, never by index."""
    return _raw(pl_module.critic_optimizer)
