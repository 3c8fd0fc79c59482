"""The papers' modules: each is :class:`~lightning_gans.modules.base.AdversarialModule` with a loss, a
penalty, defaults and (for WGAN and SNGAN) the callback its paper needs.

Adding a variant takes one small class like these, or one loss function.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.losses import AdversarialLoss
from lightning_gans.modules.base import AdversarialModule, OptimizerCallable, UpdateTensors, adam
from lightning_gans.penalties import Penalty
from lightning_gans.protocol import scores_per_sample

__all__ = [
    "ACGAN",
    "CLASSIFIER_ACCURACY_REAL",
    "CLASSIFIER_LOSS_FAKE",
    "CLASSIFIER_LOSS_GENERATOR",
    "CLASSIFIER_LOSS_REAL",
    "GAN",
    "R3GAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
]

CLASSIFIER_LOSS_REAL = "train/classifier_loss_real"  # ACGAN: CE of the critic's class head on real samples
CLASSIFIER_LOSS_FAKE = "train/classifier_loss_fake"  # ACGAN: ... on generated samples (critic update)
CLASSIFIER_ACCURACY_REAL = "train/classifier_accuracy_real"  # ACGAN: the head's accuracy on real samples
CLASSIFIER_LOSS_GENERATOR = "train/classifier_loss_generator"  # ACGAN: CE of the generated samples (generator update)


class GAN(AdversarialModule):
    """The original GAN (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661).

    Non-saturating generator loss by default (``loss="minimax"`` for the min-max objective);
    Adam 2e-4, betas (0.5, 0.999) as in DCGAN (Radford et al. 2016); ``n_critic=1`` (the paper's k).
    Its arguments are :class:`AdversarialModule`'s, which already defaults to exactly this.

    Example:
        >>> from lightning_gans.nets import MLPGenerator, MLPCritic
        >>> model = GAN(MLPGenerator(latent_dim=2), MLPCritic(), latent_dim=2, loss="minimax")
    """

    default_generator_optimizer = adam(2e-4, (0.5, 0.999))
    default_critic_optimizer = adam(2e-4, (0.5, 0.999))


class WGAN(AdversarialModule):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875).

    Algorithm 1 with its defaults: RMSProp, lr 5e-5, clip c = 0.01 after every critic update,
    ``n_critic=5``. The clipping is the :class:`~lightning_gans.callbacks.WeightClipping` callback,
    which this module brings along through ``configure_callbacks``; set ``clip_value=None`` to
    train without it (e.g. with spectral normalisation instead).

    The other arguments are :class:`AdversarialModule`'s.

    Args:
        clip_value: clip the critic's parameters to ``[-clip_value, clip_value]`` (> 0) or ``None``.
    """

    default_generator_optimizer = partial(torch.optim.RMSprop, lr=5e-5)
    default_critic_optimizer = partial(torch.optim.RMSprop, lr=5e-5)

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        clip_value: float | None = 0.01,
        n_critic: int = 5,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        num_classes: int | None = None,
        compile: bool | dict[str, Any] = False,
        updates_per_batch: str = "one",
    ) -> None:
        if clip_value is not None:
            clip_value = _checks.number("clip_value", clip_value, minimum=0.0, strict=True)
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss="wasserstein",
            n_critic=n_critic,
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            num_classes=num_classes,
            compile=compile,
            updates_per_batch=updates_per_batch,
        )
        self.clip_value = clip_value

    def configure_callbacks(self) -> list:
        if self.clip_value is None:
            return []
        from lightning_gans.callbacks.weight_clipping import WeightClipping  # at fit time: modules import no callback

        return [WeightClipping(self.clip_value)]


