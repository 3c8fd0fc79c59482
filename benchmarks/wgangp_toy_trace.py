"""Trace of a WGAN-GP critic during training on the 8-Gaussians toy: is the critic doing its job?

Trains ``WGANGP`` with the settings of ``results_toy.py`` (the paper's defaults: lambda 10, Adam 1e-4,
betas (0, 0.9), n_critic 5; MLPs 3 x ``--hidden-dim``, latent 2, batch 256, seed 0) and, every
``--every`` generator steps, evaluates the critic on one fixed batch (``--eval-samples`` real points
and as many generated from fixed noise, drawn once):

* ``E[D(real)] - E[D(fake)]``: the critic's estimate of the Wasserstein-1 distance (up to the
  Lipschitz constant it achieves); positive means the critic separates real from generated;
* the gradient penalty ``E[(||grad D(xhat)|| - 1)^2]`` at interpolates of that batch (fixed seed).

The evaluation touches neither the training RNG streams nor the weights.

    python benchmarks/wgangp_toy_trace.py                       # generator steps 50, 100, ..., 300
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.penalties import gradient_penalty


class CriticTrace(L.Callback):
    """Every ``every`` generator steps: the critic's W1 estimate and gradient penalty on one fixed batch."""

    def __init__(self, every: int, real: torch.Tensor, noise: torch.Tensor) -> None:
        self.every, self.real, self.noise = every, real, noise
        self.rows: list[tuple[int, float, float]] = []
        self._last = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = pl_module.generator_steps
        if step == self._last or step % self.every:
            return
        self._last = step
        critic = pl_module.critic
        fake = pl_module.sample(len(self.noise), noise=self.noise)
        with torch.no_grad():
            estimate = critic(self.real).flatten().mean() - critic(fake).flatten().mean()
        with torch.random.fork_rng():  # the interpolation weights come from a fixed seed, not the training streams
            torch.manual_seed(0)
            gp = gradient_penalty(lambda x: critic(x).flatten(), self.real, fake)
        critic.zero_grad(set_to_none=True)
        self.rows.append((step, float(estimate), float(gp)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--eval-samples", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet(args.threads)

    print(f"# command: {('python benchmarks/wgangp_toy_trace.py ' + shlex.join(sys.argv[1:])).strip()}")
    print(
        f"# WGAN-GP (lambda 10, Adam 1e-4 (0, 0.9), n_critic 5), 8 Gaussians, MLP {args.hidden_dim} x 3, batch 256, "
        f"seed {args.seed}; fixed evaluation batch of {args.eval_samples} real + {args.eval_samples} generated"
    )
    print(f"# machine: {machine()}")
    eval_rng = torch.Generator().manual_seed(10_000 + args.seed)
    real = TOY_DISTRIBUTIONS["8gaussians"].sample(args.eval_samples, eval_rng)
    noise = torch.randn(args.eval_samples, 2, generator=eval_rng)
    trace = CriticTrace(args.every, real, noise)
    L.seed_everything(args.seed, verbose=False)
    model = WGANGP(
        MLPGenerator(2, 2, args.hidden_dim, 3), MLPCritic(2, args.hidden_dim, 3), latent_dim=2, noise_seed=args.seed
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=args.generator_steps * (model.n_critic + 1),
        logger=False,
        callbacks=[trace],
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(model, ToyDataModule("8gaussians", batch_size=256, batches_per_epoch=1000, seed=args.seed))
    print("| generator step | E[D(real)] - E[D(fake)] | gradient penalty |")
    print("|---|---|---|")
    for step, estimate, gp in trace.rows:
        print(f"| {step} | {estimate:.3f} | {gp:.4f} |")


if __name__ == "__main__":
    main()
