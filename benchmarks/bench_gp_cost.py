"""Gradient-penalty cost: time of one critic update with and without the WGAN-GP penalty.

A critic update is: generate a fake batch (no grad), score real and fake, Wasserstein critic
loss, optionally ``+ 10 * gradient_penalty`` (one more critic forward on the interpolates and a
double backward through it), backward, Adam step. Both variants run on the same nets and batches,
alternating in rounds; the ratio ``with GP / without GP`` of each round is reported (median).

    python benchmarks/bench_gp_cost.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from _common import adam, machine, make_setup

from lightning_gans.losses import wasserstein_critic_loss
from lightning_gans.penalties import gradient_penalty

STEPS = {"toy": 300, "dcgan": 60}


def time_critic_steps(setup, batches: list, with_gp: bool) -> float:
    generator, critic = setup.fresh()
    generator.requires_grad_(False)
    opt = adam(critic.parameters())
    rng = torch.Generator().manual_seed(0)

    def step(real: torch.Tensor) -> None:
        with torch.no_grad():
            fake = generator(torch.randn(real.shape[0], setup.latent_dim, generator=rng))
        loss = wasserstein_critic_loss(critic(real), critic(fake))
        if with_gp:
            loss = loss + setup.gp_weight * gradient_penalty(critic, real, fake, rng=rng)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for real in batches[:5]:  # warm-up
        step(real)
    t0 = time.perf_counter()
    for real in batches:
        step(real)
    return (time.perf_counter() - t0) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["toy", "dcgan"], choices=sorted(STEPS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# machine: {machine()}")
    print("| setup | critic step without GP (ms) | with GP (ms) | **ratio with/without** (median) | per-round ratios |")
    print("|---|---|---|---|---|")
    for name in args.setups:
        setup = make_setup(name)
        setup.datamodule.setup("fit")
        batches = []
        for batch in setup.datamodule.train_dataloader():
            batches.append(batch[0] if isinstance(batch, (list, tuple)) else batch)
            if len(batches) == STEPS[name]:
                break
        without, with_, ratios = [], [], []
        for r in range(args.rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            times = {gp: time_critic_steps(setup, batches, gp) for gp in order}
            without.append(times[False] * 1e3)
            with_.append(times[True] * 1e3)
            ratios.append(times[True] / times[False])
        print(
            f"| {name} | {statistics.median(without):.2f} | {statistics.median(with_):.2f} | "
            f"**{statistics.median(ratios):.2f}** | {', '.join(f'{x:.2f}' for x in ratios)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
