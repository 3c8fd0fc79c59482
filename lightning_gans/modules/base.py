"""The base LightningModule: the critic/generator alternation, and nothing else.

Step semantics, in one sentence: **every training batch is exactly one optimizer update** — batches
cycle through ``n_critic`` critic updates (each on its own fresh real batch, as in Algorithm 1 of the
WGAN and WGAN-GP papers) followed by one generator update — so ``trainer.global_step``,
``max_steps``, ``ModelCheckpoint(every_n_train_steps=...)`` and the logger's step all count batches,
``critic_steps + generator_steps == global_step``, and ``K`` generator updates take
``max_steps = K * (n_critic + 1)``.

What lives elsewhere: losses in :mod:`lightning_gans.losses`, penalties in
:mod:`lightning_gans.penalties`, checkpoint state, class checks and hyper-parameters in
:mod:`lightning_gans.checkpoints`, label checks and log names in :mod:`lightning_gans.protocol`, what
the strategies need in ``lightning_gans._strategies``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans import _checks, checkpoints
from lightning_gans._compat import manual_step_counters
from lightning_gans._ema_state import attach_saved_ema
from lightning_gans.layers import batch_norm_layers, restore_spectral_norm
from lightning_gans.losses import AdversarialLoss, get_loss
from lightning_gans.penalties import Penalty, get_penalty, gradient_penalty, needs_input_gradients, penalty_name
from lightning_gans.protocol import (
    CRITIC_LOSS,
    GENERATOR_LOSS,
    GENERATOR_STEP,
    GRADIENT_PENALTY,
    PENALTY,
    REAL_SIGN,
    check_labels,
    check_labels_given,
    grad_scale,
    scores_per_sample,
    split_batch,
)

__all__ = ["AdversarialModule", "LabelledCritic", "OptimizerCallable", "UpdateTensors", "adam"]

OptimizerCallable = Callable[[Iterable], Optimizer]
"""Builds an optimizer from parameters, e.g. ``partial(torch.optim.Adam, lr=1e-4)``."""
Labels = Tensor | int | None
Rng = torch.Generator | None

_FUSED_ADAM_DEVICES = ("cpu", "cuda")  # fused Adam: 2.3-2.6x faster steps on CPU (benchmarks/bench_update.py)
_UPDATES_PER_BATCH = ("one", "cycle", "cycle_reuse")
_NETS = ("generator", "critic")
# Hooks that watch a backward or an optimizer step: a module or callback that overrides one keeps the full path.
_MODULE_STEP_HOOKS = ("backward", "on_before_backward", "on_after_backward", "on_before_optimizer_step")
_CALLBACK_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constants that spread seeds (splitmix64)
_MIX2 = 0xBF58476D1CE4E5B9


def adam(lr: float, betas: tuple[float, float]) -> OptimizerCallable:
    """The papers' Adam as a class default: fused (one kernel for all parameters) where torch has it."""
    return partial(_adam, lr=lr, betas=betas)


def _adam(params: Iterable, lr: float, betas: tuple[float, float]) -> Optimizer:
    params = list(params)
    fused = all(p.device.type in _FUSED_ADAM_DEVICES and p.is_floating_point() for p in params) or None
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused)


@dataclass
class UpdateTensors:
    """The tensors of one update, as :meth:`AdversarialModule.extra_critic_loss` and
    :meth:`~AdversarialModule.extra_generator_loss` see them.

    Attributes:
        real, fake: what the critic saw of the real and the generated batch (after ``critic_inputs``);
            gradients flow through ``fake`` in the generator update.
        labels: the batch's labels, ``None`` when unconditional.
        real_scores, fake_scores: the critic's scores ``(N,)`` (``real_scores`` is ``None`` in the
            generator update unless the loss is relativistic).
        real_extra, fake_extra: what :meth:`~AdversarialModule.critic_outputs` returned beside the
            scores (e.g. class logits), ``None`` by default.
        rng: the update's RNG.
    """

    real: Tensor
    fake: Tensor
    labels: Tensor | None
    real_scores: Tensor | None
    fake_scores: Tensor
    real_extra: Any = None
    fake_extra: Any = None
    rng: torch.Generator | None = None


