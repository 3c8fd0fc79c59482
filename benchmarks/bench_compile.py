"""CPU speed-up of ``compile=True`` (torch.compile, inductor) for DCGAN and ResNet nets, side by side.

For each setup and round, two fresh modules from the same initial weights train on the digits at
32x32 (batch 32): one eager, one with ``compile=True``. Each runs ``--warmup-cycles`` cycles of ``n_critic + 1`` batches (which
include compilation: the critic update, and the generator update with the critic frozen, are
different graphs) and then ``--cycles`` timed cycles; the speed-up is eager CPU time / compiled CPU
time over the timed batches (one torch thread, so CPU time is the work done even on a shared
machine), median over ``--rounds``. The warm-up's wall time is reported as the compile cost.

Setups (generator / critic, latent 64, 1 channel):
- ``dcgan``: ``DCGANGenerator`` / ``DCGANCritic(norm="layer")``, base 32;
- ``resnet``: ``ResNetGenerator`` / ``ResNetCritic`` (SNGAN layout), base 32.
Modules: ``GAN`` (non-saturating, every forward compiled) and ``WGANGP`` (its gradient penalty runs
the eager critic: the speed-up is then only that of the loss forwards).

    python benchmarks/bench_compile.py --rounds 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from _common import BatchWindow, machine, quiet, quiet_trainer

from lightning_gans import GAN, WGANGP, DigitsDataModule
from lightning_gans.nets import DCGANCritic, DCGANGenerator, ResNetCritic, ResNetGenerator

LATENT = 64
MODULES = {"GAN": GAN, "WGANGP": WGANGP}


def nets(setup: str, seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    if setup == "dcgan":
        return DCGANGenerator(LATENT, 32, 1, 32), DCGANCritic(32, 1, 32, norm="layer")
    return ResNetGenerator(LATENT, 32, 1, base_channels=32), ResNetCritic(32, 1, base_channels=32)


def run(setup: str, module: str, compile: bool, warmup_cycles: int, cycles: int) -> tuple[float, float, int]:
    """(CPU seconds of the timed batches, wall seconds of the warm-up, timed batches) for one fresh fit.

    Warm-up and timing are whole cycles of ``n_critic`` critic updates and one generator update,
    so every graph is compiled before the clock starts and both updates are timed in proportion."""
    torch._dynamo.reset()
    model = MODULES[module](*nets(setup, 0), latent_dim=LATENT, noise_seed=0, compile=compile)
    warmup, steps = warmup_cycles * (model.n_critic + 1), cycles * (model.n_critic + 1)
    start = time.perf_counter()
    marks: dict[str, float] = {}
    window = BatchWindow(warmup, at_start=lambda: marks.setdefault("warm", time.perf_counter()))
    quiet_trainer(warmup + steps, [window]).fit(model, DigitsDataModule(batch_size=32, image_size=32))
    return window.seconds[1], marks["warm"] - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["dcgan", "resnet"], choices=["dcgan", "resnet"])
    parser.add_argument("--modules", nargs="+", default=["GAN"], choices=list(MODULES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-cycles", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=15)
    args = parser.parse_args()
    quiet()
    logging.getLogger("torch._inductor").setLevel(logging.ERROR)

    print(f"# command: python benchmarks/bench_compile.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# {args.cycles} timed cycles (n_critic + 1 batches each) after {args.warmup_cycles} warm-up cycles, batch 32, digits 32x32, CPU time, "
        f"median of {args.rounds} rounds; machine: {machine()}"
    )
    print(
        "| nets | module | eager ms/batch | compiled ms/batch | speed-up (median) | per round | warm-up wall s (eager / compiled) |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    for setup in args.setups:
        for module in args.modules:
            eager, compiled, ratios, warm_e, warm_c = [], [], [], [], []
            for _ in range(args.rounds):
                e, we, steps = run(setup, module, False, args.warmup_cycles, args.cycles)
                c, wc, _ = run(setup, module, True, args.warmup_cycles, args.cycles)
                eager.append(e / steps * 1000)
                compiled.append(c / steps * 1000)
                ratios.append(e / c)
                warm_e.append(we)
                warm_c.append(wc)
            print(
                f"| {setup} | {module} | {statistics.median(eager):.1f} | {statistics.median(compiled):.1f} | "
                f"**{statistics.median(ratios):.2f}x** | {', '.join(f'{r:.2f}' for r in ratios)} | "
                f"{statistics.median(warm_e):.0f} / {statistics.median(warm_c):.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