class WGANGP(AdversarialModule):
    """WGAN with gradient penalty (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028).

    Algorithm 1 with its defaults: lambda = 10, ``n_critic=5``, Adam lr 1e-4, betas (0, 0.9).
    The critic should not use BatchNorm (the penalty is per sample; the paper uses layer norm or none).

    The other arguments are :class:`AdversarialModule`'s.

    Args:
        gp_weight: lambda, the weight of the gradient penalty (> 0; for no constraint use ``WGAN(clip_value=None)``).
        penalty_every: compute the penalty on every k-th critic update only, weighted by k (lazy
            regularisation); 1 is the paper's.

    Example:
        >>> from lightning_gans.nets import MLPGenerator, MLPCritic
        >>> model = WGANGP(MLPGenerator(latent_dim=2), MLPCritic(), latent_dim=2)
    """

    default_generator_optimizer = adam(1e-4, (0.0, 0.9))
    default_critic_optimizer = adam(1e-4, (0.0, 0.9))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        gp_weight: float = 10.0,
        n_critic: int = 5,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        penalty_every: int = 1,
        num_classes: int | None = None,
        compile: bool | dict[str, Any] = False,
        updates_per_batch: str = "one",
    ) -> None:
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss="wasserstein",
            n_critic=n_critic,
            penalty="gradient_penalty",
            penalty_weight=_checks.number("gp_weight", gp_weight, minimum=0.0, strict=True),
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            penalty_every=penalty_every,
            num_classes=num_classes,
            compile=compile,
            updates_per_batch=updates_per_batch,
        )


class SNGAN(AdversarialModule):
    """Spectrally normalised GAN (Miyato et al. 2018, https://arxiv.org/abs/1802.05957).

    The paper's ResNet setting for CIFAR-10 and STL-10: hinge loss (its Eq. 16/17, from Lim & Ye 2017
    and Tran et al. 2017), spectral normalisation of every critic layer, Adam lr 2e-4 with betas
    (0, 0.9) for both nets, ``n_critic=5`` (setting "C" of its Table 1). The spectral normalisation
    is the :class:`~lightning_gans.callbacks.SpectralNorm` callback (one power iteration per
    forward, as in the paper), which this module brings along through ``configure_callbacks`` —
    as :class:`WGAN` brings its clipping — so ``ResNetCritic()`` or any critic can be passed as is;
    ``spectral_norm=False`` trains without it (e.g. a critic that normalises itself).

    With a non-Wasserstein loss no gradient penalty is needed; R1 (``penalty="r1"``, Mescheder et
    al. 2018) or the zero-centred penalty (``"zero_centered_gp"``) can be added, lazily with
    ``penalty_every``.

    The other arguments are :class:`AdversarialModule`'s.

    Args:
        spectral_norm: bring the ``SpectralNorm`` callback for the critic.

    Example:
        >>> from lightning_gans.nets import ResNetCritic, ResNetGenerator
        >>> model = SNGAN(ResNetGenerator(latent_dim=128), ResNetCritic(), latent_dim=128)
    """

    default_generator_optimizer = adam(2e-4, (0.0, 0.9))
    default_critic_optimizer = adam(2e-4, (0.0, 0.9))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        n_critic: int = 5,
        spectral_norm: bool = True,
        penalty: str | Penalty | None = None,
        penalty_weight: float = 0.0,
        penalty_every: int = 1,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        num_classes: int | None = None,
        compile: bool | dict[str, Any] = False,
        updates_per_batch: str = "one",
    ) -> None:
        spectral_norm = _checks.boolean("spectral_norm", spectral_norm)
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss="hinge",
            n_critic=n_critic,
            penalty=penalty,
            penalty_weight=penalty_weight,
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            penalty_every=penalty_every,
            num_classes=num_classes,
            compile=compile,
            updates_per_batch=updates_per_batch,
        )
        self.spectral_norm = spectral_norm

    def configure_callbacks(self) -> list:
        if not self.spectral_norm:
            return []
        from lightning_gans.callbacks.spectral_norm import SpectralNorm  # at fit time: modules import no callback

        return [SpectralNorm(critic=True, generator=False)]


