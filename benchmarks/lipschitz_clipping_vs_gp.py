"""Weight clipping vs gradient penalty, seen through LipschitzMonitor (WGAN-GP paper, Figure 1).

Trains WGAN with weight clipping (c = 0.1, 0.01, 0.001) and WGAN-GP (lambda = 10) on the
8-Gaussians toy with a deep ReLU MLP critic (12 hidden layers of 64 units, no normalisation),
measures each critic with :class:`~lightning_gans.callbacks.LipschitzMonitor` at the end, prints the
numbers, writes a figure, and measures the monitor's own cost:

    python benchmarks/lipschitz_clipping_vs_gp.py            # ~2-3 minutes on 2 CPU cores

"Per-layer gradient norm" is ``||dL/dh_{l-1}||``, the gradient of the critic loss
``E[f(G(z))] - E[f(x)]`` with respect to the input of linear layer ``l`` (layer 1 takes the data),
on 256 real and 256 generated samples: the back-propagated signal that the paper's Figure 1a shows
exploding or vanishing across depth under clipping. The gradients with respect to the layers'
weights are printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything

from lightning_gans import WGAN, WGANGP, ToyDataModule
from lightning_gans.callbacks import LipschitzMonitor
from lightning_gans.nets import MLPCritic, MLPGenerator

DEPTH, WIDTH = 12, 64  # critic: 12 hidden ReLU layers of 64 units -> 13 linear layers
CLIPS = (0.1, 0.01, 0.001)


def _trainer(max_steps: int, callbacks: list) -> Trainer:
    return Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )


def _model(clip: float | None, critic: torch.nn.Module | None = None) -> torch.nn.Module:
    generator = MLPGenerator(latent_dim=2, hidden_dim=128, num_layers=3)
    critic = critic if critic is not None else MLPCritic(hidden_dim=WIDTH, num_layers=DEPTH)
    if clip is None:
        return WGANGP(generator, critic, latent_dim=2, noise_seed=0)  # lambda 10, n_critic 5, Adam 1e-4 (0, 0.9)
    return WGAN(generator, critic, latent_dim=2, clip_value=clip, noise_seed=0)  # n_critic 5, RMSProp 5e-5


def run(clip: float | None, generator_steps: int) -> dict:
    """Train one model and return the monitor's final measurement plus the clipping pile-up."""
    seed_everything(0, verbose=False)
    model = _model(clip)
    max_steps = generator_steps * (model.n_critic + 1)
    monitor = LipschitzMonitor(every_n_steps=max_steps, num_samples=256)
    start = time.perf_counter()
    _trainer(max_steps, [monitor]).fit(model, ToyDataModule("8gaussians", batch_size=256, batches_per_epoch=500))
    stats = dict(monitor.last)
    stats["seconds"] = time.perf_counter() - start
    weights = stats["samples/weights"]
    bound = clip if clip is not None else float(weights.abs().max())
    stats["pile_up"] = float((weights.abs() >= 0.99 * bound).float().mean())  # fraction at +-c (GP: at +-max|w|)
    return stats


def _layers(stats: dict, kind: str) -> list[float]:
    prefix = f"{kind}/"
    return [float(v) for k, v in stats.items() if k.startswith(prefix)]


