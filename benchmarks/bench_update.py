"""The cheaper update, measured: our WGAN-GP module's options against the plain PyTorch loop, side by side.

Every variant runs the same algorithm on the same nets, data and optimizer settings as the plain loop
of ``_common.py`` (Adam 1e-4, betas (0, 0.9); the plain loop uses torch's default Adam, as a user's
loop would). Rounds rotate the order; a round's ratio is ``plain CPU seconds / variant CPU seconds``
for the same number of updates (> 1: faster than the plain loop), with one torch thread; the median
over rounds is reported with every round's ratio.

- ``Lightning's full path``: one batch, one update, every step through ``manual_backward`` and
  ``LightningOptimizer.step`` (``fast_optimizer_steps = False``), the plain loop's Adam;
- ``one update a batch``: the defaults (one batch, one update; on one fp32 device the raw optimizers step,
  ``fast_optimizer_steps``), the plain loop's Adam;
- ``+ fused Adam``: the papers' Adam of the class defaults (torch's fused kernel);
- ``+ cycle per batch``: ``updates_per_batch="cycle"``, batches of ``(n_critic + 1) x`` the size;
- ``+ fused critic forward``: ``fuse_critic_forwards = True`` (critics without buffers).

    python benchmarks/bench_update.py                    # toy and dcgan, 3 rounds
    python benchmarks/bench_update.py --setups toy --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, make_setup, quiet, run_lightning, run_plain

from lightning_gans import WGANGP, DigitsDataModule, ToyDataModule
from lightning_gans.modules.base import adam as papers_adam

STEPS = {"toy": (60, 600), "dcgan": (12, 120)}  # (warm-up updates, timed updates): multiples of n_critic + 1


class _FullPath(WGANGP):
    fast_optimizer_steps = False


class _FusedCritic(WGANGP):
    fuse_critic_forwards = True


def _cycle_data(name: str, k: int):
    """The setup's data in batches of ``k`` updates."""
    return ToyDataModule("8gaussians", 256 * k, 2000, 0) if name == "toy" else DigitsDataModule(64 * k, image_size=16)


def variants(name: str, k: int) -> dict:
    fused = {"generator_optimizer": papers_adam(1e-4, (0.0, 0.9)), "critic_optimizer": papers_adam(1e-4, (0.0, 0.9))}
    return {
        "Lightning's full path": {"cls": _FullPath},
        "one update a batch": {},
        "+ fused Adam": fused,
        "+ cycle per batch": {**fused, "updates_per_batch": "cycle", "datamodule": _cycle_data(name, k)},
        "+ fused critic forward": {
            **fused, "updates_per_batch": "cycle", "datamodule": _cycle_data(name, k), "cls": _FusedCritic,
        },
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["toy", "dcgan"], choices=sorted(STEPS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the timed updates (0.1 for a smoke run)")
    args = parser.parse_args()
    quiet(1)
    print(f"# machine: {machine()}")
    print("| setup | variant | ratio to the plain loop, CPU time (median) | per-round ratios | updates timed |")
    print("|---|---|---|---|---|")
    for name in args.setups:
        setup = make_setup(name)
        k = setup.n_critic + 1
        warmup, steps = STEPS[name]
        steps = max(k, int(steps * args.scale) // k * k)
        runs = {"plain loop": None, **variants(name, k)}
        ratios: dict[str, list[float]] = {v: [] for v in runs if v != "plain loop"}
        for r in range(args.rounds):
            order = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
            cpu = {}
            for v in order:
                kwargs = runs[v]
                cpu[v] = (
                    run_plain(setup, warmup, steps)[1]
                    if kwargs is None
                    else run_lightning(setup, warmup, steps, **kwargs)[1]
                )
            for v in ratios:
                ratios[v].append(cpu["plain loop"] / cpu[v])
        for v, rs in ratios.items():
            per_round = ", ".join(f"{x:.3f}" for x in rs)
            print(f"| {name} | {v} | **{statistics.median(rs):.3f}** | {per_round} | {steps} |", flush=True)


if __name__ == "__main__":
    main()
