"""LightningModules for adversarial training with manual optimisation.

:class:`AdversarialModule` owns the alternation between critic and generator updates; :class:`GAN`,
:class:`WGAN` and :class:`WGANGP` only choose a loss, a penalty and the papers' defaults.

Step semantics, in one sentence: **every training batch is exactly one optimizer update** — batches
cycle through ``n_critic`` critic updates (each on its own fresh real batch, as in Algorithm 1 of the
WGAN and WGAN-GP papers) followed by one generator update — so ``trainer.global_step``,
``max_steps``, ``ModelCheckpoint(every_n_train_steps=...)`` and the logger's step all count batches,
``critic_steps + generator_steps == global_step``, and ``K`` generator updates take
``max_steps = K * (n_critic + 1)``.

Extension points (override in a subclass, each documented below): :meth:`~AdversarialModule.generate`
and :meth:`~AdversarialModule.discriminate` (the only calls of the networks),
:meth:`~AdversarialModule.critic_update` and :meth:`~AdversarialModule.generator_update` (one update
each, returning what they log), :meth:`~AdversarialModule.critic_loss`,
:meth:`~AdversarialModule.generator_loss`, :meth:`~AdversarialModule.critic_inputs`,
:meth:`~AdversarialModule.sample_noise` and :meth:`~AdversarialModule.sample_labels`.
"""

from __future__ import annotations

import importlib
import inspect
import random
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.core.mixins import HyperparametersMixin
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans import _checks
from lightning_gans import penalties as P
from lightning_gans._compat import collect_init_args, given_hyperparameters, hparams_dict
from lightning_gans._ema_state import attach_saved_ema
from lightning_gans.layers import batch_norm_layers, restore_spectral_norm
from lightning_gans.losses import AdversarialLoss, get_loss
from lightning_gans.protocol import grad_scale, scores_per_sample, split_batch

__all__ = [
    "ACGAN",
    "GAN",
    "PENALTIES",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "AdversarialModule",
    "LabelledCritic",
    "OptimizerCallable",
    "Penalty",
]

OptimizerCallable = Callable[[Iterable], Optimizer]
"""Builds an optimizer from parameters, e.g. ``partial(torch.optim.Adam, lr=1e-4)``."""

Penalty = Callable[..., Tensor]
"""``penalty(critic, real, fake, labels, rng, grad_scale) -> scalar``; the module adds ``weight * penalty``.

``critic`` is a :class:`LabelledCritic`: ``critic(x)`` gives the scores ``(N,)`` of ``x`` with the
batch's labels held fixed, and ``critic.parameters()`` the network's parameters. ``real`` and ``fake``
are what the critic saw (after :meth:`AdversarialModule.critic_inputs`); ``labels`` is ``None`` for
unconditional modules; ``rng`` is the update's RNG; ``grad_scale`` the GradScaler's scale or ``None``.
"""


class LabelledCritic:
    """The critic as a penalty sees it: ``x -> scores (N,)`` with the labels held fixed.

    Calls go through :meth:`AdversarialModule.discriminate`, so a penalty of a conditional module
    differentiates the critic at fixed labels (the interpolates of the gradient penalty keep the labels
    of the real samples they start from).
    """

    def __init__(self, module: AdversarialModule, labels: Tensor | None) -> None:
        self.module = module
        self.labels = labels

    def __call__(self, x: Tensor) -> Tensor:
        with self.module.eager_forwards():  # penalties differentiate twice: aot_autograd cannot
            return self.module.discriminate(x, self.labels)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The critic network's parameters (for weight penalties such as ``frobenius``)."""
        return self.module.critic.parameters(recurse)


