"""Diagnostics of the critic's Lipschitz behaviour: input-gradient norms, empirical and spectral bounds, weights."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gans.penalties import input_gradients, interpolate
from lightning_gans.protocol import require, scores_per_sample, split_batch

__all__ = [
    "LipschitzMonitor",
    "critic_layers",
    "empirical_lipschitz",
    "gradient_direction_pairs",
    "input_gradient_norms",
    "layer_gradient_norms",
    "spectral_norms",
    "weight_saturation",
]

PREFIX = "lipschitz/"
"""Every name the monitor logs starts with this prefix."""

ScoreLoss = Callable[[Tensor, Tensor], Tensor]


def _scores(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    return scores_per_sample(critic(x), x.shape[0])


def _score_at_label(pl_module: Any, label: int, x: Tensor) -> Tensor:
    """The conditional critic's scores of ``x`` at one class label held fixed."""
    return pl_module.discriminate(x, torch.full((x.shape[0],), label, dtype=torch.long, device=x.device))


def critic_layers(critic: nn.Module) -> list[tuple[str, nn.Module]]:
    """The critic's layers with a weight matrix (``weight`` with >= 2 dims), in registration order (input first)."""
    layers = []
    for name, module in critic.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, Tensor) and weight.dim() >= 2:
            layers.append((name, module))
    return layers


