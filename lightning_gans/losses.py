"""Adversarial losses as pure functions of critic outputs (logits, never probabilities).

Every function takes the critic's raw scores, shape ``(N,)``, and returns a scalar to *minimise*.
A critic loss is a function of ``(real_logits, fake_logits)``, a generator loss of ``fake_logits``.
``D(x) = sigmoid(logit)`` wherever a probability appears in a formula.

Derivations:

* Minimax / non-saturating: Goodfellow et al. 2014, "Generative Adversarial Nets",
  https://arxiv.org/abs/1406.2661. For a fixed generator the optimal discriminator is
  ``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (Prop. 1), and at ``D*`` the minimax value is
  ``-log 4 + 2 JS(p_data || p_g)`` (Thm. 1). The non-saturating generator loss is the paper's
  practical variant (Sec. 3): same fixed point, stronger gradients early in training.
* Wasserstein: Arjovsky et al. 2017, "Wasserstein GAN", https://arxiv.org/abs/1701.07875. By the
  Kantorovich-Rubinstein duality ``W1(P, Q) = sup_{||f||_L <= 1} E_P[f] - E_Q[f]``, so a
  1-Lipschitz critic maximising ``E[f(real)] - E[f(fake)]`` estimates W1 (Eq. 2-3).
* Hinge: Lim & Ye 2017, "Geometric GAN", https://arxiv.org/abs/1705.02894; Miyato et al. 2018.
* Least squares: Mao et al. 2017, "Least Squares GANs", https://arxiv.org/abs/1611.04076, with
  targets a=0 (fake), b=1 (real), c=1 (generator), i.e. Pearson chi^2 divergence (Thm. 1).
* Relativistic pairing (RpGAN): Jolicoeur-Martineau 2019, https://arxiv.org/abs/1807.00734, as R3GAN
  uses it (Huang et al. 2024, "The GAN is dead; long live the GAN!", https://arxiv.org/abs/2501.05441,
  Eq. 2): each real sample is paired with a fake one; the generator loss is the mirror image.
  Relativistic losses set ``AdversarialLoss(relativistic=True)``: their generator loss also takes the
  critic's scores of the real batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOSSES",
    "AdversarialLoss",
    "get_loss",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "relativistic_pairing_critic_loss",
    "relativistic_pairing_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_diagnostics",
    "wasserstein_generator_loss",
]


def minimax_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss of the original GAN (also used with the non-saturating generator)."""
    # -E[log D(x)] - E[log(1 - D(G(z)))];  -log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator loss of the original min-max game (saturates when D rejects fakes confidently)."""
    # E[log(1 - D(G(z)))] = -E[softplus(l)]
    return -F.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, Sec. 3)."""
    # -E[log D(G(z))] = E[softplus(-l)]
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Negative Kantorovich-Rubinstein objective; ``-loss`` is the critic's W1 estimate."""
    # E[f(G(z))] - E[f(x)]
    return fake_logits.mean() - real_logits.mean()


def wasserstein_diagnostics(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """The critic's estimate of W1, logged as ``train/wasserstein_estimate``."""
    # E[f(x)] - E[f(G(z))]
    return {"wasserstein_estimate": real_logits.mean() - fake_logits.mean()}


wasserstein_critic_loss.diagnostics = wasserstein_diagnostics  # type: ignore[attr-defined]  # any loss using it logs W1


def wasserstein_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator side of the Wasserstein objective."""
    # -E[f(G(z))]
    return -fake_logits.mean()


def relativistic_pairing_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RpGAN critic loss on paired samples (R3GAN, Eq. 2): real ``i`` against fake ``i``."""
    # E[softplus(-(D(x_i) - D(G(z_i))))] = -E[log sigmoid(D(x_i) - D(G(z_i)))]
    return F.softplus(-(real_logits - fake_logits)).mean()


def relativistic_pairing_generator_loss(fake_logits: Tensor, real_logits: Tensor) -> Tensor:
    """RpGAN generator loss, the mirror of the critic's: fake ``i`` against real ``i``."""
    # E[softplus(-(D(G(z_i)) - D(x_i)))]
    return F.softplus(-(fake_logits - real_logits)).mean()


def hinge_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss of the critic (Lim & Ye 2017)."""
    # E[max(0, 1 - f(x))] + E[max(0, 1 + f(G(z)))]
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """Generator side of the hinge loss."""
    # -E[f(G(z))]
    return -fake_logits.mean()


def least_squares_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """LSGAN critic loss with targets b=1 for real and a=0 for fake (Mao et al. 2017, Eq. 2)."""
    # 1/2 E[(f(x) - 1)^2] + 1/2 E[f(G(z))^2]
    return 0.5 * (real_logits - 1.0).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def least_squares_generator_loss(fake_logits: Tensor) -> Tensor:
    """LSGAN generator loss with target c=1."""
    # 1/2 E[(f(G(z)) - 1)^2]
    return 0.5 * (fake_logits - 1.0).pow(2).mean()


Diagnostics = Callable[[Tensor, Tensor], dict[str, Tensor]]
"""``diagnostics(real_logits, fake_logits) -> {name: value}``: what a loss logs besides its value (under ``train/``)."""


@dataclass(frozen=True)
class AdversarialLoss:
    """A critic loss and the generator loss that plays against it.

    Args:
        critic: ``(real_logits, fake_logits) -> scalar`` the critic minimises.
        generator: ``fake_logits -> scalar`` the generator minimises (``(fake_logits, real_logits) ->
            scalar`` when ``relativistic``).
        diagnostics: what to log from the critic's scores; ``None`` takes the critic loss's own
            ``diagnostics`` attribute if it has one (so any loss built on
            :func:`wasserstein_critic_loss` logs the W1 estimate).
        relativistic: the generator loss compares with the real batch: the module's generator update
            then scores the real batch as well (without gradients) and passes its scores.
    """

    critic: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[..., Tensor]
    diagnostics: Diagnostics | None = None
    relativistic: bool = False

    def critic_diagnostics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """The loss's diagnostics of one critic update's scores (empty for most losses)."""
        fn = self.diagnostics or getattr(self.critic, "diagnostics", None)
        return {} if fn is None else fn(real_logits, fake_logits)


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss(minimax_critic_loss, minimax_generator_loss),
    "non_saturating": AdversarialLoss(minimax_critic_loss, non_saturating_generator_loss),
    "wasserstein": AdversarialLoss(wasserstein_critic_loss, wasserstein_generator_loss),
    "hinge": AdversarialLoss(hinge_critic_loss, hinge_generator_loss),
    "least_squares": AdversarialLoss(least_squares_critic_loss, least_squares_generator_loss),
    "relativistic_pairing": AdversarialLoss(
        relativistic_pairing_critic_loss, relativistic_pairing_generator_loss, relativistic=True
    ),
}


def get_loss(loss: str | AdversarialLoss) -> AdversarialLoss:
    """Look up a loss pair by name, or pass an :class:`AdversarialLoss` through.

    Raises:
        ValueError: if ``loss`` is an unknown name.
    """
    if isinstance(loss, AdversarialLoss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"Unknown `loss` {loss!r}; expected one of {sorted(LOSSES)} or an AdversarialLoss.")
    return LOSSES[loss]


def loss_name(loss: AdversarialLoss) -> str:
    """The name of ``loss`` in :data:`LOSSES`, else ``"<critic loss>/<generator loss>"`` by import path."""
    for name, known in LOSSES.items():
        if known == loss:
            return name

    def path(fn: Callable) -> str:
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"

    return f"{path(loss.critic)}/{path(loss.generator)}"