class LabelledCritic:
    """The critic as a penalty sees it: ``x -> scores (N,)`` with the labels held fixed.

    Calls go through :meth:`AdversarialModule.discriminate`, so a penalty of a conditional module
    differentiates the critic at fixed labels (the interpolates of the gradient penalty keep the labels
    of the real samples they start from), and always through the uncompiled network (penalties
    differentiate twice, which compiled graphs cannot).
    """

    def __init__(self, module: AdversarialModule, labels: Tensor | None) -> None:
        self.module = module
        self.labels = labels

    def __call__(self, x: Tensor) -> Tensor:
        with self.module.eager_forwards():
            return self.module.discriminate(x, self.labels)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The critic network's parameters (for weight penalties such as ``frobenius``)."""
        return self.module.critic.parameters(recurse)


class AdversarialModule(LightningModule):
    """Alternates ``n_critic`` critic updates and one generator update (one batch, one update).

    A variant passes another loss or penalty, or overrides an extension point (docs/extending.md).
    With ``num_classes`` set, batches are ``(images, labels)``, the networks are called with the
    labels, and each fake batch takes the labels of the real batch it is paired with.

    Args:
        generator: maps noise ``(N, latent_dim)`` (and labels ``(N,)``) to samples ``(N, *S)``.
        critic: maps samples ``(N, *S)`` (and labels) to one score (logit) per sample, ``(N,)`` or ``(N, 1)``.
        latent_dim: size of the noise vector.
        loss: a name in :data:`lightning_gans.losses.LOSSES` or an :class:`~lightning_gans.losses.AdversarialLoss`.
        n_critic: critic updates per generator update (>= 1).
        penalty: ``None``, a name in :data:`lightning_gans.penalties.PENALTIES`, an import path, or a
            function with the penalties' one signature.
        penalty_weight: weight of the penalty in the critic loss (> 0 with a penalty, 0 without).
        generator_optimizer: builds the generator's optimizer; ``None`` takes the class default.
        critic_optimizer: builds the critic's optimizer; ``None`` takes the class default.
        noise_seed: seed of the module's own noise stream (``None`` draws one from the global RNG):
            the noise of update ``t`` on rank ``r`` is a pure function of ``(noise_seed, r, t)``, so a
            resumed run draws exactly what an uninterrupted one would.
        penalty_every: lazy regularisation (StyleGAN2, Sec. 4): the penalty runs on critic updates with
            ``critic_steps % penalty_every == 0`` only, weighted by ``penalty_every``.
        num_classes: number of classes of a class-conditional GAN, ``None`` for an unconditional one.
        compile: ``torch.compile`` the networks' forwards in the updates: ``True``, or a dict of its
            arguments. Penalties run the uncompiled critic (:meth:`eager_forwards`); ``sample()`` is eager.
        updates_per_batch: ``"one"`` (each batch is one update), or ``"cycle"``: each batch is split into
            ``n_critic + 1`` equal parts for a whole cycle of updates, which amortises Lightning's
            per-batch work (docs/extending.md); steps, checkpoints and resume still count updates.
            ``"cycle_reuse"``: a cycle per batch split into ``n_critic`` parts, whose generator update reuses
            the last critic update's real part and fakes, the generator's graph kept (PyTorch's DCGAN
            example's order): one generator forward and one real part fewer per cycle. Not the papers'
            algorithm (their generator update draws fresh noise); an opt-in for speed.

    Raises:
        ValueError: an argument is out of range, unknown or has no effect (the message names it).
        TypeError: a network is not an ``nn.Module``, an optimizer instance where a factory is expected.
    """

    default_generator_optimizer: ClassVar[OptimizerCallable] = adam(2e-4, (0.5, 0.999))
    default_critic_optimizer: ClassVar[OptimizerCallable] = adam(2e-4, (0.5, 0.999))
    #: Opt-in: score real and fake in one critic forward when the critic has no buffers (equal up to float rounding
    #: of the summed gradients; 1-2 % less CPU time on the toy, more on images: benchmarks/bench_update.py).
    fuse_critic_forwards: ClassVar[bool] = False
    #: Step the raw optimizers where Lightning's strategy and precision layers would do nothing: one device, fp32
    #: (``"32-true"``), no profiler, and no callback or module hook that watches a backward or an optimizer step
    #: (e.g. ``DivergenceGuard``). The same arithmetic and counters as the full path (tested), ~0.1 ms less Python per
    #: update (2 % of a toy update: benchmarks/bench_update.py). DDP, mixed precision and watched steps always take the full path.
    fast_optimizer_steps: ClassVar[bool] = True

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
        updates_per_batch: str = "one",
    ) -> None:
        super().__init__()
        self.generator = _checks.module("generator", generator)
        self.critic = _checks.module("critic", critic)
        self.latent_dim = _checks.integer("latent_dim", latent_dim)
        self.n_critic = _checks.integer("n_critic", n_critic)
        self.num_classes = _checks.optional_integer("num_classes", num_classes, minimum=1)
        self.loss = get_loss(loss)
        self.penalty = get_penalty(penalty)
        self.penalty_weight = _checks.number("penalty_weight", penalty_weight, minimum=0.0)
        self.penalty_every = _checks.integer("penalty_every", penalty_every)
        _check_penalty_settings(self.penalty, self.penalty_weight, self.penalty_every, critic)
        #: Name under which the penalty is logged: ``train/gradient_penalty`` for WGAN-GP's, else ``train/penalty``.
        self.penalty_log_name = GRADIENT_PENALTY if self.penalty is gradient_penalty else PENALTY
        cls = type(self)
        self._generator_optimizer = _factory(
            "generator_optimizer", generator_optimizer, cls.default_generator_optimizer
        )
        self._critic_optimizer = _factory("critic_optimizer", critic_optimizer, cls.default_critic_optimizer)
        if noise_seed is None:
            noise_seed = int(torch.randint(0, 2**62, ()).item())
        self.noise_seed = _checks.integer("noise_seed", noise_seed, minimum=0)
        self.automatic_optimization = False
        #: Averaged copy of the generator that :meth:`sample` uses (set by ``GeneratorEMA``), or ``None``.
        self.ema_generator: nn.Module | None = None
        #: Std of Gaussian instance noise added to what the critic sees (set each batch by ``InstanceNoise``).
        self.instance_noise_std: float = 0.0
        #: Differentiable augmentation ``(x, rng) -> x'`` of what the critic sees (set by augmentation callbacks).
        self.critic_augment: Callable[[Tensor, torch.Generator], Tensor] | None = None
        #: ``torch.compile`` arguments for the networks' forwards, ``None`` when not compiling.
        self.compile_options: dict[str, Any] | None = _compile_options(compile)
        self._compiled: dict[str, Callable[..., Tensor]] = {}  # compiled forwards, built in setup
        self._eager = 0  # > 0 inside eager_forwards()
        self.updates_per_batch = _checks.choice("updates_per_batch", updates_per_batch, _UPDATES_PER_BATCH)
        self.critic_steps = self.generator_steps = 0
        self._cycle_position = 0  # critic updates made since the last generator update
        self._kept: tuple[Tensor, Tensor, Tensor | None] | None = None  # (real, fake with graph, labels)
        self._fuse_critic = False  # one critic forward over real and fake (set in setup: a critic without buffers)
        self._fast_steps = False  # step the raw optimizers (set in setup, see `fast_optimizer_steps`)
        self._rng: torch.Generator | None = None
        self._first_update_done = False  # the first generator call names `latent_dim` when it fails
        self._latest: dict[str, Tensor | float] = {}  # latest value of each logged metric
        unsaved = checkpoints.unsaved_arguments(
            generator=generator, critic=critic, loss=loss, penalty=penalty,
            generator_optimizer=generator_optimizer, critic_optimizer=critic_optimizer,
        )  # fmt: skip
        self.save_hyperparameters(ignore=unsaved, frame=inspect.currentframe())

    # -- the networks: the only places they are called ---------------------------------------------
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The generator's samples for latents ``z`` ``(N, latent_dim)`` (and ``labels`` ``(N,)`` when conditional)."""
        check_labels_given(labels, self.num_classes)
        net = self._forward("generator")
        return net(z) if self.num_classes is None else net(z, labels)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The critic's scores of ``x``, shape ``(N,)`` (``labels`` passed when conditional)."""
        check_labels_given(labels, self.num_classes)
        net = self._forward("critic")
        return scores_per_sample(net(x) if self.num_classes is None else net(x, labels), x.shape[0])

    def critic_outputs(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Any]:
        """Scores ``(N,)`` and anything else one critic pass gives (``None``; AC-GAN: class logits)."""
        return self.discriminate(x, labels), None

    @contextmanager
    def eager_forwards(self) -> Iterator[None]:
        """Inside, :meth:`generate` and :meth:`discriminate` call the uncompiled networks (see ``compile``)."""
        self._eager += 1
        try:
            yield
        finally:
            self._eager -= 1

    def _forward(self, name: str) -> Callable[..., Tensor]:
        return self._compiled[name] if self._compiled and not self._eager else getattr(self, name)

    # -- what a variant changes --------------------------------------------------------------------
    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Loss the critic minimises, from scores of shape ``(N,)``."""
        return self.loss.critic(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None) -> Tensor:
        """Loss the generator minimises; ``real_scores`` (of this update's real batch) only for relativistic losses."""
        return (
            self.loss.generator(fake_scores, real_scores)
            if self.loss.relativistic
            else self.loss.generator(fake_scores)
        )

    def extra_critic_loss(self, t: UpdateTensors) -> tuple[Tensor | float, dict[str, Tensor]]:
        """An extra term of the critic update's loss, and what to log of it (default: none): an auxiliary
        loss (AC-GAN's classifier, consistency regularisation, ...) without copying the update."""
        return 0.0, {}

    def extra_generator_loss(self, t: UpdateTensors) -> tuple[Tensor | float, dict[str, Tensor]]:
        """An extra term of the generator update's loss and what to log of it (default: none)."""
        return 0.0, {}

    def critic_inputs(self, real: Tensor, fake: Tensor, rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """What the critic sees of a real and a fake batch (both updates and the penalty): instance noise
        ``N(0, instance_noise_std^2)`` (Arjovsky & Bottou 2017), then :attr:`critic_augment`, drawn from ``rng``."""
        std = float(self.instance_noise_std)
        if std != 0.0:
            noise = torch.randn((2, *real.shape), device=real.device, dtype=real.dtype, generator=rng)
            real, fake = real + std * noise[0], fake + std * noise[1]
        if self.critic_augment is not None:
            real, fake = self.critic_augment(real, rng), self.critic_augment(fake, rng)  # type: ignore[arg-type]
        return real, fake

    def sample_noise(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """``n`` latent vectors from the prior, standard normal ``(n, latent_dim)``, drawn from ``rng``."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=rng)

    def sample_labels(self, n: int, rng: torch.Generator | None = None) -> Tensor | None:
        """``n`` uniform class labels from ``rng`` for a conditional module, ``None`` for an unconditional one."""
        if self.num_classes is None:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device, generator=rng)

    # -- one update each ---------------------------------------------------------------------------
    def critic_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """One critic step: adversarial loss + extra term + (every ``penalty_every``-th) weighted penalty.

        Fakes are generated without gradients, with the batch's ``labels`` (with ``"cycle_reuse"``, the last
        critic update of a cycle keeps them with the generator's graph for the generator update, and scores
        them detached). Returns detached logs.
        """
        if self.updates_per_batch == "cycle_reuse" and self._cycle_position == self.n_critic - 1:
            kept = _generate_like(self, real, labels, rng)
            self._kept, fake = (real, kept, labels), kept.detach()
        else:
            with torch.no_grad():
                fake = _generate_like(self, real, labels, rng)
        real, fake = self.critic_inputs(real, fake, rng)
        # No optimizer toggling: the generator ran under no_grad (or its output was detached), so this backward
        # cannot reach it.
        (real_scores, real_extra), (fake_scores, fake_extra) = _score_both(self, real, fake, labels)
        loss = self.critic_loss(real_scores, fake_scores)
        logs = {CRITIC_LOSS: loss, REAL_SIGN: real_scores.detach().sign().mean()}  # ADA's r_t of this batch
        logs.update({f"train/{k}": v for k, v in self.loss.critic_diagnostics(real_scores, fake_scores).items()})
        t = UpdateTensors(real, fake, labels, real_scores, fake_scores, real_extra, fake_extra, rng)
        extra, extra_logs = self.extra_critic_loss(t)
        total = loss + extra
        if self.penalty is not None and self.critic_steps % self.penalty_every == 0:
            critic = LabelledCritic(self, labels)
            penalty = self.penalty(critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale(self._trainer))
            total = total + (self.penalty_weight * self.penalty_every) * penalty
            logs[self.penalty_log_name] = penalty
        _step(self, self.critic_optimizer, total)
        return {k: v.detach() for k, v in {**logs, **extra_logs}.items()}

    def generator_update(self, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> dict[str, Tensor]:
        """One generator step, the critic frozen: :meth:`generator_loss` of fresh fakes + extra term.

        With ``updates_per_batch="cycle_reuse"`` the fakes (and the real part and labels they go with) are the
        ones the cycle's last critic update kept, scored by the updated critic; ``real`` and ``labels`` are
        then that part's."""
        opt = self.generator_optimizer
        kept, self._kept = self._kept, None
        with self.toggled_optimizer(opt):
            if kept is None:
                fake = _generate_like(self, real, labels, rng)
            else:
                real, fake, labels = kept
            real, fake = self.critic_inputs(real, fake, rng)
            scores, extra_out = self.critic_outputs(fake, labels)
            real_scores = _scored_without_grad(self, real, labels) if self.loss.relativistic else None
            loss = self.generator_loss(scores, real_scores)
            t = UpdateTensors(real, fake, labels, real_scores, scores, None, extra_out, rng)
            extra, extra_logs = self.extra_generator_loss(t)
            _step(self, opt, loss + extra)
        return {k: v.detach() for k, v in {GENERATOR_LOSS: loss, **extra_logs}.items()}

    # -- public helpers ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, labels: Labels = None, noise: Tensor | None = None, rng: Rng = None) -> Tensor:
        """``n`` samples of the EMA generator when set (else the generator), in eval mode, without gradients.

        Args:
            n: number of samples.
            labels: ``n`` class indices or one int (conditional modules; default: uniform from ``rng``).
            noise: latent vectors ``(n, latent_dim)`` instead of fresh noise from ``rng`` (default: the global RNG).
            rng: RNG of fresh noise and labels; the module's training noise stream is never touched.
        """
        if noise is not None and tuple(noise.shape) != (n, self.latent_dim):
            raise ValueError(f"`noise` must have shape ({n}, {self.latent_dim}), got {tuple(noise.shape)}.")
        if self.num_classes is None or labels is not None:
            labels = check_labels(labels, n, self.num_classes)
        labels = self.sample_labels(n, rng) if labels is None else labels.to(self.device)
        net = self.ema_generator if self.ema_generator is not None else self.generator
        z = noise.to(self.device) if noise is not None else self.sample_noise(n, rng)
        was_training = net.training
        net.eval()
        try:
            return net(z) if self.num_classes is None else net(z, labels)
        finally:
            net.train(was_training)

    @property
    def generator_optimizer(self) -> Any:
        """The generator's (Lightning-wrapped) optimizer during fit."""
        return self.optimizers()[0]  # type: ignore[index]

    @property
    def critic_optimizer(self) -> Any:
        """The critic's (Lightning-wrapped) optimizer during fit."""
        return self.optimizers()[1]  # type: ignore[index]

    # -- Lightning hooks ---------------------------------------------------------------------------
    def configure_optimizers(self) -> list[Optimizer]:
        factories = {"generator": self._generator_optimizer, "critic": self._critic_optimizer}
        return [_build_optimizer(name, factories[name], getattr(self, name)) for name in _NETS]

    def setup(self, stage: str) -> None:
        from lightning_gans._strategies import prepare_strategy

        prepare_strategy(self.trainer)
        self._fuse_critic = self.fuse_critic_forwards and not any(True for _ in self.critic.buffers())
        self._fast_steps = self.fast_optimizer_steps and _plain_steps(self)
        if self.compile_options is not None and not self._compiled:  # after the callbacks' setup (spectral norm)
            self._compiled = {name: torch.compile(getattr(self, name), **self.compile_options) for name in _NETS}

    def configure_model(self) -> None:
        """Under :class:`~lightning_gans.sharding.FSDP2Strategy`: shard both networks with FSDP2 (else nothing)."""
        from lightning_gans.sharding import shard_networks

        shard_networks(self)

    def on_fit_start(self) -> None:
        self.ema_generator = (
            None  # a loaded average is stale once this fit moves the generator; GeneratorEMA re-attaches
        )

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One update, or one cycle; returns its logs, which callbacks receive as ``outputs`` of ``on_train_batch_end``."""
        real, labels = split_batch(batch)
        labels = None if self.num_classes is None else check_labels(labels, real.shape[0], self.num_classes, "batch")
        parts = _parts(self, real, labels)
        self._kept = None  # fakes are kept within one batch only
        if self.updates_per_batch == "cycle_reuse":
            _check_cycle_start(self)  # the generator update takes the last part again, with the kept fakes
            parts.append(parts[-1])
        logs: dict[str, Tensor] = {}
        for part, part_labels in parts:
            rng = _reseed(self, self.critic_steps + self.generator_steps)
            if self._cycle_position < self.n_critic:
                logs.update(self.critic_update(part, part_labels, rng))
                self.critic_steps += 1
                self._cycle_position += 1
            else:
                logs.update(self.generator_update(part, part_labels, rng))
                self.generator_steps += 1
                self._cycle_position = 0
                self._latest[GENERATOR_STEP] = float(self.generator_steps)
        self._latest.update(logs)
        if _logs_due(self.trainer, len(parts)):  # self.log costs ~0.4 ms a call: the latest values when loggers write
            for name, value in self._latest.items():
                self.log(name, value, prog_bar=True)
        return logs

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoints.save_module_state(self, checkpoint)
        if self._trainer is not None and self.trainer.world_size > 1:
            from lightning_gans.distributed import average_checkpoint_statistics

            average_checkpoint_statistics(checkpoint, self.trainer.strategy, self)  # BatchNorm statistics of every rank
            checkpoints.refuse_non_finite(checkpoint)  # on every rank; the writer (rank 0) checks again with the path

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoints.load_module_state(self, checkpoint, resuming=self._trainer is not None)
        checkpoints.keep_cli_config(self, checkpoint)
        restore_spectral_norm(self, checkpoint)  # before load_state_dict: re-wrap layers saved with spectral norm
        attach_saved_ema(self, checkpoint)  # loaded without a Trainer: sample() uses the saved EMA generator


def _generate_like(module: AdversarialModule, real: Tensor, labels: Tensor | None, rng: torch.Generator) -> Tensor:
    """A fake batch the size and shape of ``real`` (checked, naming what disagrees)."""
    z = module.sample_noise(real.shape[0], rng)
    try:
        fake = module.generate(z, labels)
    except RuntimeError as err:  # the first call: e.g. a matmul shape error deep inside the generator
        if module._first_update_done:
            raise
        raise ValueError(
            f"`generator` failed on noise of shape {tuple(z.shape)} (`latent_dim`={module.latent_dim}): "
            f"does its input size equal `latent_dim`? ({type(err).__name__}: {err})"
        ) from err
    module._first_update_done = True
    return _same_shape(fake, real)


@torch.no_grad()
def _scored_without_grad(module: AdversarialModule, real: Tensor, labels: Tensor | None) -> Tensor:
    return module.critic_outputs(real, labels)[0]


def _same_shape(fake: Tensor, real: Tensor) -> Tensor:
    if fake.shape != real.shape:
        raise ValueError(
            f"`generator` output shape {tuple(fake.shape)} does not match the data's shape {tuple(real.shape)}: "
            "check the generator's architecture (`image_size`, `channels`), `latent_dim` and the datamodule."
        )
    return fake


def _reseed(module: AdversarialModule, step: int) -> torch.Generator:
    """The module's RNG for update ``step``, reseeded from ``(noise_seed, rank, step)``."""
    if module._rng is None or module._rng.device != module.device:
        module._rng = torch.Generator(device=module.device)
    seed = (module.noise_seed + _MIX * (module.global_rank + 1) + _MIX2 * (step + 1)) % (2**63)
    return module._rng.manual_seed(seed)


def _step(module: AdversarialModule, opt: Any, loss: Tensor) -> None:
    if module._fast_steps:  # what the full path does when its layers are no-ops (see `_plain_steps`)
        before, after = manual_step_counters(opt)  # the loop's step counters: `global_step` counts these
        raw = opt.optimizer
        raw.zero_grad(set_to_none=True)
        loss.backward()
        before()
        raw.step()
        after()
        return
    opt.zero_grad(set_to_none=True)
    module.manual_backward(loss)
    opt.step()


def _plain_steps(module: AdversarialModule) -> bool:
    """Whether ``manual_backward`` and ``LightningOptimizer.step`` would add nothing but the step counters: one
    device, fp32 precision, no profiler, and nobody watching a backward or a step (no overridden hook)."""
    trainer: Any = module.trainer
    layers = (
        type(trainer.strategy) is SingleDeviceStrategy
        and type(trainer.precision_plugin) is Precision
        and isinstance(trainer.profiler, PassThroughProfiler)
    )
    watched = any(getattr(type(module), h) is not getattr(LightningModule, h) for h in _MODULE_STEP_HOOKS) or any(
        getattr(type(cb), h) is not getattr(Callback, h) for cb in trainer.callbacks for h in _CALLBACK_STEP_HOOKS
    )
    return layers and not watched


def _logs_due(trainer: Any, updates_per_batch: int) -> bool:
    """Whether Lightning's loggers write after this batch (every ``log_every_n_steps``, epoch end, last step).

    The module keeps the latest value of each metric and hands them all to ``self.log`` only then:
    every logged row holds the latest value of every metric, and ``callback_metrics`` refresh at the
    same cadence.
    """
    done, every, max_steps = trainer.global_step, trainer.log_every_n_steps, trainer.max_steps
    batches = done // updates_per_batch
    return bool(
        (every and batches % every == 0) or trainer.is_last_batch or (max_steps is not None and 0 <= max_steps <= done)
    )


def _parts(module: AdversarialModule, real: Tensor, labels: Tensor | None) -> list[tuple[Tensor, Tensor | None]]:
    """The batch as one update's data, or as ``n_critic + 1`` equal parts (``"cycle"``), or ``n_critic``
    (``"cycle_reuse"``)."""
    if module.updates_per_batch == "one":
        return [(real, labels)]
    reuse = module.updates_per_batch == "cycle_reuse"
    k = module.n_critic + (0 if reuse else 1)
    if real.shape[0] % k:
        parts = "`n_critic`" if reuse else "`n_critic` + 1"
        raise _checks.InputError(
            f"`updates_per_batch`={module.updates_per_batch!r} splits each batch into {parts} = {k} equal parts, but "
            f"the batch has {real.shape[0]} samples: make the batch size a multiple of {k}."
        )
    return list(zip(real.chunk(k), [None] * k if labels is None else labels.chunk(k)))


def _check_cycle_start(module: AdversarialModule) -> None:
    """A ``"cycle_reuse"`` batch is a whole cycle: it must start one (not so after a checkpoint taken mid-cycle with
    ``updates_per_batch="one"``)."""
    if module._cycle_position != 0:
        raise _checks.InputError(
            f"`updates_per_batch`='cycle_reuse' runs a whole cycle per batch, but this run stands after critic update "
            f"{module._cycle_position} of {module.n_critic} (a checkpoint taken mid-cycle with "
            "`updates_per_batch`='one'): resume it with 'one' or 'cycle'."
        )


def _score_both(module: AdversarialModule, real: Tensor, fake: Tensor, labels: Tensor | None) -> tuple[Any, Any]:
    """The critic's outputs for the real and the fake batch: one forward over both when the critic has no buffers
    (no BatchNorm statistics or spectral-norm vectors that a forward updates: one pass then gives two passes' values).
    The first critic update scores them apart, so that a critic of the wrong output shape is named with the batch's."""
    if module._fuse_critic and module.critic_steps > 0 and real.shape == fake.shape:
        n = real.shape[0]
        scores, extra = module.critic_outputs(torch.cat([real, fake]), None if labels is None else labels.repeat(2))
        if extra is None or isinstance(extra, Tensor):
            halves = (None, None) if extra is None else (extra[:n], extra[n:])
            return (scores[:n], halves[0]), (scores[n:], halves[1])
    return module.critic_outputs(real, labels), module.critic_outputs(fake, labels)


def _check_penalty_settings(penalty: Penalty | None, weight: float, every: int, critic: nn.Module) -> None:
    """Settings that would have no effect are errors; a BatchNorm critic under an input-gradient penalty warns."""
    if penalty is None and (weight != 0.0 or every != 1):
        given = ", ".join(
            f"`{n}`={v!r}" for n, v in (("penalty_weight", weight), ("penalty_every", every)) if v not in (0.0, 1)
        )
        raise _checks.InputError(
            f"{given} given without a `penalty`: it would have no effect. Set `penalty` (e.g. 'r1')."
        )
    if penalty is not None and weight == 0.0:
        raise _checks.InputError(
            "`penalty` is set but `penalty_weight` is 0, so it would be computed and logged but never trained on; "
            "give `penalty_weight` > 0 (R1: gamma / 2) or drop the penalty."
        )
    if penalty is not None and needs_input_gradients(penalty) and batch_norm_layers(critic):
        warnings.warn(
            f"`critic` has BatchNorm layers ({', '.join(batch_norm_layers(critic)[:3])}) but "
            f"`penalty={penalty_name(penalty)!r}` penalises per-sample input gradients, which BatchNorm couples across the batch (WGAN-GP, Sec. 4): use LayerNorm, "
            "InstanceNorm or no normalisation in the critic.",
            UserWarning,
            stacklevel=3,
        )


def _factory(name: str, value: Any, default: OptimizerCallable) -> OptimizerCallable:
    if value is None:
        return default
    if isinstance(value, Optimizer):
        raise _checks.InputTypeError(
            f"`{name}` must build an optimizer from parameters, e.g. functools.partial(torch.optim.Adam, lr=1e-4), "
            f"not be one: got a {type(value).__name__} instance (the module builds it for the right network)."
        )
    if not callable(value):
        raise _checks.InputTypeError(
            f"`{name}` must be a callable that builds an optimizer from parameters, got {value!r}."
        )
    return value


def _build_optimizer(net_name: str, factory: OptimizerCallable, net: nn.Module) -> Optimizer:
    """``factory(net.parameters())``; a failure (e.g. ``lr="1e-4"`` from a hand-written config) names the argument."""
    try:
        return factory(net.parameters())
    except (TypeError, ValueError) as err:
        raise type(err)(f"`{net_name}_optimizer` could not build the {net_name}'s optimizer: {err}") from err


def _compile_options(value: bool | dict[str, Any]) -> dict[str, Any] | None:
    """``compile=`` as ``torch.compile`` keyword arguments (``None``: off); bad values name `compile`."""
    if isinstance(value, bool):
        return {} if value else None
    if not isinstance(value, dict):
        raise _checks.InputTypeError(f"`compile` must be a bool or a dict of torch.compile arguments, got {value!r}.")
    allowed = set(inspect.signature(torch.compile).parameters) - {"model"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _checks.InputError(
            f"`compile` has arguments torch.compile does not take: {unknown}; expected some of {sorted(allowed)}."
        )
    return dict(value)
