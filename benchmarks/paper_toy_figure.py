"""The WGAN-GP authors' toy experiments: WGAN-GP, WGAN (clipping) and GAN on 8 Gaussians, 25 Gaussians, Swiss roll.

Gulrajani et al. 2017 ("Improved Training of Wasserstein GANs", https://arxiv.org/abs/1704.00028),
Sec. 4 and Fig. 1-2, trained their toys with the settings of their released ``gan_toy.py``, which
are not Algorithm 1's: for both networks three ReLU layers of width 512 (latent 2), batch 256,
5 critic iterations per generator iteration, and

* WGAN-GP: lambda = 0.1, Adam lr 1e-4, betas (0.5, 0.9);
* WGAN (weight clipping, Arjovsky et al. 2017): RMSProp lr 5e-5, clip 0.01;
* GAN (not in ``gan_toy.py``; Goodfellow et al. 2014 with the non-saturating loss): the same nets
  and Adam as WGAN-GP, one discriminator update per generator update (the paper's k = 1).

Differences from ``gan_toy.py``: PyTorch's default init instead of He init; each epoch's batches
are drawn once from a seeded RNG (:class:`~lightning_gans.ToyDataModule`) instead of fresh; the
authors train 100,000 generator iterations, far more than 2 CPU cores afford (the budget used is
printed with the results). The same presets as CLI configs: ``examples/paper_toy_{wgangp,wgan,gan}.yaml``.

Output: a table (per dataset, model and seed: modes covered and high-quality fraction for the
mixtures, exact W1 between 2,000 generated and 2,000 real points; the *real* row is a second real
sample, the finite-sample floor) and a grid figure like the paper's: the critic's value surface
(contours) with real (orange) and generated (green) points, one panel per dataset and model.

    python benchmarks/paper_toy_figure.py --generator-steps 2500 --hidden-dim 128 --lr 1e-3 --ema 0.99 --eval-at 1000   # the README figure and table
    python benchmarks/paper_toy_figure.py --datasets 8gaussians --models WGAN-GP --seeds 0 1 2 3 4
    # 25 Gaussians, one budget curve per seed (README: 25/25 modes from 2,500 G steps on 5 seeds):
    python benchmarks/paper_toy_figure.py --datasets 25gaussians --models WGAN-GP --generator-steps 8000 \
        --hidden-dim 128 --lr 1e-3 --ema 0.99 --eval-at 1000 2000 3000 4000 6000 --seeds 0 1 2 3 4 \
        --figure docs/img/paper_toy_25gaussians.png
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from lightning_gans import GAN, WGAN, WGANGP, AdversarialModule, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.evaluation.toy import HIGH_QUALITY, MODES_COVERED, W1, toy_metrics
from lightning_gans.nets import MLPCritic, MLPGenerator

DATASETS = ["8gaussians", "25gaussians", "swissroll"]
TITLES = {"8gaussians": "8 Gaussians", "25gaussians": "25 Gaussians", "swissroll": "Swiss roll"}
BATCH_SIZE = 256
LATENT_DIM = 2
_ADAM = partial(torch.optim.Adam, lr=1e-4, betas=(0.5, 0.9))
_RMSPROP = partial(torch.optim.RMSprop, lr=5e-5)


def _wgangp(g, d, lr: float | None) -> AdversarialModule:
    opt = _ADAM if lr is None else partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.9))
    return WGANGP(g, d, LATENT_DIM, gp_weight=0.1, n_critic=5, generator_optimizer=opt, critic_optimizer=opt)


def _wgan(g, d, lr: float | None) -> AdversarialModule:
    opt = _RMSPROP if lr is None else partial(torch.optim.RMSprop, lr=lr)
    return WGAN(g, d, LATENT_DIM, clip_value=0.01, n_critic=5, generator_optimizer=opt, critic_optimizer=opt)


def _gan(g, d, lr: float | None) -> AdversarialModule:
    opt = _ADAM if lr is None else partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.9))
    return GAN(g, d, LATENT_DIM, loss="non_saturating", n_critic=1, generator_optimizer=opt, critic_optimizer=opt)


PRESETS: dict[str, Callable[..., AdversarialModule]] = {"WGAN-GP": _wgangp, "WGAN": _wgan, "GAN": _gan}
"""The authors' toy settings per model, built on the given nets (``lr=None``: the paper's learning rate)."""


def build(model: str, seed: int, hidden_dim: int = 512, lr: float | None = None) -> AdversarialModule:
    """The preset ``model`` with fresh nets of ``hidden_dim`` (3 ReLU layers), seeded."""
    L.seed_everything(seed, verbose=False)
    module = PRESETS[model](MLPGenerator(LATENT_DIM, 2, hidden_dim, 3), MLPCritic(2, hidden_dim, 3), lr)
    module.noise_seed = seed
    return module


class _StepSchedule(Callback):
    """Along one run: multiply every learning rate by ``lr_decay[1]`` once ``lr_decay[0]`` generator steps are done,
    and call ``on_checkpoint(module, generator_steps, train_cpu_seconds)`` after each generator step in ``eval_at``.

    ``train_cpu_seconds`` is the process CPU time since ``fit`` started minus the time spent in ``on_checkpoint``.
    """

    def __init__(
        self, eval_at: list[int], on_checkpoint: Callable | None = None, lr_decay: tuple[int, float] | None = None
    ) -> None:
        self.eval_at, self.on_checkpoint, self.lr_decay = sorted(set(eval_at)), on_checkpoint, lr_decay
        self._done: set[int] = set()
        self._decayed = False
        self._t0 = self._eval_cpu = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._t0, self._eval_cpu = time.process_time(), 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g = pl_module.generator_steps
        if self.lr_decay and not self._decayed and g >= self.lr_decay[0]:
            for opt in trainer.optimizers:
                for group in opt.param_groups:
                    group["lr"] *= self.lr_decay[1]
            self._decayed = True
        if self.on_checkpoint and g in self.eval_at and g not in self._done:
            self._done.add(g)
            t = time.process_time()
            was_training = pl_module.training
            self.on_checkpoint(pl_module, g, t - self._t0 - self._eval_cpu)
            pl_module.train(was_training)
            self._eval_cpu += time.process_time() - t


def train(
    model: str,
    dataset: str,
    generator_steps: int,
    seed: int = 0,
    hidden_dim: int = 512,
    lr: float | None = None,
    ema: float = 0.0,
    eval_at: list[int] | None = None,
    on_checkpoint: Callable | None = None,
    lr_decay: tuple[int, float] | None = None,
) -> AdversarialModule:
    """Train one preset for ``generator_steps`` generator updates (``max_steps = steps * (n_critic + 1)``).

    ``eval_at``/``on_checkpoint``: call ``on_checkpoint(module, g, train_cpu_s)`` after each of these generator
    steps (a budget curve from one run); ``lr_decay=(g, factor)``: multiply both learning rates by ``factor``
    after ``g`` generator steps. Both default off.
    """
    module = build(model, seed, hidden_dim, lr)
    callbacks: list[Callback] = [GeneratorEMA(ema)] if ema else []
    if eval_at or lr_decay:
        callbacks.append(_StepSchedule(eval_at or [], on_checkpoint, lr_decay))
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=generator_steps * (module.n_critic + 1),
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(module, ToyDataModule(dataset, batch_size=BATCH_SIZE, batches_per_epoch=1000, seed=seed))
    assert module.generator_steps == generator_steps
    return module


def evaluate(
    module: AdversarialModule, dataset: str, seed: int, n: int = 2000
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Metrics of ``n`` samples (fixed noise) against ``n`` fresh real points; also returns both point sets."""
    rng = torch.Generator().manual_seed(10_000 + seed)
    real = TOY_DISTRIBUTIONS[dataset].sample(n, rng)
    fake = module.sample(n, noise=torch.randn(n, LATENT_DIM, generator=rng))
    return toy_metrics(fake, real, TOY_DISTRIBUTIONS[dataset]), fake, real


