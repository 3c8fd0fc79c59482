"""Training throughput: WGANGP in a Lightning Trainer vs a plain PyTorch loop, side by side.

Both run the same algorithm on the same nets, data loader and optimizers (see ``_common.py``).
Each round runs both (and a diagnostic Lightning run with ``self.log`` disabled), alternating which
goes first; the ratio of a round is ``plain seconds / Lightning seconds`` for the same number of
updates (1.0 = no overhead), and the median over rounds is reported. The primary ratio uses the
process's CPU time with one torch thread, which other processes on a shared machine do not
inflate; the wall-time ratio is printed too. Absolute numbers on a shared machine are noisy.

    python benchmarks/bench_throughput.py                 # both setups, 5 rounds
    python benchmarks/bench_throughput.py --setups toy --rounds 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from _common import machine, make_setup, run_lightning, run_plain

STEPS = {"toy": (60, 600), "dcgan": (12, 120)}  # (warm-up updates, timed updates)
TARGET = {"toy": 0.90, "dcgan": 0.97}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["toy", "dcgan"], choices=sorted(STEPS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1 avoids OpenMP stalls on a shared CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    print(f"# machine: {machine()}")
    print(
        "| setup | updates timed | plain loop (updates per CPU-s) | Lightning (updates per CPU-s) "
        "| **ratio Lightning/plain, CPU time** (median) | per-round ratios (CPU) | ratio, wall time (median) "
        "| diagnostic: CPU ratio with `self.log` disabled | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.setups:
        setup = make_setup(name)
        warmup, steps = STEPS[name]
        plain, light, ratios, wall, nolog = [], [], [], [], []
        for r in range(args.rounds):
            runs = [
                ("plain", run_plain),
                ("lightning", run_lightning),
                ("nolog", lambda *a: run_lightning(*a, log=False)),
            ]
            times = {}
            for key, fn in runs if r % 2 == 0 else runs[::-1]:  # alternate the order to cancel drifts in load
                times[key] = fn(setup, warmup, steps)  # (wall, cpu)
            plain.append(steps / times["plain"][1])
            light.append(steps / times["lightning"][1])
            ratios.append(times["plain"][1] / times["lightning"][1])
            wall.append(times["plain"][0] / times["lightning"][0])
            nolog.append(times["plain"][1] / times["nolog"][1])
        print(
            f"| {name} | {steps} x {args.rounds} | {statistics.median(plain):.1f} | {statistics.median(light):.1f} | "
            f"**{statistics.median(ratios):.3f}** | {', '.join(f'{x:.3f}' for x in ratios)} | {statistics.median(wall):.3f} | "
            f"{statistics.median(nolog):.3f} | >= {TARGET[name]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
