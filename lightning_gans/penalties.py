"""Critic regularisers as pure functions, one signature for all, and the table that names them.

Every penalty is ``penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None) -> scalar``,
which the module adds to the critic loss times ``penalty_weight``. ``critic(x)`` scores ``x``
``(N, *S) -> (N,)`` (a conditional module's labels held fixed) and ``critic.parameters()`` gives the
network's parameters; ``real`` and ``fake`` are what the critic saw; ``rng`` draws any randomness
(interpolation weights); ``grad_scale`` is a ``GradScaler``'s scale under ``16-mixed``. A penalty
that differentiates the critic per sample with respect to its input is marked with
:func:`input_gradient_penalty`, so a module warns when a BatchNorm critic would couple those
gradients across the batch (WGAN-GP, Sec. 4).

They broadcast over any sample shape: the batch is dim 0 and gradient norms are taken over all
other dims. Gradients with respect to the *input* are taken with ``torch.autograd.grad(...,
create_graph=True)`` so that one ordinary backward of ``loss + weight * penalty`` trains the critic
(the pattern that works under DDP, pytorch/pytorch#63812).

Mixed precision: ``grad_scale`` scales the critic output before differentiation and unscales the
gradients afterwards, so that fp16 gradients neither underflow nor overflow; norms are always
computed in fp32 with an epsilon, so the penalty and its gradient stay finite when an input
gradient is exactly zero.

A new penalty is one function with this signature (and, for input gradients, the marker); pass it
as ``penalty=my_penalty`` from Python or ``penalty: my_package.my_penalty`` in a config, or add it
to :data:`PENALTIES` to name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import torch
from torch import Tensor, nn

__all__ = [
    "PENALTIES",
    "Penalty",
    "PenaltyCritic",
    "frobenius_penalty",
    "get_penalty",
    "gradient_norms",
    "gradient_penalty",
    "input_gradient_penalty",
    "input_gradients",
    "interpolate",
    "lipschitz_penalty",
    "needs_input_gradients",
    "penalty_name",
    "r1_penalty",
    "r1_r2_penalty",
    "r2_penalty",
    "zero_centered_gradient_penalty",
]

_EPS = 1e-12
_MAX_INPUT_GRAD_SCALE = 2.0**10  # cap on ``grad_scale`` in :func:`input_gradients` (fp16 holds values up to 65504)


class PenaltyCritic(Protocol):
    """What a penalty may use of the critic: scores of inputs, and the network's parameters."""

    def __call__(self, x: Tensor) -> Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


Penalty = Callable[..., Tensor]
"""``penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None) -> scalar`` (see the module docstring)."""

_P = TypeVar("_P", bound=Callable[..., Tensor])


def input_gradient_penalty(penalty: _P) -> _P:
    """Mark ``penalty`` as one of per-sample input gradients, which BatchNorm couples across the batch."""
    penalty.input_gradients = True  # type: ignore[attr-defined]
    return penalty


def needs_input_gradients(penalty: Any) -> bool:
    """Whether ``penalty`` is marked with :func:`input_gradient_penalty`."""
    return bool(getattr(penalty, "input_gradients", False))


