"""Seed sensitivity of the 8-Gaussians example: modes covered every 250 generator steps, per seed.

Trains the model of ``examples/wgangp_8gaussians.yaml`` (WGAN-GP, MLPs 3 x 128, Adam 5e-4 with betas
(0, 0.9), GeneratorEMA(0.99), batch 256) for each seed and prints, every 250 generator steps, the modes
covered and the high-quality fraction of 2,500 EMA samples (``lightning_gans.data.mode_coverage``).

    python benchmarks/toy_seeds.py --seeds 0 1 2 3 --generator-steps 3000
"""

from __future__ import annotations

import argparse
from functools import partial

import lightning as L
import torch

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.data import TOY_DISTRIBUTIONS, mode_coverage
from lightning_gans.nets import MLPCritic, MLPGenerator


class _Probe(L.Callback):
    def __init__(self, every: int) -> None:
        self.every, self.rows = every, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g = pl_module.generator_steps
        if g and g % self.every == 0 and (not self.rows or self.rows[-1][0] != g):
            toy = TOY_DISTRIBUTIONS["8gaussians"]
            samples = pl_module.sample(2500, rng=torch.Generator().manual_seed(1))
            self.rows.append((g, *mode_coverage(samples, toy.centers, toy.std)))


def run(seed: int, generator_steps: int, every: int) -> list[tuple[int, int, float]]:
    L.seed_everything(seed, verbose=False)
    adam = partial(torch.optim.Adam, lr=5e-4, betas=(0.0, 0.9))
    model = WGANGP(
        MLPGenerator(2, 2, 128), MLPCritic(2, 128), latent_dim=2, generator_optimizer=adam, critic_optimizer=adam
    )
    probe = _Probe(every)
    trainer = L.Trainer(
        max_steps=generator_steps * 6,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[GeneratorEMA(0.99), probe],
    )
    trainer.fit(model, ToyDataModule("8gaussians", batch_size=256, batches_per_epoch=1000))
    return probe.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--generator-steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=250)
    args = parser.parse_args()
    from _common import quiet  # the script's directory: on sys.path when run as a script

    quiet()
    for seed in args.seeds:
        rows = run(seed, args.generator_steps, args.every)
        cells = "  ".join(f"{g}:{m}/8 ({q:.0%})" for g, m, q in rows)
        print(f"seed {seed}: {cells}", flush=True)


if __name__ == "__main__":
    main()
