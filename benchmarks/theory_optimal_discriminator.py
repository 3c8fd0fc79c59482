"""The optimal discriminator, D*(x) = p_data(x) / (p_data(x) + p_g(x)), made visible in 1-D.

Goodfellow et al. 2014 ("Generative Adversarial Nets", https://arxiv.org/abs/1406.2661), Prop. 1:
for a fixed generator the discriminator that maximises

    V(D, G) = E_{x ~ p_data}[log D(x)] + E_{x ~ p_g}[log(1 - D(x))]

is ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, pointwise; and (Thm. 1) at ``D*`` the value is
``V(D*, G) = -log 4 + 2 JS(p_data || p_g)``.

Here ``p_data`` is a two-component Gaussian mixture on the line and the generator is frozen (an
affine map of standard normal noise, so ``p_g`` is a known Gaussian). An :class:`~lightning_gans.nets.MLPCritic`
is trained on fresh samples of both with the library's discriminator loss
(:func:`lightning_gans.losses.minimax_critic_loss`, i.e. ``-V``), and its ``sigmoid`` is compared with
``D*`` computed from the two densities, on the interval where the densities are not negligible
(elsewhere no sample ever constrains the discriminator). ``V`` of the trained discriminator is
computed by quadrature, as is ``JS``: the trained ``V`` can only be below ``V(D*, G)``, and the gap
measures how far from optimal the discriminator is.

    python benchmarks/theory_optimal_discriminator.py                  # figure + numbers, 3 seeds
    python benchmarks/theory_optimal_discriminator.py --steps 500 --seeds 0
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lightning_gans.losses import minimax_critic_loss
from lightning_gans.nets import MLPCritic

# p_data = 0.6 N(-1.5, 0.4^2) + 0.4 N(1.0, 0.3^2); the frozen generator maps z ~ N(0, 1) to 0.5 + 1.2 z.
DATA_WEIGHTS = (0.6, 0.4)
DATA_MEANS = (-1.5, 1.0)
DATA_STDS = (0.4, 0.3)
GENERATOR_SHIFT, GENERATOR_SCALE = 0.5, 1.2
SUPPORT_DENSITY = 0.02
"""D is compared with D* where ``p_data + p_g`` exceeds this density (the densities' bulk)."""


def _normal_pdf(x: Tensor, mean: float, std: float) -> Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def p_data(x: Tensor) -> Tensor:
    """Density of the data, a two-component Gaussian mixture."""
    return sum(w * _normal_pdf(x, m, s) for w, m, s in zip(DATA_WEIGHTS, DATA_MEANS, DATA_STDS))


def p_g(x: Tensor) -> Tensor:
    """Density of the frozen generator's samples, ``N(GENERATOR_SHIFT, GENERATOR_SCALE^2)``."""
    return _normal_pdf(x, GENERATOR_SHIFT, GENERATOR_SCALE)


def optimal_discriminator(x: Tensor) -> Tensor:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (Goodfellow et al. 2014, Prop. 1)."""
    return p_data(x) / (p_data(x) + p_g(x))


def sample_data(n: int, rng: torch.Generator) -> Tensor:
    """``(n, 1)`` samples of ``p_data``."""
    component = (torch.rand(n, generator=rng) >= DATA_WEIGHTS[0]).long()
    means, stds = torch.tensor(DATA_MEANS)[component], torch.tensor(DATA_STDS)[component]
    return (means + stds * torch.randn(n, generator=rng)).unsqueeze(1)


def frozen_generator(z: Tensor) -> Tensor:
    """The frozen generator: an affine map of the noise (no trainable parameters)."""
    return GENERATOR_SHIFT + GENERATOR_SCALE * z


def grid(n: int = 2001, lo: float = -5.0, hi: float = 5.0) -> Tensor:
    """``(n,)`` evenly spaced points covering both densities (used for quadrature and plots)."""
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def value(discriminator_prob: Tensor, x: Tensor) -> float:
    """``V(D, G) = int p_data log D + p_g log(1 - D) dx`` by the trapezoidal rule on ``x``."""
    d = discriminator_prob.double().clamp(1e-12, 1 - 1e-12)
    integrand = p_data(x) * torch.log(d) + p_g(x) * torch.log1p(-d)
    return float(torch.trapezoid(integrand, x))


def js_divergence(x: Tensor) -> float:
    """``JS(p_data || p_g)`` in nats, by quadrature on ``x``."""
    m = 0.5 * (p_data(x) + p_g(x))

    def kl(p: Tensor) -> Tensor:
        return torch.where(p > 0, p * torch.log(p / m), torch.zeros_like(p))

    return float(0.5 * torch.trapezoid(kl(p_data(x)) + kl(p_g(x)), x))


@dataclass
class Result:
    """What one trained discriminator shows."""

    seed: int
    max_error: float  # max |sigmoid(D) - D*| where p_data + p_g > SUPPORT_DENSITY
    mean_error: float  # mean of the same
    value_trained: float  # V(D, G) of the trained discriminator
    value_optimal: float  # V(D*, G) by quadrature
    value_theorem: float  # -log 4 + 2 JS(p_data || p_g)
    critic: MLPCritic


def train_discriminator(
    seed: int = 0, steps: int = 1500, batch_size: int = 512, hidden_dim: int = 64, lr: float = 2e-3
) -> MLPCritic:
    """Train an ``MLPCritic(in_dim=1)`` against the frozen generator with ``minimax_critic_loss`` (= ``-V``).

    Adam with the learning rate decayed linearly to 0 over the run, so the last iterates settle near
    the optimum instead of jittering around it; fresh samples every step.
    """
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    critic = MLPCritic(in_dim=1, hidden_dim=hidden_dim, num_layers=2)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / steps)
    for _ in range(steps):
        real = sample_data(batch_size, rng)
        fake = frozen_generator(torch.randn(batch_size, 1, generator=rng))
        loss = minimax_critic_loss(critic(real), critic(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    return critic


@torch.no_grad()
def evaluate(critic: MLPCritic, seed: int = 0) -> Result:
    """Compare ``sigmoid(critic)`` with ``D*`` on the densities' bulk and compute the values."""
    x = grid()
    trained = torch.sigmoid(critic(x.float().unsqueeze(1))).double()
    optimal = optimal_discriminator(x)
    bulk = (p_data(x) + p_g(x)) > SUPPORT_DENSITY
    error = (trained - optimal).abs()[bulk]
    return Result(
        seed=seed,
        max_error=float(error.max()),
        mean_error=float(error.mean()),
        value_trained=value(trained, x),
        value_optimal=value(optimal, x),
        value_theorem=-math.log(4) + 2 * js_divergence(x),
        critic=critic,
    )


def plot(results: list[Result], path: Path) -> None:
    """Densities on top; D* and the trained discriminators' sigmoid below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = grid()
    bulk = ((p_data(x) + p_g(x)) > SUPPORT_DENSITY).numpy()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    top.plot(x, p_data(x), label="$p_{data}$ (mixture)", color="tab:orange")
    top.plot(x, p_g(x), label="$p_g$ (frozen generator)", color="tab:green")
    top.set_ylabel("density")
    top.legend(loc="upper right")
    bottom.plot(x, optimal_discriminator(x), color="black", lw=2.5, label="$D^*=p_{data}/(p_{data}+p_g)$")
    for r in results:
        with torch.no_grad():
            d = torch.sigmoid(r.critic(x.float().unsqueeze(1)))
        bottom.plot(x, d, lw=1.2, ls="--", label=f"trained $\\sigma(D)$, seed {r.seed} (max err {r.max_error:.3f})")
    for ax in (top, bottom):
        ax.fill_between(x, 0, 1, where=~bulk, color="0.92", transform=ax.get_xaxis_transform(), zorder=0)
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_xlabel(f"x  (grey: $p_{{data}}+p_g$ < {SUPPORT_DENSITY:.2f}, not compared)")
    bottom.set_ylabel("D(x)")
    bottom.legend(loc="upper right", fontsize=8)
    fig.suptitle("Optimal discriminator (Goodfellow et al. 2014, Prop. 1), frozen generator")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--figure", type=Path, default=Path("docs/img/theory_optimal_discriminator.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# command: python benchmarks/theory_optimal_discriminator.py {' '.join(sys.argv[1:])}".rstrip())
    print("| seed | max abs(sigmoid(D) - D*) | mean abs | V(D, G) trained | V(D*, G) | -log 4 + 2 JS |")
    print("|---|---|---|---|---|---|")
    results = []
    for seed in args.seeds:
        r = evaluate(train_discriminator(seed, args.steps), seed)
        results.append(r)
        print(
            f"| {seed} | {r.max_error:.4f} | {r.mean_error:.4f} | {r.value_trained:.5f} | {r.value_optimal:.5f} | {r.value_theorem:.5f} |",
            flush=True,
        )
    plot(results, args.figure)
    print(f"# figure: {args.figure}")


if __name__ == "__main__":
    main()