def interpolate(real: Tensor, fake: Tensor, rng: torch.Generator | None = None) -> Tensor:
    """Per-sample random points on the lines between ``real`` and ``fake`` (WGAN-GP, Alg. 1 line 6).

    Args:
        real: real samples, shape ``(N, *S)``.
        fake: generated samples of the same shape.
        rng: optional RNG for the interpolation weights.

    Returns:
        ``eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample, detached.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"`real` and `fake` must have the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}."
        )
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype, generator=rng)
    return (alpha * real.detach() + (1.0 - alpha) * fake.detach()).detach()


def input_gradients(
    critic: Callable[[Tensor], Tensor], inputs: Tensor, grad_scale: float | None = None, create_graph: bool = True
) -> Tensor:
    """Gradients of the critic's scores with respect to its inputs, in fp32, shape ``(N, *S)``.

    Args:
        critic: maps ``(N, *S)`` to ``(N,)`` or ``(N, 1)``.
        inputs: the points to differentiate at (detached here).
        grad_scale: loss scale of a ``GradScaler``; the output is multiplied by it (capped at
            2**10) before differentiation and the gradients divided by it afterwards.
        create_graph: keep the graph so that a penalty of these gradients can be backpropagated.
    """
    inputs = inputs.detach().requires_grad_(True)
    scores = critic(inputs)
    if grad_scale is not None:
        # The scale lifts small input gradients out of fp16's subnormals; 2**10 is enough (tests/modules/test_precision.py).
        # The GradScaler's 65536 is not: the gradient flowing back into an fp16 critic would be inf (fp16 max 65504).
        grad_scale = min(float(grad_scale), _MAX_INPUT_GRAD_SCALE)
        scores = scores.float() * grad_scale  # in fp32: under fp16 autocast, scores * 65536 overflows (max 65504)
    (grads,) = torch.autograd.grad(scores.sum(), inputs, create_graph=create_graph)
    grads = grads.float()
    if grad_scale is not None:
        grads = grads / grad_scale
    return grads


def gradient_norms(grads: Tensor, eps: float = _EPS) -> Tensor:
    """Per-sample L2 norms over all non-batch dims, ``sqrt(sum g^2 + eps)``, shape ``(N,)``."""
    return torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + eps)


def _squared_norms(grads: Tensor) -> Tensor:
    return grads.flatten(1).pow(2).sum(dim=1)  # ||g||^2 per sample, (N,)


@input_gradient_penalty
def gradient_penalty(
    critic: PenaltyCritic,
    real: Tensor,
    fake: Tensor,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """Two-sided gradient penalty of WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028).

    For a linear critic ``f(x) = w.x`` it equals ``(||w|| - 1)^2`` exactly.

    Example:
        >>> critic = torch.nn.Linear(2, 1, bias=False)
        >>> gp = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    """
    # E_xhat[(||grad_x f(xhat)||_2 - 1)^2],  xhat = eps x + (1 - eps) G(z),  eps ~ U[0, 1]
    norms = gradient_norms(input_gradients(critic, interpolate(real, fake, rng), grad_scale))
    return (norms - 1.0).pow(2).mean()


@input_gradient_penalty
def lipschitz_penalty(
    critic: PenaltyCritic,
    real: Tensor,
    fake: Tensor,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """One-sided penalty of WGAN-LP (Petzka et al. 2018, https://arxiv.org/abs/1709.08894).

    Only gradient norms above 1 are penalised, which is what the Lipschitz constraint asks for.
    """
    # E_xhat[max(0, ||grad_x f(xhat)||_2 - 1)^2]
    norms = gradient_norms(input_gradients(critic, interpolate(real, fake, rng), grad_scale))
    return torch.relu(norms - 1.0).pow(2).mean()


@input_gradient_penalty
def zero_centered_gradient_penalty(
    critic: PenaltyCritic,
    real: Tensor,
    fake: Tensor,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """Zero-centred gradient penalty at interpolates (Thanh-Tung et al. 2019, https://arxiv.org/abs/1902.03984).

    "Improving Generalization and Stability of Generative Adversarial Networks", Sec. 5 (GAN-0GP):
    pushing the critic's gradient towards 0 (not 1, as WGAN-GP does) on the lines between real and
    fake samples keeps the critic from sharpening around the training samples, which helps
    generalisation and stops gradient explosions; unlike R1 it acts between the two distributions.
    For a linear critic ``f(x) = w.x`` it equals ``||w||^2`` exactly.

    Example:
        >>> critic = torch.nn.Linear(2, 1, bias=False)
        >>> gp0 = zero_centered_gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    """
    # E_xhat[||grad_x f(xhat)||_2^2],  xhat = eps x + (1 - eps) G(z),  eps ~ U[0, 1]
    return _squared_norms(input_gradients(critic, interpolate(real, fake, rng), grad_scale)).mean()


@input_gradient_penalty
def r1_penalty(
    critic: PenaltyCritic,
    real: Tensor,
    fake: Tensor | None = None,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """R1 penalty on real data (Mescheder et al. 2018, https://arxiv.org/abs/1801.04406).

    The paper's regulariser is ``gamma / 2 * r1_penalty``: pass ``gamma / 2`` as the weight. It is
    the regulariser for non-Wasserstein losses (non-saturating, hinge): they need no Lipschitz
    constraint, only a critic that stops pushing the generator once the data are matched. It is
    cheap to apply lazily, e.g. ``AdversarialModule(..., penalty="r1", penalty_weight=gamma / 2,
    penalty_every=16)`` (StyleGAN2's interval; the module weights it by the interval).
    """
    # E_x[||grad_x f(x)||_2^2]
    return _squared_norms(input_gradients(critic, real, grad_scale)).mean()


@input_gradient_penalty
def r2_penalty(
    critic: PenaltyCritic,
    real: Tensor | None,
    fake: Tensor,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """R2 penalty on generated data (Mescheder et al. 2018; R3GAN, Huang et al. 2024, Eq. 4).

    The mirror of :func:`r1_penalty`: the critic's gradient at the generator's samples is pushed to
    zero. R3GAN regularises with ``gamma / 2 * (R1 + R2)`` at every update.
    """
    # E_z[||grad_x f(G(z))||_2^2]
    return _squared_norms(input_gradients(critic, fake, grad_scale)).mean()


@input_gradient_penalty
def r1_r2_penalty(
    critic: PenaltyCritic,
    real: Tensor,
    fake: Tensor,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """``R1 + R2``: zero-centred gradient penalties on both real and generated data (R3GAN's, Huang et al. 2024).

    With weight ``gamma / 2`` this is the paper's regulariser ``gamma / 2 * (R1 + R2)`` (Sec. 2.2).
    """
    # E_x[||grad f(x)||^2] + E_z[||grad f(G(z))||^2]
    return r1_penalty(critic, real, fake, grad_scale=grad_scale) + r2_penalty(critic, real, fake, grad_scale=grad_scale)


def frobenius_penalty(
    critic: PenaltyCritic,
    real: Tensor | None = None,
    fake: Tensor | None = None,
    *,
    labels: Tensor | None = None,
    rng: torch.Generator | None = None,
    grad_scale: float | None = None,
) -> Tensor:
    """Sum of squared Frobenius norms of the critic's weight matrices, a cheap Lipschitz regulariser.

    ``||W||_2 <= ||W||_F``, and the product of the layers' spectral norms bounds the Lipschitz
    constant of a feed-forward net with 1-Lipschitz activations, so shrinking ``sum ||W||_F^2``
    shrinks that bound without any SVD or input gradient (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957, compare this looser Frobenius bound with spectral norms). "Weight
    matrices" are the parameters with two or more dims (``Linear`` weights, conv kernels); biases
    and normalisation gains are left out. Its gradient is ``2 W``: times the module's weight, plain
    weight decay on the matrices, applied through the critic loss. The samples are not used.

    Raises:
        ValueError: ``critic`` has no parameter with two or more dims.

    Example:
        >>> critic = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
        >>> penalty = frobenius_penalty(critic)  # ||W1||_F^2 + ||W2||_F^2
    """
    # sum_l ||W_l||_F^2 = sum_l sum_ij W_lij^2
    matrices = [p for p in critic.parameters() if p.dim() >= 2]
    if not matrices:
        raise ValueError("`critic` has no weight matrix (parameter with >= 2 dims) to penalise.")
    return torch.stack([w.float().pow(2).sum() for w in matrices]).sum()


PENALTIES: dict[str, Penalty] = {
    "gradient_penalty": gradient_penalty,
    "lipschitz_penalty": lipschitz_penalty,
    "zero_centered_gp": zero_centered_gradient_penalty,
    "r1": r1_penalty,
    "r2": r2_penalty,
    "r1_r2": r1_r2_penalty,
    "frobenius": frobenius_penalty,
}
"""Penalties selectable by name through ``penalty=``; any function with the one signature works as well."""


def get_penalty(penalty: str | Penalty | None) -> Penalty | None:
    """A name in :data:`PENALTIES`, an import path (``"my_package.my_penalty"``, as configs give it) or a callable.

    Raises:
        ValueError: an unknown name, or an import path that does not import (naming `penalty`).
        TypeError: not callable, or a callable that does not take ``(critic, real, fake, *, labels, rng, grad_scale)``.
    """
    import inspect

    from lightning_gans._checks import InputError, InputTypeError

    if penalty is None:
        return None
    if isinstance(penalty, str):
        if penalty in PENALTIES:
            return PENALTIES[penalty]
        if "." not in penalty:
            raise InputError(
                f"Unknown `penalty` {penalty!r}; expected one of {sorted(PENALTIES)}, an import path or a callable."
            )
        from lightning_gans.checkpoints import import_object

        penalty = import_object(penalty, "penalty")
    if not callable(penalty):
        raise InputTypeError(f"`penalty` must be a name in {sorted(PENALTIES)}, a callable or None, got {penalty!r}.")
    try:
        inspect.signature(penalty).bind(None, None, None, labels=None, rng=None, grad_scale=None)
    except TypeError as err:
        raise InputTypeError(
            f"`penalty` {penalty_name(penalty)} must take (critic, real, fake, *, labels=None, rng=None, "
            f"grad_scale=None): {err}."
        ) from None
    except ValueError:  # no signature (a builtin or C function): trust it
        pass
    return penalty


def penalty_name(penalty: Penalty | None) -> str | None:
    """The name of ``penalty`` in :data:`PENALTIES`, else its import path (``None`` for no penalty)."""
    if penalty is None:
        return None
    for name, fn in PENALTIES.items():
        if fn is penalty:
            return name
    return f"{getattr(penalty, '__module__', '?')}.{getattr(penalty, '__qualname__', type(penalty).__name__)}"