def real_floor(dataset: str, seed: int, n: int = 2000) -> dict[str, float]:
    """The metrics of a second real sample against the same real sample as :func:`evaluate` (the floor)."""
    rng = torch.Generator().manual_seed(10_000 + seed)
    real = TOY_DISTRIBUTIONS[dataset].sample(n, rng)
    torch.randn(n, LATENT_DIM, generator=rng)  # keep the stream aligned with evaluate()
    return toy_metrics(TOY_DISTRIBUTIONS[dataset].sample(n, rng), real, TOY_DISTRIBUTIONS[dataset])


def _fmt(m: dict[str, float], dataset: str) -> tuple[str, str, str]:
    k = TOY_DISTRIBUTIONS[dataset].centers
    modes = f"{int(m[MODES_COVERED])}/{len(k)}" if MODES_COVERED in m else "–"
    good = f"{100 * m[HIGH_QUALITY]:.1f} %" if HIGH_QUALITY in m else "–"
    return modes, good, f"{m[W1]:.3f}"


def plot_grid(
    panels: dict[tuple[str, str], tuple], datasets: list[str], models: list[str], path: Path, note: str
) -> None:
    """Rows: datasets; columns: models. Each panel: critic contours, real (orange) and generated (green) points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extent, res = 2.2, 121
    axis = torch.linspace(-extent, extent, res)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    grid_points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
    fig, axes = plt.subplots(
        len(datasets), len(models), figsize=(3.4 * len(models), 3.4 * len(datasets)), squeeze=False
    )
    for i, dataset in enumerate(datasets):
        for j, model in enumerate(models):
            ax = axes[i][j]
            if (dataset, model) not in panels:
                ax.axis("off")
                continue
            critic, fake, real, metrics = panels[(dataset, model)]
            with torch.no_grad():
                surface = critic(grid_points).reshape(res, res)
            ax.contour(axis, axis, surface, levels=12, linewidths=0.7, cmap="viridis")
            ax.scatter(real[:500, 0], real[:500, 1], s=6, marker="+", color="orange", linewidths=0.6)
            ax.scatter(fake[:500, 0], fake[:500, 1], s=6, marker="+", color="green", linewidths=0.6)
            ax.set_xlim(-extent, extent)
            ax.set_ylim(-extent, extent)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            modes, _good, w1 = _fmt(metrics, dataset)
            caption = f"W1 {w1}" + (f", {modes} modes" if modes != "–" else "")
            ax.set_title(f"{model}: {caption}", fontsize=9)
            if j == 0:
                ax.set_ylabel(TITLES[dataset])
    title = f"Toy settings of Gulrajani et al. 2017 (gan_toy.py); {note}"
    fig.suptitle(textwrap.fill(title, width=int(13 * 3.4 * len(models))), fontsize=10)  # ~13 characters per inch
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=1000)
    parser.add_argument("--hidden-dim", type=int, default=512, help="the paper's 512; smaller for a cheaper run")
    parser.add_argument("--lr", type=float, default=None, help="override the paper's learning rate for every model")
    parser.add_argument(
        "--ema", type=float, default=0.0, help="sample from a GeneratorEMA with this decay (0: none, as the paper)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--figure", default="docs/img/paper_toy_figure.png", help="'' for none")
    parser.add_argument("--json", type=Path, default=None, help="also write every row as JSON here")
    parser.add_argument(
        "--eval-at",
        type=int,
        nargs="+",
        default=None,
        metavar="G",
        help="also evaluate after these generator steps of the same run (a budget curve; adds a G steps column)",
    )
    parser.add_argument(
        "--lr-decay-at",
        type=int,
        default=None,
        metavar="G",
        help="multiply both learning rates by --lr-decay-factor after G generator steps (default: constant lr)",
    )
    parser.add_argument("--lr-decay-factor", type=float, default=0.1)
    args = parser.parse_args()
    if args.eval_at and max(args.eval_at) > args.generator_steps:
        parser.error("--eval-at steps must be <= --generator-steps")
    lr_decay = (args.lr_decay_at, args.lr_decay_factor) if args.lr_decay_at is not None else None
    from _common import quiet  # the script's directory: on sys.path when run as a script

    quiet()

    note = (
        f"{args.generator_steps} G steps, MLP 3 x {args.hidden_dim}"
        + (f", lr {args.lr:g}" if args.lr else "")
        + (f", EMA {args.ema:g}" if args.ema else "")
        + (f", lr x{args.lr_decay_factor:g} after {args.lr_decay_at} G steps" if lr_decay else "")
    )
    curve = bool(args.eval_at)
    gcol, gsep = ("G steps | ", "---|") if curve else ("", "")
    print(f"# command: python benchmarks/paper_toy_figure.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"# budget: {note}, batch {BATCH_SIZE}; seeds {args.seeds}; torch threads 1")
    print(f"| dataset | model | seed | {gcol}modes covered | high-quality | W1 (N=2000) | W1 / floor | train CPU s |")
    print(f"|---|---|---|{gsep}---|---|---|---|---|")
    rows, panels = [], {}
    for dataset in args.datasets:
        for seed in args.seeds:
            floor = real_floor(dataset, seed)
            modes, good, w1 = _fmt(floor, dataset)
            greal = "– | " if curve else ""
            print(
                f"| {dataset} | real (second sample) | {seed} | {greal}{modes} | {good} | {w1} | 1.00 | 0 |", flush=True
            )
            rows.append({"dataset": dataset, "model": "real", "seed": seed, **floor})
            for model in args.models:

                def report(module, g, cpu, model=model, dataset=dataset, seed=seed, floor=floor):
                    metrics, fake, real = evaluate(module, dataset, seed)
                    modes, good, w1 = _fmt(metrics, dataset)
                    ratio = metrics[W1] / floor[W1]
                    gval = f"{g} | " if curve else ""
                    print(
                        f"| {dataset} | {model} | {seed} | {gval}{modes} | {good} | {w1} | {ratio:.2f} | {cpu:.0f} |",
                        flush=True,
                    )
                    rows.append(
                        {
                            "dataset": dataset,
                            "model": model,
                            "seed": seed,
                            "generator_steps": g,
                            "cpu_seconds": cpu,
                            "w1_over_floor": ratio,
                            **metrics,
                        }
                    )
                    if args.json:
                        args.json.parent.mkdir(parents=True, exist_ok=True)
                        args.json.write_text(json.dumps({"command": sys.argv, "rows": rows}, indent=1))
                    return metrics, fake, real

                t0 = time.process_time()
                eval_at = [g for g in (args.eval_at or []) if g < args.generator_steps]
                module = train(
                    model,
                    dataset,
                    args.generator_steps,
                    seed,
                    args.hidden_dim,
                    args.lr,
                    args.ema,
                    eval_at=eval_at,
                    on_checkpoint=report,
                    lr_decay=lr_decay,
                )
                cpu = time.process_time() - t0
                eval_cpu = sum(c._eval_cpu for c in module.trainer.callbacks if isinstance(c, _StepSchedule))
                metrics, fake, real = report(module, args.generator_steps, cpu - eval_cpu)
                if seed == args.seeds[0]:
                    panels[(dataset, model)] = (module.critic.eval(), fake, real, metrics)
    if args.figure:
        plot_grid(panels, args.datasets, args.models, Path(args.figure), note)
        print(f"# figure: {args.figure}")


if __name__ == "__main__":
    main()