def monitor_cost(repeats: int = 20) -> list[tuple[str, float, float]]:
    """Milliseconds per training step and per measurement, for the deep critic and the paper's 3x512 one."""
    rows = []
    for name, critic in (("deep 12x64", MLPCritic(hidden_dim=WIDTH, num_layers=DEPTH)), ("3x512", MLPCritic())):
        seed_everything(0, verbose=False)
        model = _model(None, critic)
        steps = 300
        start = time.perf_counter()
        _trainer(steps, []).fit(model, ToyDataModule("8gaussians", batch_size=256, batches_per_epoch=500))
        step_ms = 1000 * (time.perf_counter() - start) / steps
        monitor = LipschitzMonitor()
        real = ToyDataModule("8gaussians").distribution.sample(256, torch.Generator().manual_seed(0))
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            monitor.measure(model, real, step=i)
            times.append(1000 * (time.perf_counter() - start))
        rows.append((name, step_ms, statistics.median(times)))
    return rows


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    ax = axes[0]
    for label, stats in results.items():
        norms = _layers(stats, "layer_input_grad_norm")
        ax.semilogy(range(1, len(norms) + 1), norms, marker="o", label=label)
    ax.set(
        xlabel="critic layer (1 = input)",
        ylabel="||dL / d input of layer|| (log)",
        title="(a) gradient norms across depth",
    )
    ax.legend()
    for ax, label, title in (
        (axes[1], "clip c=0.01", "(b) weights, weight clipping c=0.01"),
        (axes[2], "GP", "(c) weights, gradient penalty"),
    ):
        ax.hist(results[label]["samples/weights"].numpy(), bins=60, color="C1" if label == "GP" else "C0")
        ax.set(xlabel="critic parameter value", ylabel="count", title=title)
    ax = axes[3]
    bins = np.logspace(-19, 3, 89)
    for i, label in enumerate(results):
        norms = results[label]["samples/grad_norm/interpolated"].numpy()
        if (norms > 0).any():  # c=0.001 underflows to exactly 0 in float32 and has no place on a log axis
            ax.hist(norms[norms > 0], bins=bins, alpha=0.6, label=label, color=f"C{i}")
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set(xlabel="||grad_x f(x_hat)|| on interpolates (log)", ylabel="count", title="(d) input-gradient norms")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-steps", type=int, default=300, help="generator updates per run (x6 batches)")
    parser.add_argument("--out", type=Path, default=Path("docs/img/lipschitz_clipping_vs_gp.png"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (small nets run fastest on one)")
    parser.add_argument("--skip-cost", action="store_true", help="do not measure the monitor's cost")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results = {}
    for clip in CLIPS:
        results[f"clip c={clip}"] = run(clip, args.generator_steps)
    results["GP"] = run(None, args.generator_steps)

    print(
        f"\nCritic: {DEPTH} hidden ReLU layers x {WIDTH}; {args.generator_steps} generator updates, n_critic=5, 8 Gaussians."
    )
    print(
        f"{'run':<14}{'pile-up':>9}{'|grad f| real':>15}{'fake':>8}{'interp mean':>13}{'max':>8}{'empirical':>11}{'prod ||W||2':>13}{'secs':>7}"
    )
    for label, s in results.items():
        print(
            f"{label:<14}{s['pile_up']:>9.3f}{float(s['grad_norm/real/mean']):>15.3g}{float(s['grad_norm/fake/mean']):>8.3g}"
            f"{float(s['grad_norm/interpolated/mean']):>13.3g}{float(s['grad_norm/interpolated/max']):>8.3g}"
            f"{float(s['empirical']):>11.3g}{float(s['spectral_norm_product']):>13.3g}{s['seconds']:>7.1f}"
        )
    for kind, title in (("layer_input_grad_norm", "||dL/d input of layer l||"), ("layer_grad_norm", "||dL/dW_l||_F")):
        print(f"\nPer-layer {title}, l = 1 (input) ... {DEPTH + 1} (output):")
        for label, s in results.items():
            print(f"{label:<14}" + " ".join(f"{v:8.1e}" for v in _layers(s, kind)))
    figure(results, args.out)
    print(f"\nFigure written to {args.out}")

    if not args.skip_cost:
        print("\nLipschitzMonitor cost (WGAN-GP, 256 samples, median of 20 measurements):")
        for name, step_ms, measure_ms in monitor_cost():
            print(
                f"  critic {name:<11} training step {step_ms:6.1f} ms, one measurement {measure_ms:6.1f} ms "
                f"= {measure_ms / step_ms:4.1f} steps -> +{100 * measure_ms / (100 * step_ms):4.1f}% at every_n_steps=100"
            )


if __name__ == "__main__":
    main()