class R3GAN(AdversarialModule):
    """R3GAN's objective: RpGAN loss + R1 + R2 (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern
    GAN Baseline", NeurIPS, https://arxiv.org/abs/2501.05441; reference code brownvc/R3GAN, ``R3GAN/Trainer.py``).

    * critic: ``E[softplus(-(D(x_i) - D(G(z_i))))] + gamma / 2 * (E||grad_x D(x)||^2 + E||grad_x D(G(z))||^2)``,
      real ``i`` paired with fake ``i`` (the paper's Eq. 2 and its regulariser ``gamma / 2 * (R1 + R2)``; the
      reference code: ``AdversarialLoss + (Gamma / 2) * (R1Penalty + R2Penalty)``, the squared gradient summed
      over all pixels of a sample, then the batch mean);
    * generator: the mirror ``E[softplus(-(D(G(z_i)) - D(x_i)))]`` on a fresh real batch (the critic's scores
      of it without gradients: they do not depend on the generator).

    That is ``loss="relativistic_pairing"`` with ``penalty="r1_r2"`` at weight ``gamma / 2``, every update (not
    lazy, as in the paper). The paper's architecture (a normalisation-free ResNet) is not part of the
    objective: any generator and critic work, but the critic must not use BatchNorm (the penalties are per
    sample), e.g. ``DCGANCritic(norm="none")``. Penalties differentiate what the critic sees, i.e. after
    :meth:`critic_inputs` (the reference code differentiates before its augmentation; equal without one).

    Defaults, from the reference code's CIFAR-10 preset (``train.py``, 32x32, the size of our nets) at
    the start of its schedules: Adam lr 2e-4 with betas (0, 0.9), ``gamma=0.05``, ``n_critic=1``.
    The paper decays lr to 5e-5 and gamma to 0.005 and raises beta2 to 0.99 over tens of millions of
    images; our runs are minutes long, so the start values stand, and there is no schedule here.
    The paper also averages the generator (EMA): add :class:`~lightning_gans.callbacks.GeneratorEMA`.

    The other arguments are :class:`AdversarialModule`'s.

    Args:
        gamma: the paper's gamma, weight ``gamma / 2`` of ``R1 + R2`` (> 0).
        penalty_every: compute the penalties on every k-th critic update only, weighted by k (lazy
            regularisation; the paper: 1).

    Raises:
        ValueError: ``gamma`` <= 0, or another argument out of range (naming it).

    Example:
        >>> from lightning_gans.nets import DCGANCritic, DCGANGenerator
        >>> model = R3GAN(DCGANGenerator(latent_dim=64, image_size=32, channels=1),
        ...               DCGANCritic(image_size=32, channels=1, norm="none"), latent_dim=64)
        >>> model.penalty_weight  # gamma / 2
        0.025
    """

    default_generator_optimizer = adam(2e-4, (0.0, 0.9))
    default_critic_optimizer = adam(2e-4, (0.0, 0.9))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        gamma: float = 0.05,
        n_critic: int = 1,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        penalty_every: int = 1,
        num_classes: int | None = None,
        compile: bool | dict[str, Any] = False,
        updates_per_batch: str = "one",
    ) -> None:
        gamma = _checks.number("gamma", gamma, minimum=0.0, strict=True)
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss="relativistic_pairing",
            n_critic=n_critic,
            penalty="r1_r2",
            penalty_weight=gamma / 2,  # gamma / 2 * (R1 + R2)
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            penalty_every=penalty_every,
            num_classes=num_classes,
            compile=compile,
            updates_per_batch=updates_per_batch,
        )
        self.gamma = gamma