# Named functions, not lambdas: a module holding one must pickle (``strategy="ddp_spawn"``).
def _gradient_penalty(
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return P.gradient_penalty(critic, real, fake, rng=rng, grad_scale=scale)


def _lipschitz_penalty(
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return P.lipschitz_penalty(critic, real, fake, rng=rng, grad_scale=scale)


def _zero_centered_gp(
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return P.zero_centered_gradient_penalty(critic, real, fake, rng=rng, grad_scale=scale)


def _r1_penalty(
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return P.r1_penalty(critic, real, grad_scale=scale)


def _frobenius_penalty(
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return P.frobenius_penalty(critic)


PENALTIES: dict[str, Penalty] = {
    "gradient_penalty": _gradient_penalty,
    "lipschitz_penalty": _lipschitz_penalty,
    "zero_centered_gp": _zero_centered_gp,
    "r1": _r1_penalty,
    "frobenius": _frobenius_penalty,
}
"""Penalties selectable by name through ``penalty=``; a callable with the :data:`Penalty` signature also works."""

_INPUT_GRADIENT_PENALTIES = {
    "gradient_penalty",
    "lipschitz_penalty",
    "zero_centered_gp",
    "r1",
}  # per-sample: BatchNorm breaks them

# Names under which the modules log; dashboards and callbacks rely on them.
CRITIC_LOSS = "train/critic_loss"
GENERATOR_LOSS = "train/generator_loss"
WASSERSTEIN_ESTIMATE = "train/wasserstein_estimate"
PENALTY = "train/penalty"
GRADIENT_PENALTY = "train/gradient_penalty"
GENERATOR_STEP = "train/generator_step"  # generator updates so far: the x-axis for dashboards
REAL_SIGN = "train/real_sign"  # E[sign(D(real))] of a critic update: ADA's overfitting heuristic r_t
CLASSIFIER_LOSS_REAL = "train/classifier_loss_real"  # ACGAN: CE of the critic's class head on real samples
CLASSIFIER_LOSS_FAKE = "train/classifier_loss_fake"  # ACGAN: ... on generated samples (critic update)
CLASSIFIER_ACCURACY_REAL = "train/classifier_accuracy_real"  # ACGAN: the head's accuracy on real samples
CLASSIFIER_LOSS_GENERATOR = "train/classifier_loss_generator"  # ACGAN: CE of the generated samples (generator update)

_CHECKPOINT_KEY = "lightning_gans"
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constants that spread seeds (splitmix64)
_MIX2 = 0xBF58476D1CE4E5B9


def _adam(lr: float, betas: tuple[float, float]) -> OptimizerCallable:
    return partial(torch.optim.Adam, lr=lr, betas=betas)


def _optimizer_factory(name: str, value: Any) -> OptimizerCallable | None:
    if value is None:
        return None
    if isinstance(value, Optimizer):
        raise TypeError(
            f"`{name}` must build an optimizer from parameters, e.g. functools.partial(torch.optim.Adam, lr=1e-4), "
            f"not be one: got a {type(value).__name__} instance (the module builds it for the right network)."
        )
    if not callable(value):
        raise TypeError(f"`{name}` must be a callable that builds an optimizer from parameters, got {value!r}.")
    return value


def _build_optimizer(name: str, factory: OptimizerCallable, net: nn.Module) -> Optimizer:
    """``factory(net.parameters())``; a failure (e.g. ``lr="1e-4"`` from a hand-written config) names the argument."""
    try:
        return factory(net.parameters())
    except (TypeError, ValueError) as err:
        raise type(err)(f"`{name}` could not build the {name.removesuffix('_optimizer')}'s optimizer: {err}") from err


def _new_style_penalty(penalty: Callable[..., Tensor]) -> Penalty:
    """A penalty with the 6-argument signature; 0.1's 5-argument ones are adapted with a warning."""
    try:
        inspect.signature(penalty).bind(*range(6))
        return penalty
    except TypeError:
        pass
    except ValueError:  # no signature (a builtin): trust it
        return penalty
    warnings.warn(
        "`penalty`: penalties now take (critic, real, fake, labels, rng, grad_scale); the 0.1 signature "
        "(critic, real, fake, rng, grad_scale) is adapted for one release.",
        DeprecationWarning,
        stacklevel=4,
    )
    return partial(_call_old_style_penalty, penalty)


def _call_old_style_penalty(
    penalty: Callable[..., Tensor],
    critic: LabelledCritic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    rng: torch.Generator | None,
    scale: float | None,
) -> Tensor:
    return penalty(critic, real, fake, rng, scale)


def _deprecated_generator_kw(
    rng: torch.Generator | None, generator: torch.Generator | None, where: str
) -> torch.Generator | None:
    if generator is None:
        return rng
    warnings.warn(
        f"`{where}(generator=...)` is now `{where}(rng=...)`; `generator` names a network.",
        DeprecationWarning,
        stacklevel=3,
    )
    return generator


class AdversarialModule(LightningModule):
    """Base module: alternates ``n_critic`` critic updates and one generator update.

    Subclass it to add a variant: pass another loss pair or penalty, or override one of the extension
    points — :meth:`generate`, :meth:`discriminate`, :meth:`critic_update`, :meth:`generator_update`,
    :meth:`critic_loss`, :meth:`generator_loss`, :meth:`critic_inputs`, :meth:`sample_noise`,
    :meth:`sample_labels`. The protocol the callbacks use is :class:`lightning_gans.protocol.AdversarialProtocol`.

    Conditioning: with ``num_classes`` set, batches are ``(images, labels)`` with integer labels in
    ``[0, num_classes)``, the networks are called ``generator(z, labels)`` and ``critic(x, labels)``,
    and each fake batch is generated **with the labels of the real batch it is paired with** (so fakes
    follow the data's class frequencies, and the gradient penalty's interpolates have one label each).
    :meth:`sample` draws uniform labels unless given some.

    Args:
        generator: maps noise ``(N, latent_dim)`` (and labels ``(N,)`` when conditional) to samples ``(N, *S)``.
        critic: maps samples ``(N, *S)`` (and labels) to one score (logit) per sample, ``(N,)`` or ``(N, 1)``.
        latent_dim: size of the noise vector.
        loss: a name in :data:`lightning_gans.losses.LOSSES` or an :class:`AdversarialLoss`.
        n_critic: critic updates per generator update (>= 1).
        penalty: ``None``, a name in :data:`PENALTIES` or a callable with the :data:`Penalty` signature.
        penalty_weight: weight of the penalty in the critic loss (>= 0).
        generator_optimizer: builds the generator's optimizer; ``None`` takes the class default.
        critic_optimizer: builds the critic's optimizer; ``None`` takes the class default.
        noise_seed: seed of the module's own noise stream (``None`` draws one from the global RNG).
            Noise and interpolation weights of update ``t`` on rank ``r`` are a pure function of
            ``(noise_seed, r, t)``, so a resumed run draws exactly what an uninterrupted one would.
        penalty_every: lazy regularisation (Karras et al. 2020, StyleGAN2, Sec. 4 and App. B): the
            penalty is computed on every ``penalty_every``-th critic update only (those with
            ``critic_steps % penalty_every == 0``, the first included) and weighted by
            ``penalty_every``, so its expected contribution is unchanged. The penalty is added to that
            critic update's loss (no extra optimizer step), so Adam needs none of StyleGAN2's
            ``lr * c``, ``beta ** c`` adjustment (which compensates for separate regularisation steps).
        num_classes: number of classes for a class-conditional GAN, ``None`` for an unconditional one.
        compile: ``torch.compile`` the generator's and critic's forwards in the updates: ``True``
            for its defaults, or a dict of its arguments (e.g. ``{"mode": "max-autotune"}``,
            ``{"backend": "aot_eager"}``). Penalties (gradient penalty, R1, ...) differentiate the
            critic twice, which compiled graphs (aot_autograd) cannot: they run the uncompiled
            critic, with the same parameters (:meth:`eager_forwards`). ``sample()`` runs eagerly.

    Raises:
        ValueError: an argument is out of range or unknown (the message names it).
        TypeError: ``generator`` or ``critic`` is not an ``nn.Module``; an optimizer instance where a
            factory is expected; a non-numeric number.
    """

    default_generator_optimizer: OptimizerCallable = _adam(2e-4, (0.5, 0.999))
    default_critic_optimizer: OptimizerCallable = _adam(2e-4, (0.5, 0.999))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        loss: str | AdversarialLoss = "non_saturating",
        n_critic: int = 1,
        penalty: str | Penalty | None = None,
        penalty_weight: float = 0.0,
        generator_optimizer: OptimizerCallable | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        noise_seed: int | None = None,
        penalty_every: int = 1,
        num_classes: int | None = None,
        compile: bool | dict[str, Any] = False,
    ) -> None:
        super().__init__()
        for name, net in (("generator", generator), ("critic", critic)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"`{name}` must be a torch.nn.Module, got {type(net).__name__}.")
        self.latent_dim = _checks.integer("latent_dim", latent_dim)
        self.n_critic = _checks.integer("n_critic", n_critic)
        self.penalty_weight = _checks.number("penalty_weight", penalty_weight, minimum=0.0)
        self.penalty_every = _checks.integer("penalty_every", penalty_every)
        self.num_classes = _checks.optional_integer("num_classes", num_classes, minimum=1)
        if isinstance(penalty, str) and penalty not in PENALTIES:
            raise ValueError(f"Unknown `penalty` {penalty!r}; expected one of {sorted(PENALTIES)}, a callable or None.")
        if penalty is not None and not isinstance(penalty, str) and not callable(penalty):
            raise TypeError(f"`penalty` must be a name in {sorted(PENALTIES)}, a callable or None, got {penalty!r}.")
        if noise_seed is not None:
            noise_seed = _checks.integer("noise_seed", noise_seed, minimum=0)
        if isinstance(penalty, str) and penalty in _INPUT_GRADIENT_PENALTIES and batch_norm_layers(critic):
            warnings.warn(
                f"`critic` has BatchNorm layers ({', '.join(batch_norm_layers(critic)[:3])}) but `penalty={penalty!r}` "
                "penalises per-sample input gradients, which BatchNorm couples across the batch (WGAN-GP, Sec. 4): "
                "use LayerNorm, InstanceNorm or no normalisation in the critic.",
                UserWarning,
                stacklevel=2,
            )

        self.automatic_optimization = False
        self.generator = generator
        self.critic = critic
        self.loss = get_loss(loss)
        self.penalty = (
            PENALTIES[penalty]
            if isinstance(penalty, str)
            else (None if penalty is None else _new_style_penalty(penalty))
        )
        #: Name under which the penalty is logged: ``train/gradient_penalty`` for the named gradient penalty.
        self.penalty_log_name = GRADIENT_PENALTY if penalty == "gradient_penalty" else PENALTY
        self._generator_optimizer = (
            _optimizer_factory("generator_optimizer", generator_optimizer) or type(self).default_generator_optimizer
        )
        self._critic_optimizer = (
            _optimizer_factory("critic_optimizer", critic_optimizer) or type(self).default_critic_optimizer
        )
        self.noise_seed = int(torch.randint(0, 2**62, ()).item()) if noise_seed is None else noise_seed
        #: Optional averaged copy of the generator used by :meth:`sample` (set by ``GeneratorEMA``).
        self.ema_generator: nn.Module | None = None
        #: Std of the Gaussian instance noise added to real and fake samples before the critic sees
        #: them (see :meth:`critic_inputs`); 0 disables it. Set each batch by ``InstanceNoise``.
        self.instance_noise_std: float = 0.0
        #: Optional differentiable augmentation ``(x, rng) -> x'`` applied by :meth:`critic_inputs` to
        #: real and fake samples separately (after instance noise); installed by augmentation callbacks.
        self.critic_augment: Callable[[Tensor, torch.Generator], Tensor] | None = None
        #: ``torch.compile`` arguments for the nets' forwards in the updates, ``None`` when not compiling.
        self.compile_options: dict[str, Any] | None = _compile_options(compile)
        self._compiled: dict[str, Callable[..., Tensor]] = {}  # compiled forwards, built in setup
        self._eager = 0  # > 0 inside eager_forwards()

        self.critic_steps = 0
        self.generator_steps = 0
        self._cycle_position = 0  # critic updates made since the last generator update
        self._rng: torch.Generator | None = None
        self._first_update_done = False  # the first generator call names `latent_dim` when it fails
        self._latest: dict[str, Tensor | float] = {}  # latest value of each logged metric
        self._save_serialisable_hyperparameters()

    # ----------------------------------------------------------------------------------------
    # The networks: the only two places they are called
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The generator's samples for latents ``z`` ``(N, latent_dim)`` (and ``labels`` ``(N,)`` when conditional)."""
        return _run_generator(self._forward("generator"), z, labels, self.num_classes)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The critic's scores of ``x`` as shape ``(N,)`` (``labels`` passed when conditional).

        Raises:
            ValueError: the critic's output is not one score per sample (naming `critic`).
        """
        critic = self._forward("critic")
        _check_labels_given(labels, self.num_classes)
        scores = critic(x) if self.num_classes is None else critic(x, labels)
        return scores_per_sample(scores, x.shape[0])

    def critic_scores(self, x: Tensor) -> Tensor:
        """Deprecated name of :meth:`discriminate` (0.1), kept for one release."""
        warnings.warn("`critic_scores(x)` is now `discriminate(x, labels=None)`.", DeprecationWarning, stacklevel=2)
        return self.discriminate(x)

    @contextmanager
    def eager_forwards(self) -> Iterator[None]:
        """Inside, :meth:`generate` and :meth:`discriminate` call the uncompiled nets (see ``compile``).

        Penalties run inside it: their ``autograd.grad(..., create_graph=True)`` needs a double
        backward, which compiled (aot_autograd) graphs do not support.
        """
        self._eager += 1
        try:
            yield
        finally:
            self._eager -= 1

    def _forward(self, name: str) -> Callable[..., Tensor]:
        if self._compiled and not self._eager:
            return self._compiled[name]
        return getattr(self, name)

    # ----------------------------------------------------------------------------------------
    # What a variant changes
    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Loss the critic minimises, from scores of shape ``(N,)``."""
        return self.loss.critic(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real: Tensor) -> Tensor:
        """Loss the generator minimises. ``real`` is the batch of this update, for losses that need it."""
        return self.loss.generator(fake_scores)

    def critic_inputs(self, real: Tensor, fake: Tensor, rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """What the critic sees of a real and a fake batch, in both the critic and generator updates.

        Adds instance noise ``N(0, instance_noise_std^2)`` to both (Arjovsky & Bottou 2017,
        https://arxiv.org/abs/1701.04862, Sec. 3), then applies :attr:`critic_augment` to each, all
        drawn from the update's RNG, so runs stay reproducible and resumable; returns them unchanged,
        drawing nothing, when neither is set. Penalties receive the returned samples, so the gradient
        penalty interpolates between what the critic saw. Gradients flow through ``fake``.
        """
        std = float(self.instance_noise_std)
        if std != 0.0:
            noise = torch.randn((2, *tuple(real.shape)), device=real.device, dtype=real.dtype, generator=rng)
            real, fake = real + std * noise[0], fake + std * noise[1]
        if self.critic_augment is not None:
            real, fake = self.critic_augment(real, rng), self.critic_augment(fake, rng)
        return real, fake

    def sample_noise(
        self, n: int, rng: torch.Generator | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw ``n`` latent vectors from the prior, standard normal ``(n, latent_dim)``, from ``rng``."""
        rng = _deprecated_generator_kw(rng, generator, "sample_noise")
        return torch.randn(n, self.latent_dim, device=self.device, generator=rng)

    def sample_labels(self, n: int, rng: torch.Generator | None = None) -> Tensor | None:
        """``n`` uniform class labels from ``rng`` for a conditional module, ``None`` for an unconditional one."""
        if self.num_classes is None:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device, generator=rng)

    # ----------------------------------------------------------------------------------------
    # One update each: public, so a variant can override them
    def critic_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """One critic optimizer step on a real batch; returns the diagnostics to log.

        Fakes are generated without gradients, with the batch's ``labels``; the loss is
        :meth:`critic_loss` plus, on every ``penalty_every``-th critic update, ``penalty_every *
        penalty_weight * penalty``. The training step counts the update after this returns.

        Args:
            real: real samples ``(N, *S)``.
            labels: their labels ``(N,)``, or ``None`` when unconditional.
            rng: this update's RNG (noise, penalty interpolation, instance noise, augmentation).

        Returns:
            ``{"train/critic_loss": ..., penalty and loss diagnostics}`` as detached tensors.
        """
        opt = self.critic_optimizer
        with torch.no_grad():
            fake = self._generate_like(real, labels, rng)
        real, fake = self.critic_inputs(real, fake, rng)
        # No optimizer toggling here: the generator ran under no_grad, so this backward cannot reach it.
        real_scores = self.discriminate(real, labels)
        fake_scores = self.discriminate(fake, labels)
        loss = self.critic_loss(real_scores, fake_scores)
        logs = {CRITIC_LOSS: loss.detach(), REAL_SIGN: real_scores.detach().sign().mean()}  # ADA's r_t of this batch
        logs.update(
            {f"train/{k}": v.detach() for k, v in self.loss.critic_diagnostics(real_scores, fake_scores).items()}
        )
        total = loss
        if self.penalty is not None and self.critic_steps % self.penalty_every == 0:
            penalty = self.penalty(LabelledCritic(self, labels), real, fake, labels, rng, self._grad_scale())
            total = loss + (self.penalty_weight * self.penalty_every) * penalty
            logs[self.penalty_log_name] = penalty.detach()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(total)
        opt.step()
        return logs

    def generator_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """One generator optimizer step; returns the diagnostics to log.

        The critic's parameters are frozen (``toggled_optimizer``) while the generator's loss
        :meth:`generator_loss` of the critic's scores of fresh fakes is backpropagated.

        Args:
            real: the real batch of this update (unused by the standard losses; relativistic ones use it).
            labels: its labels, with which the fakes are generated, or ``None``.
            rng: this update's RNG.

        Returns:
            ``{"train/generator_loss": ...}`` as detached tensors.
        """
        opt = self.generator_optimizer
        with self.toggled_optimizer(opt):
            real, fake = self.critic_inputs(real, self._generate_like(real, labels, rng), rng)
            loss = self.generator_loss(self.discriminate(fake, labels), real)
            opt.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            opt.step()
        return {GENERATOR_LOSS: loss.detach()}

    # ----------------------------------------------------------------------------------------
    # Public helpers
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | int | None = None,
        noise: Tensor | None = None,
        rng: torch.Generator | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Return ``n`` generated samples without touching training state.

        Uses the EMA generator when one is set, in eval mode (restored afterwards), with no
        gradients, and never draws from the module's training noise stream.

        Args:
            n: number of samples.
            labels: for a conditional module, ``n`` class indices, or one int for all; default
                uniform labels drawn from ``rng``. Must be ``None`` for an unconditional module.
            noise: latent vectors to use instead of fresh noise, shape ``(n, latent_dim)``.
            rng: RNG for fresh noise and labels (default: the global RNG).
            generator: deprecated name of ``rng``.

        Raises:
            ValueError: bad ``labels`` or ``noise`` (the message names them).
        """
        rng = _deprecated_generator_kw(rng, generator, "sample")
        if noise is not None and tuple(noise.shape) != (n, self.latent_dim):
            raise ValueError(f"`noise` must have shape ({n}, {self.latent_dim}), got {tuple(noise.shape)}.")
        labels = self._sample_labels_argument(labels, n, rng)
        net = self.ema_generator if self.ema_generator is not None else self.generator
        z = noise.to(self.device) if noise is not None else self.sample_noise(n, rng)
        was_training = net.training
        net.eval()
        try:
            return _run_generator(net, z, labels, self.num_classes)
        finally:
            net.train(was_training)

    @property
    def generator_optimizer(self) -> Optimizer:
        """The generator's (Lightning-wrapped) optimizer during fit."""
        return self.optimizers()[0]

    @property
    def critic_optimizer(self) -> Optimizer:
        """The critic's (Lightning-wrapped) optimizer during fit."""
        return self.optimizers()[1]

    # ----------------------------------------------------------------------------------------
    # Lightning hooks
    def configure_optimizers(self) -> list[Optimizer]:
        return [
            _build_optimizer("generator_optimizer", self._generator_optimizer, self.generator),
            _build_optimizer("critic_optimizer", self._critic_optimizer, self.critic),
        ]

    def setup(self, stage: str) -> None:
        from lightning_gans._strategies import prepare_strategy

        prepare_strategy(self.trainer)
        if self.compile_options is not None and not self._compiled:
            # After callbacks' setup (spectral norm is in place); the wrappers share the nets' parameters.
            self._compiled = {
                name: torch.compile(getattr(self, name), **self.compile_options) for name in ("generator", "critic")
            }

    def on_fit_start(self) -> None:
        # An average loaded with the weights (``load_from_checkpoint``) describes the generator as it
        # was; this fit moves the generator, so sampling must not keep using it. A ``GeneratorEMA``
        # callback attaches its own average when training starts (after this hook).
        self.ema_generator = None

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One update; returns its diagnostics, which callbacks receive as ``outputs`` of ``on_train_batch_end``."""
        real, labels = split_batch(batch)
        labels = self._batch_labels(labels, real.shape[0])
        rng = self._step_rng()
        if self._cycle_position < self.n_critic:
            diagnostics = self.critic_update(real, labels, rng)
            self.critic_steps += 1
            self._cycle_position += 1
        else:
            diagnostics = self.generator_update(real, labels, rng)
            self.generator_steps += 1
            self._cycle_position = 0
            self._latest[GENERATOR_STEP] = float(self.generator_steps)
        self._latest.update(diagnostics)
        if self._logs_due():
            for name, value in self._latest.items():
                self.log(name, value, prog_bar=True)  # the bar shows train/generator_step too
        return diagnostics

    def _logs_due(self) -> bool:
        """Whether Lightning's loggers write after this batch (or the epoch / fit ends with it).

        ``self.log`` costs ~0.4 ms of CPU per call, more than a toy update's work, so the module
        keeps the latest value of each metric and hands them all to ``self.log`` only on these
        batches: every logged row holds the latest value of every metric (also right after an
        epoch boundary), and the progress bar and ``callback_metrics`` refresh at the same cadence.
        """
        trainer = self.trainer
        done = trainer.global_step  # batches done, this one included (one optimizer step each)
        every = trainer.log_every_n_steps
        return bool(
            (every and done % every == 0)
            or trainer.is_last_batch
            or (trainer.max_steps is not None and trainer.max_steps >= 0 and done >= trainer.max_steps)
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[_CHECKPOINT_KEY] = {
            "critic_steps": self.critic_steps,
            "generator_steps": self.generator_steps,
            "cycle_position": self._cycle_position,
            "noise_seed": self.noise_seed,
            "global_rng": _global_rng_state(),
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",  # any other class refuses to load it
        }
        if self._trainer is not None and self.trainer.world_size > 1:
            from lightning_gans._strategies import refuse_non_finite

            refuse_non_finite(checkpoint)  # on every rank; the writer (rank 0) checks again with the path

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        _check_checkpoint_class(self, checkpoint)
        _keep_cli_config(self, checkpoint)
        restore_spectral_norm(self, checkpoint)  # before load_state_dict: re-wrap layers saved with spectral norm
        attach_saved_ema(self, checkpoint)  # loaded without a Trainer: sample() uses the saved EMA generator
        state = checkpoint.get(_CHECKPOINT_KEY)
        if state is None:
            return
        self.critic_steps = int(state["critic_steps"])
        self.generator_steps = int(state["generator_steps"])
        self._cycle_position = int(state["cycle_position"])
        self.noise_seed = int(state["noise_seed"])
        if "global_rng" in state and self._trainer is not None:
            # Resuming a fit: a plain shuffling DataLoader draws its next order from the global RNGs,
            # which Lightning does not checkpoint. Loading a model alone leaves the caller's RNGs be.
            _set_global_rng_state(state["global_rng"])

    # ----------------------------------------------------------------------------------------
    # Internals of the alternation
    def _generate_like(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> Tensor:
        """A fake batch the size and shape of ``real`` (the shapes are checked, naming what disagrees)."""
        z = self.sample_noise(real.shape[0], rng)
        if self._first_update_done:
            fake = self.generate(z, labels)
        else:
            try:
                fake = self.generate(z, labels)
            except RuntimeError as err:  # e.g. a matmul shape error deep inside the generator
                raise ValueError(
                    f"`generator` failed on noise of shape {tuple(z.shape)} (`latent_dim`={self.latent_dim}): "
                    f"does its input size equal `latent_dim`? ({type(err).__name__}: {err})"
                ) from err
            self._first_update_done = True
        if fake.shape != real.shape:
            raise ValueError(
                f"`generator` output shape {tuple(fake.shape)} does not match the data's shape {tuple(real.shape)}: "
                "check the generator's architecture (`image_size`, `channels`), `latent_dim` and the datamodule."
            )
        return fake

    def _batch_labels(self, labels: Tensor | None, n: int) -> Tensor | None:
        """The batch's labels for a conditional module (checked), ``None`` for an unconditional one."""
        if self.num_classes is None:
            return None  # an unconditional module trains on labelled data as on unlabelled data
        if labels is None:
            raise ValueError(
                f"`labels`: this module is conditional (`num_classes`={self.num_classes}) but the batch has no labels; "
                "the datamodule must yield (images, labels)."
            )
        return _checked_labels(labels, n, self.num_classes)

    def _sample_labels_argument(
        self, labels: Tensor | int | None, n: int, rng: torch.Generator | None
    ) -> Tensor | None:
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("`labels` given, but this module is unconditional (`num_classes` is None).")
            return None
        if labels is None:
            return self.sample_labels(n, rng)
        if isinstance(labels, int) and not isinstance(labels, bool):
            labels = torch.full((n,), labels, dtype=torch.long)
        if not isinstance(labels, Tensor):
            raise ValueError(f"`labels` must be a tensor of {n} class indices or one int, got {type(labels).__name__}.")
        return _checked_labels(labels, n, self.num_classes).to(self.device)

    def _step_rng(self) -> torch.Generator:
        """The RNG of this update, reseeded from ``(noise_seed, rank, update index)``."""
        if self._rng is None or self._rng.device != self.device:
            self._rng = torch.Generator(device=self.device)
        step = self.critic_steps + self.generator_steps
        seed = (self.noise_seed + _MIX * (self.global_rank + 1) + _MIX2 * (step + 1)) % (2**63)
        self._rng.manual_seed(seed)
        return self._rng

    def _grad_scale(self) -> float | None:
        """The GradScaler's current scale under ``16-mixed``, else ``None``."""
        return grad_scale(self._trainer)

    def _save_serialisable_hyperparameters(self) -> None:
        """``save_hyperparameters`` minus objects a checkpoint should not pickle.

        Networks live in the state dict; callables (optimizer factories, loss objects) cannot be
        loaded with ``weights_only=True``. Under the LightningCLI they arrive as plain config
        dicts and are kept, so ``load_from_checkpoint(path)`` rebuilds a CLI-made module alone.
        Modules built in Python are loaded with ``load_from_checkpoint(path, generator=G, critic=D)``.
        """
        frame = inspect.currentframe().f_back  # AdversarialModule.__init__; outer __init__s are collected too
        given = given_hyperparameters()  # set by the LightningCLI: plain config dicts
        if given is not None:
            values = given
        else:
            values = {}
            for local_args in collect_init_args(frame, [], classes=(HyperparametersMixin,)):
                values.update(local_args)
        self.save_hyperparameters(ignore=[k for k, v in values.items() if not _is_plain(v)], frame=frame)


def _compile_options(value: bool | dict[str, Any]) -> dict[str, Any] | None:
    """``compile=`` as ``torch.compile`` keyword arguments (``None``: off); bad values name `compile`."""
    if isinstance(value, bool):
        return {} if value else None
    if not isinstance(value, dict):
        raise TypeError(f"`compile` must be a bool or a dict of torch.compile arguments, got {value!r}.")
    allowed = set(inspect.signature(torch.compile).parameters) - {"model"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(
            f"`compile` has arguments torch.compile does not take: {unknown}; expected some of {sorted(allowed)}."
        )
    return dict(value)


def _run_generator(net: nn.Module, z: Tensor, labels: Tensor | None, num_classes: int | None) -> Tensor:
    _check_labels_given(labels, num_classes)
    return net(z) if num_classes is None else net(z, labels)


def _check_labels_given(labels: Tensor | None, num_classes: int | None) -> None:
    """Labels for a conditional module's nets, none for an unconditional one's (they would be silently ignored)."""
    if num_classes is None and labels is not None:
        raise ValueError("`labels` given, but this module is unconditional (`num_classes` is None).")
    if num_classes is not None and labels is None:
        raise ValueError(f"`labels` are required: this module is conditional (`num_classes`={num_classes}).")


def _checked_labels(labels: Tensor, n: int, num_classes: int) -> Tensor:
    """``labels`` if they are ``n`` integer class indices in ``[0, num_classes)``; else a ValueError naming `labels`."""
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"`labels` must be integer class indices, got dtype {labels.dtype}.")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"`labels` must have shape ({n},), one per sample, got {tuple(labels.shape)}.")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"`labels` must lie in [0, {num_classes}) (`num_classes`={num_classes}), "
            f"got values from {int(labels.min())} to {int(labels.max())}."
        )
    return labels.long()


def _global_rng_state() -> dict[str, Any]:
    """The torch, numpy and Python global RNG states, as tensors and lists (``weights_only``-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def _set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))


def _check_checkpoint_class(module: AdversarialModule, checkpoint: dict[str, Any]) -> None:
    """Refuse to load a checkpoint of one module class through another (e.g. a GAN's into a WGANGP).

    Lightning's ``load_from_checkpoint`` drops the CLI's ``_class_path`` when the class it is called
    on has no ``**kwargs``, and would silently build the base class with the subclass's weights; a
    checkpoint of another class would load its weights into this one. The class is the CLI's
    ``_class_path``, else the one the module recorded in its checkpoint state.
    """
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")  # as the CLI user spelt it
    state = checkpoint.get(_CHECKPOINT_KEY)
    class_path = class_path or (state.get("class_path") if isinstance(state, dict) else None)
    if not isinstance(class_path, str) or "." not in class_path:
        return
    module_name, _, name = class_path.rpartition(".")
    try:
        saved_cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return
    if saved_cls is not type(module):
        raise TypeError(f"This checkpoint holds a {class_path}: load it with `{name}.load_from_checkpoint(...)`.")


def _keep_cli_config(module: AdversarialModule, checkpoint: dict[str, Any]) -> None:
    """Carry a CLI-made checkpoint's config (networks as ``class_path`` dicts, ``_instantiator``) over.

    ``load_from_checkpoint`` rebuilds such a module from its config but outside the CLI's context,
    where ``save_hyperparameters`` drops the (then instantiated) networks; without this, saving the
    reloaded module would write a checkpoint that no longer loads on its own.
    """
    saved = checkpoint.get("hyper_parameters") or {}
    if "_class_path" not in saved:
        return
    for key, value in saved.items():
        if key not in hparams_dict(module) and _is_plain(value):
            hparams_dict(module)[key] = value


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


class GAN(AdversarialModule):
    """The original GAN (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661).

    Non-saturating generator loss by default (``loss="minimax"`` for the min-max objective);
    Adam 2e-4, betas (0.5, 0.999) as in DCGAN (Radford et al. 2016); ``n_critic=1`` (the paper's k).
    Its arguments are :class:`AdversarialModule`'s, which already defaults to exactly this.

    Example:
        >>> from lightning_gans.nets import MLPGenerator, MLPCritic
        >>> model = GAN(MLPGenerator(latent_dim=2), MLPCritic(), latent_dim=2, loss="minimax")
    """

    default_generator_optimizer = _adam(2e-4, (0.5, 0.999))
    default_critic_optimizer = _adam(2e-4, (0.5, 0.999))


class WGAN(AdversarialModule):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875).

    Algorithm 1 with its defaults: RMSProp, lr 5e-5, clip c = 0.01 after every critic update,
    ``n_critic=5``. The clipping is the :class:`~lightning_gans.callbacks.WeightClipping` callback,
    which this module brings along through ``configure_callbacks``; set ``clip_value=None`` to
    train without it (e.g. with spectral normalisation instead).

    Args:
        clip_value: clip the critic's parameters to ``[-clip_value, clip_value]`` (> 0) or ``None``.
        (others): see :class:`AdversarialModule`.
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

    Args:
        gp_weight: lambda, the weight of the gradient penalty (>= 0).
        penalty_every: compute the penalty on every k-th critic update only, weighted by k (lazy
            regularisation); 1 is the paper's.
        (others): see :class:`AdversarialModule`.

    Example:
        >>> from lightning_gans.nets import MLPGenerator, MLPCritic
        >>> model = WGANGP(MLPGenerator(latent_dim=2), MLPCritic(), latent_dim=2)
    """

    default_generator_optimizer = _adam(1e-4, (0.0, 0.9))
    default_critic_optimizer = _adam(1e-4, (0.0, 0.9))

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
    ) -> None:
        super().__init__(
            generator=generator,
            critic=critic,
            latent_dim=latent_dim,
            loss="wasserstein",
            n_critic=n_critic,
            penalty="gradient_penalty",
            penalty_weight=_checks.number("gp_weight", gp_weight, minimum=0.0),
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            noise_seed=noise_seed,
            penalty_every=penalty_every,
            num_classes=num_classes,
            compile=compile,
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

    Args:
        spectral_norm: bring the ``SpectralNorm`` callback for the critic.
        (others): see :class:`AdversarialModule`.

    Example:
        >>> from lightning_gans.nets import ResNetCritic, ResNetGenerator
        >>> model = SNGAN(ResNetGenerator(latent_dim=128), ResNetCritic(), latent_dim=128)
    """

    default_generator_optimizer = _adam(2e-4, (0.0, 0.9))
    default_critic_optimizer = _adam(2e-4, (0.0, 0.9))

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
    ) -> None:
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"`spectral_norm` must be a bool, got {spectral_norm!r}.")
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
        )
        self.spectral_norm = spectral_norm

    def configure_callbacks(self) -> list:
        if not self.spectral_norm:
            return []
        from lightning_gans.callbacks.spectral_norm import SpectralNorm  # at fit time: modules import no callback

        return [SpectralNorm(critic=True, generator=False)]


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
    2e-4 with betas (0.5, 0.999) as in the paper. This class overrides :meth:`critic_update` and
    :meth:`generator_update` (one forward pass gives scores and logits) and also logs
    ``train/classifier_loss_real``, ``train/classifier_loss_fake``, ``train/classifier_accuracy_real``
    and ``train/classifier_loss_generator``; ``train/critic_loss`` and ``train/generator_loss`` stay
    the adversarial parts. With ``classifier_weight=0`` it trains exactly like the base module.
    How AC-GAN differs from a projection critic: docs/conditional.md.

    Args:
        num_classes: number of classes (required).
        classifier_weight: weight of the cross-entropy terms (>= 0; the paper weighs them 1).
        (others): see :class:`AdversarialModule`.

    Raises:
        ValueError: ``num_classes`` is None, or ``classifier_weight`` < 0.
        TypeError: ``critic`` has no ``score_and_classify``.

    Example:
        >>> from lightning_gans.nets import DCGANCritic, DCGANGenerator
        >>> model = ACGAN(DCGANGenerator(latent_dim=32, image_size=8, channels=1, num_classes=10),
        ...               DCGANCritic(image_size=8, channels=1, norm="none", num_classes=10, conditioning="auxiliary"),
        ...               latent_dim=32, num_classes=10)
    """

    default_generator_optimizer = _adam(2e-4, (0.5, 0.999))
    default_critic_optimizer = _adam(2e-4, (0.5, 0.999))

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
        )
        self.classifier_weight = classifier_weight

    def score_and_classify(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The critic's adversarial scores ``(N,)`` and class logits ``(N, num_classes)`` of ``x``, in one pass."""
        scores, logits = self.critic.score_and_classify(x)
        if logits is None or logits.shape != (x.shape[0], self.num_classes):
            raise ValueError(
                f"`critic`.score_and_classify must return class logits of shape ({x.shape[0]}, {self.num_classes})."
            )
        return scores_per_sample(scores, x.shape[0]), logits

    def critic_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """:meth:`AdversarialModule.critic_update` plus ``classifier_weight * (CE(real) + CE(fake))``."""
        opt = self.critic_optimizer
        with torch.no_grad():
            fake = self._generate_like(real, labels, rng)
        real, fake = self.critic_inputs(real, fake, rng)
        real_scores, real_logits = self.score_and_classify(real)
        fake_scores, fake_logits = self.score_and_classify(fake)
        loss = self.critic_loss(real_scores, fake_scores)
        ce_real = nn.functional.cross_entropy(real_logits, labels)  # -L_C on real samples
        ce_fake = nn.functional.cross_entropy(fake_logits, labels)  # -L_C on generated samples
        logs = {CRITIC_LOSS: loss.detach(), REAL_SIGN: real_scores.detach().sign().mean()}
        logs.update(
            {f"train/{k}": v.detach() for k, v in self.loss.critic_diagnostics(real_scores, fake_scores).items()}
        )
        logs.update(
            {
                CLASSIFIER_LOSS_REAL: ce_real.detach(),
                CLASSIFIER_LOSS_FAKE: ce_fake.detach(),
                CLASSIFIER_ACCURACY_REAL: (real_logits.detach().argmax(dim=1) == labels).float().mean(),
            }
        )
        total = loss + self.classifier_weight * (ce_real + ce_fake)
        if self.penalty is not None and self.critic_steps % self.penalty_every == 0:
            penalty = self.penalty(LabelledCritic(self, labels), real, fake, labels, rng, self._grad_scale())
            total = total + (self.penalty_weight * self.penalty_every) * penalty
            logs[self.penalty_log_name] = penalty.detach()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(total)
        opt.step()
        return logs

    def generator_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """:meth:`AdversarialModule.generator_update` plus ``classifier_weight * CE(fake)``."""
        opt = self.generator_optimizer
        with self.toggled_optimizer(opt):
            real, fake = self.critic_inputs(real, self._generate_like(real, labels, rng), rng)
            scores, logits = self.score_and_classify(fake)
            loss = self.generator_loss(scores, real)
            ce = nn.functional.cross_entropy(logits, labels)  # the generator maximises L_C too
            opt.zero_grad(set_to_none=True)
            self.manual_backward(loss + self.classifier_weight * ce)
            opt.step()
        return {GENERATOR_LOSS: loss.detach(), CLASSIFIER_LOSS_GENERATOR: ce.detach()}
