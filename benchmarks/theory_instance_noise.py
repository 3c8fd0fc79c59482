"""Instance noise, "add noise so the supports overlap", measured on disjoint supports.

Arjovsky & Bottou 2017 ("Towards Principled Methods for Training GANs", https://arxiv.org/abs/1701.04862):
when the real and generated distributions have disjoint supports, a perfect discriminator exists
(Thm. 2.1), and as the discriminator approaches it the gradient of the original min-max generator
loss ``E[log(1 - D(G(z)))]`` vanishes (Thm. 2.4, their Fig. 2). Adding the same noise
``N(0, sigma^2)`` to both distributions before the discriminator sees them makes the supports
overlap, so the optimal discriminator is smooth and the generator's gradient does not vanish
(Sec. 3; Sønderby et al. 2017, https://arxiv.org/abs/1610.04490).

The toy: real data are the 8 Gaussians (radius 1.41, std 0.014, :class:`~lightning_gans.ToyDataModule`);
a freshly initialised :class:`~lightning_gans.nets.MLPGenerator` puts all its samples within 0.5 of
the origin, so the two supports are disjoint. Two experiments, each with and without
:class:`~lightning_gans.callbacks.InstanceNoise`, on :class:`~lightning_gans.GAN` with
``loss="minimax"`` (the loss the theorem is about):

1. **Gradient at init** (their Fig. 2): the generator is frozen at its initialisation
   (``n_critic`` larger than the run, so only critic updates happen) and the discriminator trains;
   after every critic update we record ``||grad_theta E[log(1 - D(G(z)))]||`` on a fixed batch, with
   the discriminator's inputs noised exactly as in training.
2. **Training**: the full alternation for ``--train-steps`` generator updates; the exact W1 between
   2,000 generated and 2,000 real points (:func:`lightning_gans.evaluation.toy.wasserstein1_exact`)
   and the modes covered.

    python benchmarks/theory_instance_noise.py                     # figure + table, seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import lightning as L
import torch

from lightning_gans import GAN, ToyDataModule
from lightning_gans.callbacks import InstanceNoise
from lightning_gans.data import TOY_DISTRIBUTIONS, mode_coverage
from lightning_gans.evaluation.toy import wasserstein1_exact
from lightning_gans.nets import MLPCritic, MLPGenerator

DATASET = "8gaussians"
HIDDEN = 64


def _quiet_trainer(max_steps: int, callbacks: list) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )


def _model(seed: int, n_critic: int, lr: float) -> GAN:
    L.seed_everything(seed, verbose=False)
    adam = partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999))
    return GAN(
        MLPGenerator(2, 2, HIDDEN, 3),
        MLPCritic(2, HIDDEN, 3),
        latent_dim=2,
        loss="minimax",
        n_critic=n_critic,
        generator_optimizer=adam,
        critic_optimizer=adam,
        noise_seed=seed,
    )


def _callbacks(noise_std: float, anneal_steps: int) -> list:
    return [InstanceNoise(initial_std=noise_std, anneal_steps=anneal_steps)] if noise_std > 0 else []


class _GeneratorGradient(L.Callback):
    """After every batch: the norm of the min-max generator loss's gradient on a fixed batch of noise and data."""

    def __init__(self, seed: int, n: int = 1024) -> None:
        rng = torch.Generator().manual_seed(10_000 + seed)
        self.z = torch.randn(n, 2, generator=rng)
        self.real = TOY_DISTRIBUTIONS[DATASET].sample(n, rng)
        self.seed = seed
        self.norms: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        rng = torch.Generator().manual_seed(self.seed)  # the same instance noise each time: only D changes
        params = list(pl_module.generator.parameters())
        with torch.enable_grad():
            fake = pl_module.generate(self.z)
            _, fake = pl_module.critic_inputs(self.real, fake, rng)
            loss = pl_module.generator_loss(pl_module.discriminate(fake), None)
            grads = torch.autograd.grad(loss, params)
        self.norms.append(float(torch.sqrt(sum(g.pow(2).sum() for g in grads))))


def gradient_at_init(seed: int, critic_steps: int = 300, noise_std: float = 0.0, lr: float = 1e-3) -> list[float]:
    """Generator-gradient norms after each of ``critic_steps`` discriminator updates against the frozen initial generator."""
    model = _model(seed, n_critic=critic_steps + 1, lr=lr)  # no generator update within the run
    probe = _GeneratorGradient(seed)
    # sigma held constant: annealing counts generator updates, of which there are none here
    trainer = _quiet_trainer(critic_steps, [*_callbacks(noise_std, anneal_steps=10**9), probe])
    trainer.fit(model, ToyDataModule(DATASET, batch_size=256, batches_per_epoch=max(critic_steps, 1), seed=seed))
    assert model.generator_steps == 0 and model.critic_steps == critic_steps
    return probe.norms


