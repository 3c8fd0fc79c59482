"""LightningModules for adversarial training with manual optimisation.

:class:`AdversarialModule` owns the alternation between critic and generator updates; :class:`GAN`,
:class:`WGAN` and :class:`WGANGP` only choose a loss, a penalty and the papers' defaults.

Step semantics, in one sentence: **every training batch is exactly one optimizer update** — batches
cycle through ``n_critic`` critic updates (each on its own fresh real batch, as in Algorithm 1 of the
WGAN and WGAN-GP papers) followed by one generator update — so ``trainer.global_step``,
``max_steps``, ``ModelCheckpoint(every_n_train_steps=...)`` and the logger's step all count batches,
``critic_steps + generator_steps == global_step``, and ``K`` generator updates take
``max_steps = K * (n_critic + 1)``.
"""

from __future__ import annotations

import importlib
import inspect
from functools import partial
from typing import Any, Callable, Iterable, Optional, Union

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.core.mixins import HyperparametersMixin
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from lightning.pytorch.utilities.parsing import collect_init_args
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans import penalties as P
from lightning_gans.losses import LOSSES, AdversarialLoss, get_loss

__all__ = ["AdversarialModule", "GAN", "WGAN", "WGANGP", "PENALTIES", "OptimizerCallable"]

OptimizerCallable = Callable[[Iterable], Optimizer]
"""Builds an optimizer from parameters, e.g. ``partial(torch.optim.Adam, lr=1e-4)``."""

Penalty = Callable[[nn.Module, Tensor, Tensor, Optional[torch.Generator], Optional[float]], Tensor]
"""``penalty(critic, real, fake, rng, grad_scale) -> scalar``; the module adds ``weight * penalty``."""

# Named functions, not lambdas: a module holding one must pickle (``strategy="ddp_spawn"``).
def _gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, rng: Optional[torch.Generator], scale: Optional[float]) -> Tensor:
    return P.gradient_penalty(critic, real, fake, generator=rng, grad_scale=scale)


def _lipschitz_penalty(critic: nn.Module, real: Tensor, fake: Tensor, rng: Optional[torch.Generator], scale: Optional[float]) -> Tensor:
    return P.lipschitz_penalty(critic, real, fake, generator=rng, grad_scale=scale)


def _r1_penalty(critic: nn.Module, real: Tensor, fake: Tensor, rng: Optional[torch.Generator], scale: Optional[float]) -> Tensor:
    return P.r1_penalty(critic, real, grad_scale=scale)


def _frobenius_penalty(critic: nn.Module, real: Tensor, fake: Tensor, rng: Optional[torch.Generator], scale: Optional[float]) -> Tensor:
    return P.frobenius_penalty(critic)


PENALTIES: dict[str, Penalty] = {
    "gradient_penalty": _gradient_penalty,
    "lipschitz_penalty": _lipschitz_penalty,
    "r1": _r1_penalty,
    "frobenius": _frobenius_penalty,
}
"""Penalties selectable by name through ``penalty=``; a callable with the same signature also works."""

# Names under which the modules log; dashboards and callbacks rely on them.
CRITIC_LOSS = "train/critic_loss"
GENERATOR_LOSS = "train/generator_loss"
WASSERSTEIN_ESTIMATE = "train/wasserstein_estimate"
PENALTY = "train/penalty"
GRADIENT_PENALTY = "train/gradient_penalty"
GENERATOR_STEP = "train/generator_step"  # generator updates so far: the x-axis for dashboards

_CHECKPOINT_KEY = "lightning_gans"
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constants that spread seeds (splitmix64)
_MIX2 = 0xBF58476D1CE4E5B9


def _adam(lr: float, betas: tuple[float, float]) -> OptimizerCallable:
    return partial(torch.optim.Adam, lr=lr, betas=betas)


