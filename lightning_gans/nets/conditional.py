"""Building blocks of class-conditional generators and critics.

* :class:`ConditionalBatchNorm2d`: batch normalisation whose scale and shift are looked up per class
  (de Vries et al. 2017, https://arxiv.org/abs/1707.00683; used for conditional generators by
  Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637).
* :class:`ProjectionHead`: the projection discriminator's class term ``<embed(y), phi(x)>``
  (Miyato & Koyama 2018, Eq. 3).
* :func:`one_hot_maps`: labels as constant one-hot channels, for critics that condition by
  concatenation (Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784).
* :data:`CRITIC_CONDITIONINGS`: the ways a shipped critic can take labels.

Plain ``nn.Module`` code; nothing here imports Lightning. Labels are integer class indices ``(N,)``
in ``[0, num_classes)``; the module (:class:`~lightning_gans.modules.AdversarialModule`) validates
them before they reach a network, the networks only check that they got labels at all.
"""

from __future__ import annotations

import torch  # noqa: F401  (the doctests use it)
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.protocol import check_labels_given

__all__ = [
    "CRITIC_CONDITIONINGS",
    "ConditionalBatchNorm2d",
    "ProjectionHead",
    "check_nets_num_classes",
    "check_num_classes",
    "one_hot_maps",
]

CRITIC_CONDITIONINGS: dict[str, str] = {
    "projection": "score = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018); the default",
    "concat": "one-hot labels concatenated to the input (Mirza & Osindero 2014)",
    "auxiliary": "unconditional score plus a class head read by AC-GAN's classifier loss (Odena et al. 2017)",
}
"""Critic conditionings selectable by name, each with what it computes."""


def check_num_classes(num_classes: int | None) -> int | None:
    """``num_classes`` is None (unconditional) or an integer >= 2; returns it.

    Raises:
        ValueError: otherwise, naming `num_classes`.
    """
    return _checks.optional_integer("num_classes", num_classes, minimum=2)


def _built_for(net: nn.Module) -> tuple[bool, int | None]:
    """Whether ``net`` records its number of classes (a ``num_classes`` attribute on it or a submodule), and the number."""
    for module in net.modules():
        if hasattr(module, "num_classes"):
            value = module.num_classes
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                return True, value
    return False, None


def check_nets_num_classes(num_classes: int | None, **nets: nn.Module) -> None:
    """Every net that records ``num_classes`` (the shipped ones do) was built for ``num_classes`` classes.

    A generator built for 5 classes trained on 10-class data would index past its class embeddings
    at the first batch with label 5 (a raw ``IndexError`` deep inside torch); a conditional net in an
    unconditional run, or the reverse, would fail at the first call. Nets that record nothing are
    not checked.

    Args:
        num_classes: the run's number of classes (the module's, which the CLI takes from the data), or None.
        nets: the networks by argument name, e.g. ``generator=..., critic=...``.

    Raises:
        InputError: a net was built for another number of classes (naming it and both numbers).

    Example:
        >>> from lightning_gans.nets import MLPGenerator
        >>> check_nets_num_classes(10, generator=MLPGenerator(num_classes=10))
    """
    for name, net in nets.items():
        records, built = _built_for(net)
        if records and built != num_classes:
            data = "unconditional data" if num_classes is None else f"{num_classes} classes"
            fix = "drop its `num_classes`" if num_classes is None else f"build it with `num_classes: {num_classes}`"
            raise _checks.InputError(
                f"`{name}` ({type(net).__name__}) was built for `num_classes`={built}, but the run has {data} "
                f"(the module's `num_classes`={num_classes}, taken from the data by the CLI): {fix}."
            )


def check_conditioning(conditioning: str) -> str:
    """``conditioning`` is a key of :data:`CRITIC_CONDITIONINGS`; returns it."""
    if conditioning not in CRITIC_CONDITIONINGS:
        raise ValueError(f"Unknown `conditioning` {conditioning!r}; expected one of {sorted(CRITIC_CONDITIONINGS)}.")
    return conditioning


def expect_labels(net: nn.Module, num_classes: int | None, labels: Tensor | None) -> None:
    """A conditional net needs ``labels``; an unconditional one must not get any (it would ignore them).

    Delegates to :func:`lightning_gans.protocol.check_labels_given`, the one check of this concern.
    """
    check_labels_given(labels, num_classes, type(net).__name__)


def one_hot_maps(labels: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """One-hot ``labels`` ``(N,)`` broadcast to the trailing shape of ``like``: ``(N, num_classes, *like.shape[2:])``.

    For a vector input ``like`` of shape ``(N, D)`` this is the plain one-hot ``(N, num_classes)``.
    """
    onehot = F.one_hot(labels, num_classes).to(like.dtype)  # (N, K)
    return onehot.view(*onehot.shape, *[1] * (like.dim() - 2)).expand(-1, -1, *like.shape[2:])


class ConditionalBatchNorm2d(nn.Module):
    """Batch normalisation with a per-class affine transform: ``gamma[y] * BN(x) + beta[y]``.

    The statistics are those of an ordinary ``BatchNorm2d`` without affine parameters; the scale and
    shift are rows of two embeddings, initialised to 1 and 0 so that every class starts as plain batch
    norm (de Vries et al. 2017; Miyato & Koyama 2018, Sec. 4).

    Args:
        num_features: channels ``C`` of the input ``(N, C, H, W)``.
        num_classes: number of classes.

    Example:
        >>> bn = ConditionalBatchNorm2d(8, num_classes=10)
        >>> bn(torch.randn(4, 8, 5, 5), torch.tensor([0, 3, 3, 9])).shape
        torch.Size([4, 8, 5, 5])
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        gamma = self.gamma(labels)[:, :, None, None]  # (N, C, 1, 1)
        beta = self.beta(labels)[:, :, None, None]
        return gamma * self.bn(x) + beta


class ProjectionHead(nn.Module):
    """The class term of a projection critic: ``<V[y], phi(x)>`` per sample (Miyato & Koyama 2018, Eq. 3).

    ``V`` is stored as the weight ``(features, num_classes)`` of a bias-free ``nn.Linear`` so that
    :class:`~lightning_gans.callbacks.SpectralNorm` normalises it like every other critic weight, as
    the paper does with its embedding; column ``y`` is the embedding of class ``y``.

    Args:
        features: size of the flattened features ``phi(x)``.
        num_classes: number of classes.

    Example:
        >>> head = ProjectionHead(6, num_classes=3)
        >>> head(torch.randn(4, 6), torch.tensor([0, 1, 2, 2])).shape
        torch.Size([4])
    """

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.embed = nn.Linear(num_classes, features, bias=False)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        v = self.embed.weight.t()[labels]  # (N, F): rows of V, spectral-normalised if the layer is
        return (v * features.flatten(1)).sum(dim=1)
