"""Toy 2-D results: GAN vs WGAN vs WGAN-GP on 8 Gaussians, 25 Gaussians and the Swiss roll.

Every model trains for the same number of **generator** updates (``--generator-steps``; a batch is
one update, so ``max_steps = generator_steps * (n_critic + 1)``) with the papers' defaults:

* GAN (Goodfellow et al. 2014): non-saturating loss, Adam 2e-4, betas (0.5, 0.999), n_critic 1.
* WGAN (Arjovsky et al. 2017): RMSProp 5e-5, weight clipping 0.01, n_critic 5.
* WGAN-GP (Gulrajani et al. 2017): lambda 10, Adam 1e-4, betas (0, 0.9), n_critic 5.

Nets: the toy MLPs with 3 hidden layers of ``--hidden-dim`` ReLU units (the paper uses 512; 128
keeps a 2-core CPU run short), latent dim 2, batch 256. Evaluation on ``--eval-samples`` generated
points (fixed noise) against as many fresh real points: modes covered and fraction of high-quality
samples (within 3 std of a mode; mixtures only) and the exact Wasserstein-1 distance (optimal
assignment, ``lightning_gans.evaluation.toy.wasserstein1_exact``). The ``real`` row is a second real
sample of the same size: the floor that finite-sample W1 cannot go below.

    python benchmarks/results_toy.py                           # the README table
    python benchmarks/results_toy.py --generator-steps 200 --datasets 8gaussians --models GAN
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.evaluation.toy import HIGH_QUALITY, MODES_COVERED, W1, toy_metrics
from lightning_gans.nets import MLPCritic, MLPGenerator

_ADAM_5E4 = partial(torch.optim.Adam, lr=5e-4, betas=(0.0, 0.9))
MODELS = {
    "GAN": (GAN, {}),
    "WGAN": (WGAN, {}),
    "WGAN-GP": (WGANGP, {}),
    # the settings of examples/wgangp_8gaussians.yaml: the paper's betas, a 5x larger learning rate
    "WGAN-GP lr 5e-4": (WGANGP, {"generator_optimizer": _ADAM_5E4, "critic_optimizer": _ADAM_5E4}),
}
DATASETS = ["8gaussians", "25gaussians", "swissroll"]


def train(
    model_name: str, dataset: str, generator_steps: int, hidden_dim: int, seed: int, ema: float
) -> L.LightningModule:
    L.seed_everything(seed, verbose=False)
    cls, kwargs = MODELS[model_name]
    model = cls(MLPGenerator(2, 2, hidden_dim, 3), MLPCritic(2, hidden_dim, 3), latent_dim=2, noise_seed=seed, **kwargs)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=generator_steps * (model.n_critic + 1),
        logger=False,
        callbacks=[GeneratorEMA(ema)] if ema else [],
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(model, ToyDataModule(dataset, batch_size=256, batches_per_epoch=1000, seed=seed))
    assert model.generator_steps == generator_steps
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=500)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--eval-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=["GAN", "WGAN", "WGAN-GP"], choices=list(MODELS))
    parser.add_argument("--ema", type=float, default=0.0, help="sample from a GeneratorEMA with this decay (0: none)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--plots", default="runs/results_toy", help="directory for one real-vs-generated PNG per row ('' for none)"
    )
    args = parser.parse_args()
    quiet(args.threads)

    command = "python benchmarks/results_toy.py " + shlex.join(sys.argv[1:])
    print(f"# command: {command.strip()}")
    ema = f"; samples from GeneratorEMA({args.ema})" if args.ema else ""
    print(
        f"# budget: {args.generator_steps} generator updates per model, batch 256, MLP hidden {args.hidden_dim} x 3; seed {args.seed}{ema}"
    )
    print(f"# machine: {machine()}")
    print(
        f"| dataset | model | modes covered | high-quality samples | W1 (exact, N={args.eval_samples}) | train time (s) |"
    )
    print("|---|---|---|---|---|---|")
    eval_rng = torch.Generator().manual_seed(10_000 + args.seed)
    for dataset in args.datasets:
        dist = TOY_DISTRIBUTIONS[dataset]
        real = dist.sample(args.eval_samples, eval_rng)
        rows = [("real (second sample)", dist.sample(args.eval_samples, eval_rng), None, 0.0)]
        for name in args.models:
            t0 = time.perf_counter()
            model = train(name, dataset, args.generator_steps, args.hidden_dim, args.seed, args.ema)
            seconds = time.perf_counter() - t0
            fake = model.sample(args.eval_samples, rng=torch.Generator().manual_seed(args.seed))
            rows.append((name, fake, model, seconds))
        for name, points, model, seconds in rows:
            m = toy_metrics(points, real, dist)
            modes = f"{int(m[MODES_COVERED])} / {len(dist.centers)}" if MODES_COVERED in m else "n/a"
            good = f"{100 * m[HIGH_QUALITY]:.1f}%" if HIGH_QUALITY in m else "n/a"
            print(f"| {dataset} | {name} | {modes} | {good} | {m[W1]:.4f} | {seconds:.0f} |", flush=True)
            if args.plots and model is not None:
                from torchvision.io import write_png

                from lightning_gans.callbacks.toy_plot import plot_toy

                os.makedirs(args.plots, exist_ok=True)
                image = plot_toy(
                    real[:1000],
                    points[:1000],
                    model.critic,
                    title=f"{name} on {dataset}, {args.generator_steps} G steps",
                )
                write_png(
                    torch.from_numpy(image).permute(2, 0, 1).contiguous(),
                    os.path.join(args.plots, f"{dataset}_{name}.png"),
                )


if __name__ == "__main__":
    main()