def train(
    seed: int,
    generator_steps: int,
    noise_std: float,
    anneal_fraction: float = 0.5,
    n_critic: int = 5,
    lr: float = 1e-3,
    eval_samples: int = 2000,
) -> dict[str, float]:
    """Train the min-max GAN for ``generator_steps`` generator updates; W1 and modes of its samples."""
    model = _model(seed, n_critic=n_critic, lr=lr)
    anneal = max(1, int(anneal_fraction * generator_steps))
    trainer = _quiet_trainer(generator_steps * (n_critic + 1), _callbacks(noise_std, anneal))
    trainer.fit(model, ToyDataModule(DATASET, batch_size=256, batches_per_epoch=1000, seed=seed))
    assert model.generator_steps == generator_steps
    toy = TOY_DISTRIBUTIONS[DATASET]
    eval_rng = torch.Generator().manual_seed(20_000 + seed)
    real = toy.sample(eval_samples, eval_rng)
    fake = model.sample(eval_samples, noise=torch.randn(eval_samples, 2, generator=eval_rng))
    modes, good = mode_coverage(fake, toy.centers, toy.std)
    return {
        "w1": wasserstein1_exact(fake, real),
        "modes": float(modes),
        "high_quality": good,
        "distance_from_origin": float(fake.norm(dim=1).mean()),
        "samples": fake,
        "real": real,
    }


def plot(curves: dict[float, list[list[float]]], samples: dict[float, tuple], path: Path, train_steps: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(samples), figsize=(4.2 * (1 + len(samples)), 4))
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (std, runs), color in zip(curves.items(), colors):
        for k, norms in enumerate(runs):
            axes[0].plot(
                range(1, len(norms) + 1),
                norms,
                color=color,
                alpha=0.8,
                label=("no noise" if std == 0 else f"InstanceNoise $\\sigma$={std:g}") if k == 0 else None,
            )
    axes[0].set_yscale("log")
    axes[0].set_xlabel("discriminator updates (generator frozen at init)")
    axes[0].set_ylabel("||grad of E log(1 - D(G(z)))||")
    axes[0].set_title("Generator gradient at init")
    axes[0].legend(fontsize=8)
    for ax, (std, (fake, real, w1)) in zip(axes[1:], samples.items()):
        ax.scatter(real[:, 0], real[:, 1], s=2, color="tab:orange", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, color="tab:green", label="generated")
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_aspect("equal")
        name = "no noise" if std == 0 else f"InstanceNoise $\\sigma_0$={std:g}"
        ax.set_title(f"{name}: W1 {w1:.3f}\n({train_steps} G steps, seed 0)", fontsize=10)
    axes[1].legend(fontsize=8, loc="lower left")
    fig.suptitle("Min-max GAN on disjoint supports (Arjovsky & Bottou 2017, Thm. 2.4 and Sec. 3)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--noise-std", type=float, default=0.5)
    parser.add_argument("--critic-steps", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=500)
    parser.add_argument("--figure", type=Path, default=Path("docs/img/theory_instance_noise.png"))
    args = parser.parse_args()
    from _common import quiet  # the script's directory: on sys.path when run as a script

    quiet()
    print(f"# command: python benchmarks/theory_instance_noise.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# GAN (minimax loss), MLPs 3 x {HIDDEN}, Adam 1e-3 betas (0.5, 0.999), batch 256, n_critic 5 in training; "
        f"InstanceNoise(initial_std={args.noise_std:g}) constant in (1), annealed to 0 over the first half of training in (2)"
    )
    curves: dict[float, list[list[float]]] = {}
    print("\n(1) generator gradient norm against the frozen initial generator, after k discriminator updates")
    marks = [1, 10, 30, 100, args.critic_steps]
    print("| instance noise | seed | " + " | ".join(f"k={k}" for k in marks) + " |")
    print("|---|---|" + "---|" * len(marks))
    for std in (0.0, args.noise_std):
        curves[std] = []
        for seed in args.seeds:
            norms = gradient_at_init(seed, args.critic_steps, std)
            curves[std].append(norms)
            print(f"| {std:g} | {seed} | " + " | ".join(f"{norms[k - 1]:.2e}" for k in marks) + " |", flush=True)
    print(f"\n(2) after {args.train_steps} generator updates")
    print("| instance noise | seed | W1 | modes covered | high-quality | mean distance from origin (real: 1.41) |")
    print("|---|---|---|---|---|---|")
    samples = {}
    for std in (0.0, args.noise_std):
        for seed in args.seeds:
            r = train(seed, args.train_steps, std)
            if seed == args.seeds[0]:
                samples[std] = (r["samples"], r["real"], r["w1"])
            print(
                f"| {std:g} | {seed} | {r['w1']:.3f} | {int(r['modes'])}/8 | {r['high_quality']:.1%} | {r['distance_from_origin']:.3f} |",
                flush=True,
            )
    plot(curves, samples, args.figure, args.train_steps)
    print(f"# figure: {args.figure}")


if __name__ == "__main__":
    main()
