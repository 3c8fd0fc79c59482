"""The small protocol between an adversarial module and the callbacks that work with it.

Callbacks never import a concrete module class: they check in ``setup`` that the module offers what
they use (:func:`require`), split batches with :func:`split_batch`, and reach the optimizers by name
(:func:`generator_optimizer`, :func:`critic_optimizer`). :class:`~lightning_gans.AdversarialModule`
implements all of :class:`AdversarialProtocol`; a user's own LightningModule can too.

Labels are checked here, once for every entry point (modules, nets, the Hub loader, the commands):
:func:`check_labels_given` (a conditional network needs labels, an unconditional one must get none)
and :func:`check_labels` (integer class indices, one per sample, in range). The names under which
the modules log (``train/critic_loss`` ...) are constants here, for callbacks and dashboards.

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
    "CRITIC_LOSS",
    "GENERATOR_LOSS",
    "GENERATOR_STEP",
    "GRADIENT_PENALTY",
    "PENALTY",
    "REAL_SIGN",
    "WASSERSTEIN_ESTIMATE",
    "AdversarialProtocol",
    "check_labels",
    "check_labels_given",
    "critic_optimizer",
    "generator_optimizer",
    "grad_scale",
    "grad_scaler",
    "require",
    "scores_per_sample",
    "split_batch",
]


# Names under which the modules log; dashboards and callbacks rely on them.
CRITIC_LOSS = "train/critic_loss"
GENERATOR_LOSS = "train/generator_loss"
WASSERSTEIN_ESTIMATE = "train/wasserstein_estimate"
PENALTY = "train/penalty"
GRADIENT_PENALTY = "train/gradient_penalty"
GENERATOR_STEP = "train/generator_step"  # generator updates so far: the x-axis for dashboards
REAL_SIGN = "train/real_sign"  # E[sign(D(real))] of a critic update: ADA's overfitting heuristic r_t


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


def check_labels_given(labels: Tensor | None, num_classes: int | None, who: str = "this module") -> None:
    """A conditional network needs labels; an unconditional one must get none (it would silently ignore them).

    Raises:
        ValueError: naming `labels`, `num_classes` and ``who``.
    """
    if num_classes is None and labels is not None:
        raise ValueError(f"`labels` given, but {who} is unconditional (`num_classes` is None).")
    if num_classes is not None and labels is None:
        raise ValueError(f"`labels` are required: {who} is conditional (`num_classes`={num_classes}).")


def check_labels(labels: Any, n: int, num_classes: int | None, name: str = "labels") -> Tensor | None:
    """``labels`` as a long tensor of ``n`` class indices in ``[0, num_classes)``; ``None`` for an unconditional module.

    An ``int`` stands for ``n`` copies of itself. ``name`` is how the message names the labels
    (``"batch"``: the labels of a training batch).

    Raises:
        ValueError: labels for an unconditional module, none for a conditional one, not integers, not
            one per sample, or out of range (naming ``name`` and what it got).
    """
    what = "`labels` of the batch" if name == "batch" else f"`{name}`"
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"{what} given, but this module is unconditional (`num_classes` is None).")
        return None
    if labels is None:
        where = "; the datamodule must yield (images, labels)" if name == "batch" else ""
        raise ValueError(f"`labels` are required: this module is conditional (`num_classes`={num_classes}){where}.")
    if isinstance(labels, int) and not isinstance(labels, bool):
        labels = torch.full((n,), labels, dtype=torch.long)
    if not isinstance(labels, Tensor):
        raise ValueError(f"{what} must be a tensor of {n} class indices or one int, got {type(labels).__name__}.")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"{what} must be integer class indices, got dtype {labels.dtype}.")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{what} must have shape ({n},), one per sample, got {tuple(labels.shape)}.")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{what} must lie in [0, {num_classes}) (`num_classes`={num_classes}), "
            f"got values from {int(labels.min())} to {int(labels.max())}."
        )
    return labels.long()


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
