"""Critic regularisers as pure functions.

Each penalty takes the critic and the samples it needs and returns a scalar to *add* (times a
weight) to the critic loss. They broadcast over any sample shape: the batch is dim 0 and gradient
norms are taken over all other dims. Gradients with respect to the *input* are taken with
``torch.autograd.grad(..., create_graph=True)`` so that one ordinary backward of
``loss + weight * penalty`` trains the critic (the pattern that works under DDP,
pytorch/pytorch#63812).

Mixed precision: pass ``grad_scale`` (e.g. ``scaler.get_scale()`` of a ``GradScaler``) to scale the
critic output before differentiation and unscale the gradients afterwards, so that fp16 gradients
neither underflow nor overflow; norms are always computed in fp32 with an epsilon, so the penalty and
its gradient stay finite when an input gradient is exactly zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = [
    "frobenius_penalty",
    "gradient_norms",
    "gradient_penalty",
    "input_gradients",
    "interpolate",
    "lipschitz_penalty",
    "r1_penalty",
    "zero_centered_gradient_penalty",
]

Critic = Callable[[Tensor], Tensor]

_EPS = 1e-12
_MAX_INPUT_GRAD_SCALE = 2.0**10  # cap on ``grad_scale`` in :func:`input_gradients` (fp16 holds values up to 65504)


def _rng(rng: torch.Generator | None, generator: torch.Generator | None) -> torch.Generator | None:
    if generator is None:
        return rng
    warnings.warn(
        "penalties: `generator=` is now `rng=` (`generator` names a network).", DeprecationWarning, stacklevel=3
    )
    return generator


def interpolate(
    real: Tensor, fake: Tensor, rng: torch.Generator | None = None, *, generator: torch.Generator | None = None
) -> Tensor:
    """Per-sample random points on the lines between ``real`` and ``fake`` (WGAN-GP, Alg. 1 line 6).

    Args:
        real: real samples, shape ``(N, *S)``.
        fake: generated samples of the same shape.
        rng: optional RNG for the interpolation weights (``generator``: its deprecated name).

    Returns:
        ``eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample, detached.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"`real` and `fake` must have the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}."
        )
    rng = _rng(rng, generator)
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype, generator=rng)
    return (alpha * real.detach() + (1.0 - alpha) * fake.detach()).detach()


def input_gradients(
    critic: Critic, inputs: Tensor, grad_scale: float | None = None, create_graph: bool = True
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
        # The scale lifts small input gradients out of fp16's subnormals; 2**10 is enough (tests/test_precision.py).
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


def gradient_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    *,
    grad_scale: float | None = None,
    rng: torch.Generator | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Two-sided gradient penalty of WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028).

    For a linear critic ``f(x) = w.x`` it equals ``(||w|| - 1)^2`` exactly.

    Example:
        >>> critic = torch.nn.Linear(2, 1, bias=False)
        >>> gp = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    """
    # E_xhat[(||grad_x f(xhat)||_2 - 1)^2],  xhat = eps x + (1 - eps) G(z),  eps ~ U[0, 1]
    x_hat = interpolate(real, fake, _rng(rng, generator))
    norms = gradient_norms(input_gradients(critic, x_hat, grad_scale))
    return (norms - 1.0).pow(2).mean()


def lipschitz_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    *,
    grad_scale: float | None = None,
    rng: torch.Generator | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One-sided penalty of WGAN-LP (Petzka et al. 2018, https://arxiv.org/abs/1709.08894).

    Only gradient norms above 1 are penalised, which is what the Lipschitz constraint asks for.
    """
    # E_xhat[max(0, ||grad_x f(xhat)||_2 - 1)^2]
    x_hat = interpolate(real, fake, _rng(rng, generator))
    norms = gradient_norms(input_gradients(critic, x_hat, grad_scale))
    return torch.relu(norms - 1.0).pow(2).mean()


def zero_centered_gradient_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    *,
    grad_scale: float | None = None,
    rng: torch.Generator | None = None,
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
    x_hat = interpolate(real, fake, rng)
    return input_gradients(critic, x_hat, grad_scale).flatten(1).pow(2).sum(dim=1).mean()


def r1_penalty(critic: Critic, real: Tensor, *, grad_scale: float | None = None) -> Tensor:
    """R1 penalty on real data (Mescheder et al. 2018, https://arxiv.org/abs/1801.04406).

    The paper's regulariser is ``gamma / 2 * r1_penalty``: pass ``gamma / 2`` as the weight. It is
    the regulariser for non-Wasserstein losses (non-saturating, hinge): they need no Lipschitz
    constraint, only a critic that stops pushing the generator once the data are matched. It is
    cheap to apply lazily, e.g. ``AdversarialModule(..., penalty="r1", penalty_weight=gamma / 2,
    penalty_every=16)`` (StyleGAN2's interval; the module weights it by the interval).
    """
    # E_x[||grad_x f(x)||_2^2]
    grads = input_gradients(critic, real, grad_scale)
    return grads.flatten(1).pow(2).sum(dim=1).mean()


def frobenius_penalty(critic: nn.Module) -> Tensor:
    """Sum of squared Frobenius norms of the critic's weight matrices, a cheap Lipschitz regulariser.

    ``||W||_2 <= ||W||_F``, and the product of the layers' spectral norms bounds the Lipschitz
    constant of a feed-forward net with 1-Lipschitz activations, so shrinking ``sum ||W||_F^2``
    shrinks that bound without any SVD or input gradient (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957, compare this looser Frobenius bound with spectral norms). "Weight matrices" are the
    parameters with two or more dims (``Linear`` weights, conv kernels); biases and normalisation
    gains are left out. Its gradient is ``2 W``: times the module's weight, plain weight decay on
    the matrices, applied through the critic loss.

    Args:
        critic: the critic network.

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
