"""JS vs Earth-Mover on the WGAN paper's Example 1 (parallel lines), analytic and measured.

Arjovsky et al. 2017 ("Wasserstein GAN", https://arxiv.org/abs/1701.07875), Example 1: with
``Z ~ U[0, 1]``, ``P_0`` the distribution of ``(0, Z)`` and ``P_theta`` that of ``(theta, Z)``,

* ``W1(P_0, P_theta) = |theta|``, continuous in theta with slope 1 everywhere;
* ``JS(P_0, P_theta) = log 2`` for every ``theta != 0`` (and 0 at 0): the supports are disjoint, so
  JS jumps and gives a generator no gradient; ``KL = +inf``, ``TV = 1``.

Measured here, for a grid of theta:

* a WGAN-GP critic (:class:`~lightning_gans.nets.MLPCritic`, the library's
  :func:`~lightning_gans.losses.wasserstein_critic_loss` + lambda x
  :func:`~lightning_gans.penalties.gradient_penalty`, Gulrajani et al. 2017) trained to convergence;
  its estimate ``E[f(real)] - E[f(fake)]`` on fresh samples should track ``|theta|``. The penalty is
  soft: the best penalised critic is linear across the lines with slope ``g`` maximising
  ``g |theta| - lambda (g - 1)^2``, i.e. ``g = 1 + |theta| / (2 lambda)``, so the penalised optimum
  overshoots W1 slightly, to ``|theta| + theta^2 / (2 lambda)``; both curves are drawn.
* a GAN discriminator trained with :func:`~lightning_gans.losses.minimax_critic_loss`: by
  Goodfellow et al.'s Thm. 1, ``(log 4 - loss) / 2`` is a lower bound on ``JS`` that reaches it at the
  optimal discriminator; it climbs to ``log 2`` however small ``theta`` is.

    python benchmarks/theory_js_vs_em.py                # figure + table, 3 seeds
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from torch import Tensor

from lightning_gans.losses import minimax_critic_loss, wasserstein_critic_loss
from lightning_gans.nets import MLPCritic
from lightning_gans.penalties import gradient_penalty

LOG2 = math.log(2.0)


def parallel_lines(theta: float, n: int, rng: torch.Generator) -> Tensor:
    """``(n, 2)`` samples of ``P_theta``: the points ``(theta, Z)``, ``Z ~ U[0, 1]``."""
    z = torch.rand(n, generator=rng)
    return torch.stack([torch.full_like(z, theta), z], dim=1)


def wasserstein1(theta: float) -> float:
    """``W1(P_0, P_theta) = |theta|`` (Example 1)."""
    return abs(theta)


def js_divergence(theta: float) -> float:
    """``JS(P_0, P_theta)``: ``log 2`` for ``theta != 0``, else 0 (Example 1), in nats."""
    return LOG2 if theta != 0 else 0.0


def penalised_optimum(theta: float, gp_weight: float) -> float:
    """Best ``E[f(P_0)] - E[f(P_theta)]`` of a critic under ``gp_weight * E(||grad f|| - 1)^2``.

    A critic linear across the lines with slope ``g`` scores ``g |theta|`` at penalty ``gp_weight (g - 1)^2``;
    the maximiser is ``g = 1 + |theta| / (2 gp_weight)``.
    """
    g = 1.0 + abs(theta) / (2.0 * gp_weight)
    return g * abs(theta)


def _critic(seed: int, hidden_dim: int) -> MLPCritic:
    torch.manual_seed(seed)
    return MLPCritic(in_dim=2, hidden_dim=hidden_dim, num_layers=2)


def wgangp_estimate(
    theta: float,
    seed: int = 0,
    steps: int = 400,
    gp_weight: float = 10.0,
    batch_size: int = 256,
    hidden_dim: int = 64,
    lr: float = 1e-3,
    eval_samples: int = 8192,
) -> float:
    """Train a WGAN-GP critic between ``P_0`` (real) and ``P_theta`` (fake); its W1 estimate on fresh samples."""
    rng = torch.Generator().manual_seed(seed)
    critic = _critic(seed, hidden_dim)
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    for _ in range(steps):
        real, fake = parallel_lines(0.0, batch_size, rng), parallel_lines(theta, batch_size, rng)
        loss = wasserstein_critic_loss(critic(real), critic(fake)) + gp_weight * gradient_penalty(
            critic, real, fake
        )  # interpolation from the seeded global RNG
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        real, fake = parallel_lines(0.0, eval_samples, rng), parallel_lines(theta, eval_samples, rng)
        return float(critic(real).mean() - critic(fake).mean())


def js_lower_bound(
    theta: float,
    seed: int = 0,
    steps: int = 400,
    batch_size: int = 256,
    hidden_dim: int = 64,
    lr: float = 1e-3,
    eval_samples: int = 8192,
) -> float:
    """Train a GAN discriminator between ``P_0`` and ``P_theta``; ``(log 4 - loss) / 2`` on fresh samples (<= JS)."""
    rng = torch.Generator().manual_seed(seed)
    critic = _critic(seed, hidden_dim)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    for _ in range(steps):
        real, fake = parallel_lines(0.0, batch_size, rng), parallel_lines(theta, batch_size, rng)
        loss = minimax_critic_loss(critic(real), critic(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        real, fake = parallel_lines(0.0, eval_samples, rng), parallel_lines(theta, eval_samples, rng)
        return float((math.log(4.0) - minimax_critic_loss(critic(real), critic(fake))) / 2)


def plot(
    thetas: list[float], w_est: list[list[float]], js_est: list[list[float]], gp_weight: float, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fine = torch.linspace(-1, 1, 401).tolist()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(fine, [wasserstein1(t) for t in fine], color="black", lw=2, label="$W_1 = |\\theta|$ (analytic)")
    left.plot(
        fine,
        [penalised_optimum(t, gp_weight) for t in fine],
        color="0.5",
        ls=":",
        label=f"penalised optimum, $\\lambda$={gp_weight:g}",
    )
    for k, row in enumerate(zip(*w_est)):
        left.scatter(
            thetas,
            row,
            s=18,
            color="tab:blue",
            label="WGAN-GP critic estimate (per seed)" if k == 0 else None,
            zorder=3,
        )
    left.set_xlabel("$\\theta$")
    left.set_title("Earth-Mover: continuous, slope 1")
    left.legend(fontsize=8)
    for side in (-1, 1):  # log 2 on each side of 0, open at 0 where JS drops to 0
        half = [t for t in fine if side * t > 0]
        right.plot(
            half, [js_divergence(t) for t in half], color="black", lw=2, label="JS (analytic)" if side > 0 else None
        )
    right.scatter([0.0], [LOG2], s=40, facecolors="white", edgecolors="black", zorder=5)
    right.scatter([0.0], [0.0], s=40, color="black", zorder=5)
    for k, row in enumerate(zip(*js_est)):
        right.scatter(
            thetas, row, s=14, color="tab:red", label="GAN discriminator bound (per seed)" if k == 0 else None, zorder=6
        )
    right.set_ylim(-0.05, 0.8)
    right.set_xlim(-1.05, 1.05)
    right.set_xlabel("$\\theta$")
    right.set_title("Jensen-Shannon: jumps to log 2, flat")
    right.legend(fontsize=8, loc="center right")
    fig.suptitle("WGAN paper, Example 1: $P_0=(0,Z)$ vs $P_\\theta=(\\theta,Z)$, $Z\\sim U[0,1]$")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--thetas", type=float, nargs="+", default=[-1.0, -0.75, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 0.75, 1.0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--gp-weight", type=float, default=10.0)
    parser.add_argument("--figure", type=Path, default=Path("docs/img/theory_js_vs_em.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# command: python benchmarks/theory_js_vs_em.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# {args.steps} critic steps per estimate, batch 256, MLPCritic 2 x 64, lambda {args.gp_weight:g}; seeds {args.seeds}"
    )
    print(
        "| theta | W1 = abs(theta) | penalised optimum | WGAN-GP estimate (mean, min..max) | JS | GAN bound on JS (mean, min..max) |"
    )
    print("|---|---|---|---|---|---|")
    w_est, js_est = [], []
    for theta in args.thetas:
        w = [wgangp_estimate(theta, seed, args.steps, args.gp_weight) for seed in args.seeds]
        j = [js_lower_bound(theta, seed, args.steps) for seed in args.seeds]
        w_est.append(w)
        js_est.append(j)
        print(
            f"| {theta:+.2f} | {wasserstein1(theta):.3f} | {penalised_optimum(theta, args.gp_weight):.3f} | "
            f"{sum(w) / len(w):.3f} ({min(w):.3f}..{max(w):.3f}) | {js_divergence(theta):.3f} | "
            f"{sum(j) / len(j):.3f} ({min(j):.3f}..{max(j):.3f}) |",
            flush=True,
        )
    plot(args.thetas, w_est, js_est, args.gp_weight, args.figure)
    print(f"# figure: {args.figure}")


if __name__ == "__main__":
    main()