class ACGAN(AdversarialModule):
    """AC-GAN: a conditional generator against a critic with an auxiliary classifier (Odena et al. 2017, https://arxiv.org/abs/1610.09585).

    The critic's adversarial score ignores the label; its class head, reached through
    ``critic.score_and_classify(x) -> (scores (N,), logits (N, num_classes))`` (e.g.
    ``DCGANCritic(..., num_classes=K, conditioning="auxiliary")``), is trained with cross-entropy on
    real and generated samples, and the generator is rewarded when the head assigns its samples to
    their requested class. With ``L_C`` the log-likelihood of the correct class (the paper's Eq. 2-3):

    * critic: ``critic_loss(real, fake) + classifier_weight * (CE(real, y) + CE(fake, y))``
      (D maximises ``L_S + L_C``);
    * generator: ``generator_loss(fake) + classifier_weight * CE(fake, y)`` (G maximises ``L_C - L_S``).

    The fakes take the real batch's labels ``y``, as in :class:`AdversarialModule`. The adversarial
    loss, penalty, ``n_critic`` and optimizers are the base module's, so a WGAN-GP with an auxiliary
    classifier is ``ACGAN(..., loss="wasserstein", penalty="gradient_penalty", penalty_weight=10,
    n_critic=5)``; a penalty sees the adversarial score only. Defaults: non-saturating loss, Adam
    2e-4 with betas (0.5, 0.999) as in the paper. This class overrides :meth:`critic_outputs` (one forward pass gives scores and logits) and the
    extra-loss hooks, and also logs
    ``train/classifier_loss_real``, ``train/classifier_loss_fake``, ``train/classifier_accuracy_real``
    and ``train/classifier_loss_generator``; ``train/critic_loss`` and ``train/generator_loss`` stay
    the adversarial parts. With ``classifier_weight=0`` it trains exactly like the base module.
    How AC-GAN differs from a projection critic: docs/conditional.md.

    The other arguments are :class:`AdversarialModule`'s.

    Args:
        num_classes: number of classes (required).
        classifier_weight: weight of the cross-entropy terms (>= 0; the paper weighs them 1).

    Raises:
        ValueError: ``num_classes`` is None, or ``classifier_weight`` < 0.
        TypeError: ``critic`` has no ``score_and_classify``.

    Example:
        >>> from lightning_gans.nets import DCGANCritic, DCGANGenerator
        >>> model = ACGAN(DCGANGenerator(latent_dim=32, image_size=8, channels=1, num_classes=10),
        ...               DCGANCritic(image_size=8, channels=1, norm="none", num_classes=10, conditioning="auxiliary"),
        ...               latent_dim=32, num_classes=10)
    """

    default_generator_optimizer = adam(2e-4, (0.5, 0.999))
    default_critic_optimizer = adam(2e-4, (0.5, 0.999))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        num_classes: int | None = None,
        classifier_weight: float = 1.0,
        loss: str | AdversarialLoss = "non_saturating",
        n_critic: int = 1,
        penalty: str | Penalty | None = None,
        penalty_weight: float = 0.0,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        penalty_every: int = 1,
        compile: bool | dict[str, Any] = False,
        updates_per_batch: str = "one",
    ) -> None:
        if num_classes is None:
            raise ValueError(
                "`num_classes`: ACGAN is class-conditional; give the number of classes (the CLI takes it from the data)."
            )
        if (
            not callable(getattr(critic, "score_and_classify", None))
            or getattr(critic, "conditioning", "auxiliary") != "auxiliary"
        ):
            raise TypeError(
                f"`critic` must have `score_and_classify(x) -> (scores, class logits)` for ACGAN, got a {type(critic).__name__}; "
                "e.g. DCGANCritic(..., num_classes=K, conditioning='auxiliary')."
            )
        classifier_weight = _checks.number("classifier_weight", classifier_weight, minimum=0.0)
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss=loss,
            n_critic=n_critic,
            penalty=penalty,
            penalty_weight=penalty_weight,
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            penalty_every=penalty_every,
            num_classes=num_classes,
            compile=compile,
            updates_per_batch=updates_per_batch,
        )
        self.classifier_weight = classifier_weight

    def critic_outputs(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The critic's adversarial scores ``(N,)`` and class logits ``(N, num_classes)`` of ``x``, in one pass."""
        scores, logits = self.critic.score_and_classify(x)
        if logits is None or logits.shape != (x.shape[0], self.num_classes):
            raise ValueError(
                f"`critic`.score_and_classify must return class logits of shape ({x.shape[0]}, {self.num_classes})."
            )
        return scores_per_sample(scores, x.shape[0]), logits

    def extra_critic_loss(self, t: UpdateTensors) -> tuple[Tensor, dict[str, Tensor]]:
        """``classifier_weight * (CE(real) + CE(fake))``: the critic maximises ``L_C`` on both."""
        labels = cast(Tensor, t.labels)  # ACGAN is conditional: the batch has labels
        ce_real = F.cross_entropy(t.real_extra, labels)  # -L_C on real samples
        ce_fake = F.cross_entropy(t.fake_extra, labels)  # -L_C on generated samples
        logs = {
            CLASSIFIER_LOSS_REAL: ce_real,
            CLASSIFIER_LOSS_FAKE: ce_fake,
            CLASSIFIER_ACCURACY_REAL: (t.real_extra.detach().argmax(dim=1) == labels).float().mean(),
        }
        return self.classifier_weight * (ce_real + ce_fake), logs

    def extra_generator_loss(self, t: UpdateTensors) -> tuple[Tensor, dict[str, Tensor]]:
        """``classifier_weight * CE(fake)``: the generator maximises ``L_C`` too."""
        ce = F.cross_entropy(t.fake_extra, cast(Tensor, t.labels))
        return self.classifier_weight * ce, {CLASSIFIER_LOSS_GENERATOR: ce}