class AdversarialModule(LightningModule):
    """Base module: alternates ``n_critic`` critic updates and one generator update.

    Subclass it to add a variant: pass another loss pair or penalty, or override
    :meth:`critic_loss`, :meth:`generator_loss` or :meth:`sample_noise`.

    Protocol used by the callbacks (and open to any user module that provides the same):
    ``generator`` and ``critic`` attributes, ``sample(n)``, and ``configure_optimizers()`` returning
    ``[generator_optimizer, critic_optimizer]`` in that order.

    Args:
        generator: maps noise ``(N, latent_dim)`` to samples ``(N, *S)``.
        critic: maps samples ``(N, *S)`` to one score (logit) per sample, ``(N,)`` or ``(N, 1)``.
        latent_dim: size of the noise vector.
        loss: a name in :data:`lightning_gans.losses.LOSSES` or an :class:`AdversarialLoss`.
        n_critic: critic updates per generator update (>= 1).
        penalty: ``None``, a name in :data:`PENALTIES` or a callable with that signature.
        penalty_weight: weight of the penalty in the critic loss (>= 0).
        generator_optimizer: builds the generator's optimizer; ``None`` takes the class default.
        critic_optimizer: builds the critic's optimizer; ``None`` takes the class default.
        noise_seed: seed of the module's own noise stream (``None`` draws one from the global RNG).
            Noise and interpolation weights of update ``t`` on rank ``r`` are a pure function of
            ``(noise_seed, r, t)``, so a resumed run draws exactly what an uninterrupted one would.

    Raises:
        ValueError: an argument is out of range or unknown (the message names it).
        TypeError: ``generator`` or ``critic`` is not an ``nn.Module``.
    """

    default_generator_optimizer: OptimizerCallable = _adam(2e-4, (0.5, 0.999))
    default_critic_optimizer: OptimizerCallable = _adam(2e-4, (0.5, 0.999))

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        loss: Union[str, AdversarialLoss] = "non_saturating",
        n_critic: int = 1,
        penalty: Union[str, Penalty, None] = None,
        penalty_weight: float = 0.0,
        generator_optimizer: Optional[OptimizerCallable] = None,
        critic_optimizer: Optional[OptimizerCallable] = None,
        noise_seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        for name, net in (("generator", generator), ("critic", critic)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"`{name}` must be a torch.nn.Module, got {type(net).__name__}.")
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be a positive integer, got {latent_dim!r}.")
        if not isinstance(n_critic, int) or isinstance(n_critic, bool) or n_critic < 1:
            raise ValueError(f"`n_critic` must be an integer >= 1, got {n_critic!r}.")
        if not penalty_weight >= 0:  # also rejects NaN
            raise ValueError(f"`penalty_weight` must be >= 0, got {penalty_weight!r}.")
        if isinstance(penalty, str) and penalty not in PENALTIES:
            raise ValueError(f"Unknown `penalty` {penalty!r}; expected one of {sorted(PENALTIES)}, a callable or None.")

        self.automatic_optimization = False
        self.generator = generator
        self.critic = critic
        self.latent_dim = latent_dim
        self.loss = get_loss(loss)
        self.n_critic = n_critic
        self.penalty = PENALTIES[penalty] if isinstance(penalty, str) else penalty
        self.penalty_weight = float(penalty_weight)
        self._generator_optimizer = generator_optimizer or type(self).default_generator_optimizer
        self._critic_optimizer = critic_optimizer or type(self).default_critic_optimizer
        self.noise_seed = int(torch.randint(0, 2**62, ()).item()) if noise_seed is None else int(noise_seed)
        #: Optional averaged copy of the generator used by :meth:`sample` (set by ``GeneratorEMA``).
        self.ema_generator: Optional[nn.Module] = None
        #: Std of the Gaussian instance noise added to real and fake samples before the critic sees
        #: them (see :meth:`critic_inputs`); 0 disables it. Set each batch by ``InstanceNoise``.
        self.instance_noise_std: float = 0.0

        self.critic_steps = 0
        self.generator_steps = 0
        self._cycle_position = 0  # critic updates made since the last generator update
        self._rng: Optional[torch.Generator] = None
        self._latest: dict[str, Union[Tensor, float]] = {}  # latest value of each logged metric
        self._save_serialisable_hyperparameters()

    # ----------------------------------------------------------------------------------------
    # What a variant changes
    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Loss the critic minimises, from scores of shape ``(N,)``."""
        return self.loss.critic(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real: Tensor) -> Tensor:
        """Loss the generator minimises. ``real`` is the batch of this update, for losses that need it."""
        return self.loss.generator(fake_scores)

    def critic_inputs(self, real: Tensor, fake: Tensor, generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
        """What the critic sees of a real and a fake batch, in both the critic and generator updates.

        Adds instance noise ``N(0, instance_noise_std^2)`` to both (Arjovsky & Bottou 2017,
        https://arxiv.org/abs/1701.04862, Sec. 3) with the update's RNG, so runs stay
        reproducible and resumable; returns them unchanged, drawing nothing, when the std is 0.
        Penalties receive the returned samples, so the gradient penalty interpolates between the
        noised samples. Gradients flow through ``fake``.
        """
        std = float(self.instance_noise_std)
        if std == 0.0:
            return real, fake
        noise = torch.randn((2,) + tuple(real.shape), device=real.device, dtype=real.dtype, generator=generator)
        return real + std * noise[0], fake + std * noise[1]

    def sample_noise(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw ``n`` latent vectors from the prior, standard normal ``(n, latent_dim)``."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    # ----------------------------------------------------------------------------------------
    # Public helpers
    @torch.no_grad()
    def sample(self, n: int, *, noise: Optional[Tensor] = None, generator: Optional[torch.Generator] = None) -> Tensor:
        """Return ``n`` generated samples without touching training state.

        Uses the EMA generator when one is set, in eval mode (restored afterwards), with no
        gradients, and never draws from the module's training noise stream.

        Args:
            n: number of samples.
            noise: latent vectors to use instead of fresh noise, shape ``(n, latent_dim)``.
            generator: RNG for fresh noise (default: the global RNG).
        """
        net = self.ema_generator if self.ema_generator is not None else self.generator
        z = noise if noise is not None else self.sample_noise(n, generator=generator)
        was_training = net.training
        net.eval()
        try:
            return net(z.to(self.device))
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
        return [self._generator_optimizer(self.generator.parameters()), self._critic_optimizer(self.critic.parameters())]

    def setup(self, stage: str) -> None:
        from lightning_gans._strategies import prepare_strategy

        prepare_strategy(self.trainer)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self._real_from_batch(batch)
        rng = self._step_rng()
        if self._cycle_position < self.n_critic:
            self._critic_update(real, rng)
            self._cycle_position += 1
        else:
            self._generator_update(real, rng)
            self._cycle_position = 0
        if self._logs_due():
            for name, value in self._latest.items():
                self.log(name, value, prog_bar=name != GENERATOR_STEP)

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
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from lightning_gans.callbacks.spectral_norm import restore_spectral_norm

        _check_checkpoint_class(self, checkpoint)
        _keep_cli_config(self, checkpoint)
        restore_spectral_norm(self, checkpoint)  # before load_state_dict: re-wrap layers saved with spectral norm
        state = checkpoint.get(_CHECKPOINT_KEY)
        if state is None:
            return
        self.critic_steps = int(state["critic_steps"])
        self.generator_steps = int(state["generator_steps"])
        self._cycle_position = int(state["cycle_position"])
        self.noise_seed = int(state["noise_seed"])

    # ----------------------------------------------------------------------------------------
    # The alternation
    def _critic_update(self, real: Tensor, rng: torch.Generator) -> None:
        opt = self.critic_optimizer
        with torch.no_grad():
            fake = self._generate(real, rng)
        real, fake = self.critic_inputs(real, fake, rng)
        # No optimizer toggling here: the generator ran under no_grad, so this backward cannot reach it.
        real_scores = self.critic_scores(real)
        fake_scores = self.critic_scores(fake)
        loss = self.critic_loss(real_scores, fake_scores)
        total = loss
        if self.penalty is not None:
            penalty = self.penalty(self.critic, real, fake, rng, self._grad_scale())
            total = loss + self.penalty_weight * penalty
            self._latest[self._penalty_log_name()] = penalty.detach()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(total)
        opt.step()
        self.critic_steps += 1
        self._latest[CRITIC_LOSS] = loss.detach()
        if self.loss is LOSSES["wasserstein"]:
            self._latest[WASSERSTEIN_ESTIMATE] = (real_scores.mean() - fake_scores.mean()).detach()

    def _generator_update(self, real: Tensor, rng: torch.Generator) -> None:
        opt = self.generator_optimizer
        with self.toggled_optimizer(opt):
            real, fake = self.critic_inputs(real, self._generate(real, rng), rng)
            loss = self.generator_loss(self.critic_scores(fake), real)
            opt.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            opt.step()
        self.generator_steps += 1
        self._latest[GENERATOR_LOSS] = loss.detach()
        self._latest[GENERATOR_STEP] = float(self.generator_steps)

    def _generate(self, real: Tensor, rng: torch.Generator) -> Tensor:
        fake = self.generator(self.sample_noise(real.shape[0], generator=rng))
        if fake.shape != real.shape:
            raise ValueError(
                f"`generator` output shape {tuple(fake.shape)} does not match the data's shape {tuple(real.shape)}: "
                "check the generator's architecture, `latent_dim` and the datamodule."
            )
        return fake

    def critic_scores(self, x: Tensor) -> Tensor:
        """The critic's scores of ``x`` as shape ``(N,)``; any other output shape is an error naming `critic`."""
        scores = self.critic(x)
        if scores.dim() == 2 and scores.shape[1] == 1:
            scores = scores.squeeze(1)
        if scores.shape != (x.shape[0],):
            raise ValueError(
                f"`critic` must return one score per sample, shape ({x.shape[0]},) or ({x.shape[0]}, 1); "
                f"got {tuple(scores.shape)}."
            )
        return scores

    def _step_rng(self) -> torch.Generator:
        """The RNG of this update, reseeded from ``(noise_seed, rank, update index)``."""
        if self._rng is None or self._rng.device != self.device:
            self._rng = torch.Generator(device=self.device)
        step = self.critic_steps + self.generator_steps
        seed = (self.noise_seed + _MIX * (self.global_rank + 1) + _MIX2 * (step + 1)) % (2**63)
        self._rng.manual_seed(seed)
        return self._rng

    def _grad_scale(self) -> Optional[float]:
        """The GradScaler's current scale under ``16-mixed``, else ``None``."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None) if self._trainer is not None else None
        if scaler is None or not scaler.is_enabled():
            return None
        return float(scaler.get_scale())

    def _penalty_log_name(self) -> str:
        return GRADIENT_PENALTY if self.penalty is PENALTIES["gradient_penalty"] else PENALTY

    @staticmethod
    def _real_from_batch(batch: Any) -> Tensor:
        if isinstance(batch, Tensor):
            return batch
        if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
            return batch[0]  # (images, labels) from labelled datasets
        raise TypeError(f"`batch` must be a Tensor or a (Tensor, ...) sequence of real samples, got {type(batch).__name__}.")

    def _save_serialisable_hyperparameters(self) -> None:
        """``save_hyperparameters`` minus objects a checkpoint should not pickle.

        Networks live in the state dict; callables (optimizer factories, loss objects) cannot be
        loaded with ``weights_only=True``. Under the LightningCLI they arrive as plain config
        dicts and are kept, so ``load_from_checkpoint(path)`` rebuilds a CLI-made module alone.
        Modules built in Python are loaded with ``load_from_checkpoint(path, generator=G, critic=D)``.
        """
        frame = inspect.currentframe().f_back  # AdversarialModule.__init__; outer __init__s are collected too
        given = _given_hyperparameters.get()  # set by the LightningCLI: plain config dicts
        if given is not None:
            values = given
        else:
            values = {}
            for local_args in collect_init_args(frame, [], classes=(HyperparametersMixin,)):
                values.update(local_args)
        self.save_hyperparameters(ignore=[k for k, v in values.items() if not _is_plain(v)], frame=frame)


def _check_checkpoint_class(module: AdversarialModule, checkpoint: dict[str, Any]) -> None:
    """Refuse to load a CLI-made subclass checkpoint through a base class.

    Lightning's ``load_from_checkpoint`` drops the CLI's ``_class_path`` when the class it is called
    on has no ``**kwargs``, and would silently build the base class with the subclass's weights.
    """
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if not isinstance(class_path, str) or "." not in class_path:
        return
    module_name, _, name = class_path.rpartition(".")
    try:
        saved_cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return
    if saved_cls is not type(module) and issubclass(saved_cls, type(module)):
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
        if key not in module._hparams and _is_plain(value):
            module._hparams[key] = value


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
        clip_value: Optional[float] = 0.01,
        n_critic: int = 5,
        generator_optimizer: Optional[OptimizerCallable] = None,
        critic_optimizer: Optional[OptimizerCallable] = None,
        noise_seed: Optional[int] = None,
    ) -> None:
        if clip_value is not None and not clip_value > 0:
            raise ValueError(f"`clip_value` must be > 0 or None, got {clip_value!r}.")
        super().__init__(
            generator, critic, latent_dim, "wasserstein", n_critic, None, 0.0,
            generator_optimizer, critic_optimizer, noise_seed,
        )
        self.clip_value = clip_value

    def configure_callbacks(self) -> list:
        if self.clip_value is None:
            return []
        from lightning_gans.callbacks.weight_clipping import WeightClipping

        return [WeightClipping(self.clip_value)]


class WGANGP(AdversarialModule):
    """WGAN with gradient penalty (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028).

    Algorithm 1 with its defaults: lambda = 10, ``n_critic=5``, Adam lr 1e-4, betas (0, 0.9).
    The critic should not use BatchNorm (the penalty is per sample; the paper uses layer norm or none).

    Args:
        gp_weight: lambda, the weight of the gradient penalty (>= 0).
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
        generator_optimizer: Optional[OptimizerCallable] = None,
        critic_optimizer: Optional[OptimizerCallable] = None,
        noise_seed: Optional[int] = None,
    ) -> None:
        if not gp_weight >= 0:
            raise ValueError(f"`gp_weight` must be >= 0, got {gp_weight!r}.")
        super().__init__(
            generator, critic, latent_dim, "wasserstein", n_critic, "gradient_penalty", gp_weight,
            generator_optimizer, critic_optimizer, noise_seed,
        )