def input_gradient_norms(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``||grad_x f(x_i)||_2`` for every sample, shape ``(N,)`` (no graph kept, no epsilon: tiny norms stay tiny)."""
    # sqrt(sum_j (d f(x_i) / d x_ij)^2)
    return input_gradients(critic, x, create_graph=False).flatten(1).norm(dim=1)


def gradient_direction_pairs(x: Tensor, grads: Tensor, radius: float) -> Tensor:
    """``x + radius * g / ||g||`` per sample: the partner along which ``f`` changes fastest near ``x``."""
    direction = grads / grads.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *[1] * (grads.dim() - 1))
    return x + radius * direction.to(x.dtype)


@torch.no_grad()
def empirical_lipschitz(critic: Callable[[Tensor], Tensor], x: Tensor, y: Tensor) -> Tensor:
    """``max_i |f(x_i) - f(y_i)| / ||x_i - y_i||`` over pairs with ``x_i != y_i``: a lower bound on ``Lip(f)``.

    Args:
        critic: maps ``(N, *S)`` to scores ``(N,)`` or ``(N, 1)``.
        x: first points of the pairs, ``(N, *S)``.
        y: second points, same shape.
    """
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same shape; got {tuple(x.shape)} and {tuple(y.shape)}.")
    distance = (x - y).flatten(1).float().norm(dim=1)
    keep = distance > 0
    if not keep.any():
        raise ValueError("All pairs coincide (`x == y`): no ratio to take.")
    both = _scores(critic, torch.cat([x[keep], y[keep]])).float()
    fx, fy = both.chunk(2)
    return ((fx - fy).abs() / distance[keep]).max()


@torch.no_grad()
def spectral_norms(critic: nn.Module) -> dict[str, Tensor]:
    """Largest singular value of each layer's weight (conv kernels reshaped to ``(out, -1)``), by layer name.

    For a feed-forward net of ``Linear`` layers and 1-Lipschitz activations (ReLU, LeakyReLU,
    tanh) without normalisation layers, their product bounds ``Lip(f)`` from above. For a conv
    kernel this is the reshaped-kernel norm that spectral normalisation uses, not the conv
    operator's norm (Miyato et al. 2018, https://arxiv.org/abs/1802.05957, Sec. 2.1).
    """
    return {
        name: torch.linalg.matrix_norm(cast(Tensor, module.weight).detach().flatten(1).float(), ord=2)
        for name, module in critic_layers(critic)
    }


def layer_gradient_norms(
    critic: nn.Module, loss: ScoreLoss, real: Tensor, fake: Tensor, score: Callable[[Tensor], Tensor] | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Norms of the gradient of the critic loss with respect to each layer's weight and input, by layer name.

    This is the quantity of Figure 1a of the WGAN-GP paper (Gulrajani et al. 2017,
    https://arxiv.org/abs/1704.00028): with weight clipping it explodes or vanishes from the last
    layer to the first; with the gradient penalty it stays of one order. Real and fake samples are
    scored in one batch; neither ``.grad`` nor any other state of the critic is touched.

    Args:
        critic: the critic.
        loss: ``loss(real_scores, fake_scores) -> scalar``, e.g. the module's ``critic_loss``
            (the adversarial loss only: a penalty is not included).
        real: real samples ``(N, *S)``.
        fake: generated samples ``(M, *S)``.
        score: how to score a batch with ``critic`` (default: ``critic(x)``), e.g. at a fixed class label.

    Returns:
        ``(weight_grad_norms, input_grad_norms)``: ``||dL/dW_l||_F`` and ``||dL/dh_{l-1}||_F`` (``h_0``
        is the critic's input) for each layer of :func:`critic_layers`.
    """
    layers = critic_layers(critic)
    if not layers:
        return {}, {}
    inputs: dict[str, Tensor] = {}

    def capture(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple) -> None:
            inputs.setdefault(name, args[0])

        return hook

    handles = [module.register_forward_pre_hook(capture(name)) for name, module in layers]
    try:
        x = torch.cat([real, fake]).detach().requires_grad_(True)
        scores = _scores(critic if score is None else score, x)
        value = loss(scores[: len(real)], scores[len(real) :])
    finally:
        for handle in handles:
            handle.remove()
    weights = {
        name: [
            p
            for n, p in module.named_parameters()
            if p.dim() >= 2 and p.requires_grad and n.startswith(("weight", "parametrizations.weight"))
        ]
        for name, module in layers
    }
    names = [name for name, _ in layers if name in inputs and inputs[name].requires_grad]
    targets = [inputs[name] for name in names] + [p for name, _ in layers for p in weights[name]]
    grads = torch.autograd.grad(value, targets, allow_unused=True)
    input_grads = {name: _norm(g) for name, g in zip(names, grads[: len(names)])}
    rest = iter(grads[len(names) :])
    weight_grads = {}
    for name, _ in layers:
        parts = [next(rest) for _ in weights[name]]
        weight_grads[name] = torch.sqrt(sum((_norm(g) ** 2 for g in parts), torch.zeros(())))
    return weight_grads, input_grads


def _norm(g: Tensor | None) -> Tensor:
    return torch.zeros(()) if g is None else g.detach().float().norm().cpu()


def weight_saturation(values: Tensor, tolerance: float = 0.01) -> Tensor:
    """Fraction of entries whose magnitude is within ``tolerance`` (relative) of the largest magnitude.

    Under weight clipping at ``c`` the largest magnitude is ``c`` and this is the fraction piled up at
    ``+-c`` (WGAN-GP paper, Figure 1b); for a freely trained net it is close to ``1 / numel``.
    """
    magnitude = values.detach().abs().float()
    return (magnitude >= (1.0 - tolerance) * magnitude.max()).float().mean()


def _wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    # E[f(G(z))] - E[f(x)]
    return fake_scores.mean() - real_scores.mean()


class LipschitzMonitor(Callback):
    """Log how Lipschitz the critic is, every ``every_n_steps`` training batches.

    Makes the claims behind WGAN, WGAN-GP and spectral normalisation observable in a run
    (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875; Gulrajani et al. 2017,
    https://arxiv.org/abs/1704.00028, Sec. 3 and Fig. 1; Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957). On up to ``num_samples`` real samples of the current
    batch, as many generated ones (``pl_module.sample``) and random interpolates between them,
    it logs under ``lipschitz/``:

    * ``grad_norm/{real,fake,interpolated}/{mean,max}``: ``||grad_x f(x)||``, which the gradient
      penalty drives to 1 on interpolates;
    * ``empirical``: ``max |f(x) - f(y)| / ||x - y||`` over real-fake pairs, random pairs of all
      samples, and pairs ``(x, x + probe_radius * grad f / ||grad f||)`` (which make the
      estimate tight for a linear critic): a lower bound on ``Lip(f)``;
    * ``spectral_norm/<layer>`` and ``spectral_norm_product``: per-layer ``||W||_2`` and their
      product, an upper bound on ``Lip(f)`` for ReLU MLPs without normalisation layers;
    * ``layer_grad_norm/<layer>`` and ``layer_input_grad_norm/<layer>``: norms of the gradient of
      the module's ``critic_loss`` (no penalty) with respect to each layer's weight and input,
      the paper's "gradient norms across depth" (see :func:`layer_gradient_norms`);
    * ``weight/abs_max``, ``weight/std`` and ``weight/saturation``: over all critic parameters;
      ``saturation`` is the fraction within 1% of the largest magnitude, i.e. piled up at
      ``+-c`` under weight clipping.

    Histograms of the three gradient-norm samples and of the critic's parameters go to every
    logger that supports them (TensorBoard's ``add_histogram``, W&B's ``wandb.Histogram``);
    other loggers get the scalars only. The last measurement stays in :attr:`last` (tensors,
    including the raw samples), e.g. for scripts.

    The monitor changes nothing in training: it runs after the batch's update, with the critic
    in eval mode (restored afterwards), its own seeded RNG, and ``torch.autograd.grad`` (no
    ``.grad`` is touched). Its cost at the default interval, measured, is in ``docs/lipschitz.md``.

    Module protocol: ``critic``, ``sample(n, rng=...)``, and optionally
    ``critic_loss(real_scores, fake_scores)`` (else the Wasserstein critic loss is used).
    For a conditional module (``num_classes`` set) every quantity is measured on the critic at one
    class label held fixed, ``f_c(x) = discriminate(x, c)`` (what a gradient penalty constrains),
    with fakes generated at ``c``; ``c`` cycles through the classes from one measurement to the next.

    Args:
        every_n_steps: measure when ``trainer.global_step`` is a multiple of it; choose a multiple
            of the trainer's ``log_every_n_steps`` so that the logger writes what is measured.
        num_samples: real and generated samples per measurement (>= 2).
        probe_radius: step ``r > 0`` of the gradient-direction pairs, in the data's units.
        log_histograms: send histograms to loggers that support them.
        seed: seed of the monitor's RNG (fakes, interpolation weights, pairings), combined with the step.

    Raises:
        ValueError: an argument is out of range.

    Example:
        >>> trainer = Trainer(callbacks=[LipschitzMonitor(every_n_steps=100)])  # doctest: +SKIP
    """

    def __init__(
        self,
        every_n_steps: int = 100,
        num_samples: int = 256,
        probe_radius: float = 1e-2,
        log_histograms: bool = True,
        seed: int = 0,
    ) -> None:
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"`every_n_steps` must be an integer >= 1, got {every_n_steps!r}.")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
            raise ValueError(f"`num_samples` must be an integer >= 2, got {num_samples!r}.")
        if not isinstance(probe_radius, (int, float)) or not probe_radius > 0:
            raise ValueError(f"`probe_radius` must be a number > 0, got {probe_radius!r}.")
        self._every = every_n_steps
        self._num_samples = num_samples
        self._radius = float(probe_radius)
        self._histograms = bool(log_histograms)
        self._seed = int(seed)
        #: The last measurement: scalar tensors by logged name (without the prefix) plus raw samples
        #: under ``samples/grad_norm/{real,fake,interpolated}`` and ``samples/weights``.
        self.last: dict[str, Tensor] = {}

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        require(pl_module, self, "critic", "sample")
        log_every = getattr(trainer, "log_every_n_steps", 0)
        if trainer.loggers and log_every and self._every % log_every:
            rank_zero_warn(
                f"LipschitzMonitor(every_n_steps={self._every}) is not a multiple of the trainer's "
                f"log_every_n_steps={log_every}: some measurements will not reach the logger."
            )

    def on_train_batch_end(self, trainer: Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step % self._every:
            return
        real, _ = split_batch(batch)
        self.last = self.measure(pl_module, real[: self._num_samples], step=trainer.global_step)
        self._log(trainer, pl_module)

    # ----------------------------------------------------------------------------------------
    def measure(self, pl_module: Any, real: Tensor, step: int = 0) -> dict[str, Tensor]:
        """All diagnostics for ``real`` and as many fresh fakes; see the class docstring for the keys."""
        critic: nn.Module = pl_module.critic
        rng = torch.Generator(device=real.device).manual_seed(self._seed * 1_000_003 + step)
        num_classes = getattr(pl_module, "num_classes", None)
        if num_classes is None:
            score: Callable[[Tensor], Tensor] = critic
            fake = pl_module.sample(real.shape[0], rng=rng).to(real.dtype)
        else:
            label = (step // self._every) % num_classes
            score = partial(_score_at_label, pl_module, label)
            fake = pl_module.sample(real.shape[0], labels=label, rng=rng).to(real.dtype)
        loss: ScoreLoss = getattr(pl_module, "critic_loss", _wasserstein)
        was_training = critic.training
        critic.eval()
        try:
            with torch.enable_grad():
                return self._measure(critic, loss, real.detach(), fake.detach(), rng, score)
        finally:
            critic.train(was_training)

    def _measure(
        self,
        critic: nn.Module,
        loss: ScoreLoss,
        real: Tensor,
        fake: Tensor,
        rng: torch.Generator,
        score: Callable[[Tensor], Tensor],
    ) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        samples = {"real": real, "fake": fake, "interpolated": interpolate(real, fake, rng)}
        grads = {}
        for kind, x in samples.items():
            grads[kind] = input_gradients(score, x, create_graph=False)
            norms = grads[kind].flatten(1).norm(dim=1).detach().cpu()
            out[f"grad_norm/{kind}/mean"] = norms.mean()
            out[f"grad_norm/{kind}/max"] = norms.max()
            out[f"samples/grad_norm/{kind}"] = norms

        pool = torch.cat(list(samples.values()))  # (3N, *S)
        pool_grads = torch.cat(list(grads.values()))
        partners = pool[torch.randperm(len(pool), generator=rng, device=pool.device)]
        x = torch.cat([real, pool, pool])
        y = torch.cat([fake, partners, gradient_direction_pairs(pool, pool_grads, self._radius)])
        out["empirical"] = empirical_lipschitz(score, x, y).cpu()

        norms = spectral_norms(critic)
        for name, value in norms.items():
            out[f"spectral_norm/{name}"] = value.cpu()
        if norms:
            out["spectral_norm_product"] = torch.stack(list(norms.values())).prod().cpu()

        weight_grads, input_grads = layer_gradient_norms(critic, loss, real, fake, score)
        for name, value in weight_grads.items():
            out[f"layer_grad_norm/{name}"] = value
        for name, value in input_grads.items():
            out[f"layer_input_grad_norm/{name}"] = value

        params = [p.detach().flatten().float() for p in critic.parameters()]
        if not params:
            return out
        weights = torch.cat(params).cpu()
        out["weight/abs_max"] = weights.abs().max()
        out["weight/std"] = weights.std()
        out["weight/saturation"] = weight_saturation(weights)
        out["samples/weights"] = weights
        return out

    def _log(self, trainer: Trainer, pl_module: Any) -> None:
        for key, value in self.last.items():
            if not key.startswith("samples/"):
                pl_module.log(PREFIX + key, value, on_step=True, on_epoch=False)
        if not self._histograms:
            return
        histograms = {
            PREFIX + key[len("samples/") :]: value for key, value in self.last.items() if key.startswith("samples/")
        }
        for logger in trainer.loggers:
            _log_histograms(logger, histograms, trainer.global_step)


def _log_histograms(logger: Logger, histograms: dict[str, Tensor], step: int) -> None:
    """Histograms for the loggers that have them; any other logger is skipped."""
    if isinstance(logger, TensorBoardLogger):
        for tag, values in histograms.items():
            logger.experiment.add_histogram(tag, values, global_step=step)
    elif isinstance(logger, WandbLogger):
        import wandb

        logger.log_metrics(
            {tag: wandb.Histogram(values.numpy()) for tag, values in histograms.items()},  # type: ignore[misc, arg-type]
            step=step,
        )
