"""Modes covered per seed by every toy example config, trained as written through the CLI.

For each ``examples/*8gaussians*.yaml`` (and, with ``--configs``, any other toy config) and each seed,
runs ``lightning-gans fit --config X --seed_everything S`` in-process with no logger, checkpoint or
progress bar, and prints the modes covered and the high-quality fraction of 2,500 samples
(``lightning_gans.data.mode_coverage``: a mode is covered when >= 1% of the samples lie within 3 sigma
of its centre), the generator steps and the wall time of the seed. The README's table is this
script's output; ``tests/examples/test_toy_modes.py`` runs the configs on fewer seeds.

    python benchmarks/example_configs.py                          # every 8-Gaussians config, seeds 0-4
    python benchmarks/example_configs.py --configs gan_8gaussians.yaml --seeds 0 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import yaml

from lightning_gans.cli import run
from lightning_gans.data import TOY_DISTRIBUTIONS, mode_coverage

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_CONFIGS = sorted(p.name for p in EXAMPLES.glob("*8gaussians*.yaml"))
"""Every 8-Gaussians example config (the paper_toy_*.yaml presets keep the paper's budget-hungry settings)."""


def modes(config: str, seed: int, root: str) -> tuple[int, float, int]:
    """Train ``config`` at ``seed`` through the CLI; return (modes covered, high-quality fraction, generator steps)."""
    parsed = yaml.safe_load((EXAMPLES / config).read_text())
    dataset = parsed["data"]["init_args"].get("dataset", "8gaussians")
    args = [
        "fit",
        "--config",
        str(EXAMPLES / config),
        "--seed_everything",
        str(seed),
        "--trainer.default_root_dir",
        root,
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_checkpointing",
        "false",
    ]
    callbacks = parsed["trainer"].get("callbacks") or []
    if any(c["class_path"].endswith("ToyPlot") for c in callbacks):  # plots need a logger: keep only the others
        kept = [c for c in callbacks if not c["class_path"].endswith("ToyPlot")]
        args += ["--trainer.callbacks", yaml.safe_dump(kept, default_flow_style=True).strip()]
    if "noise_seed" in parsed["model"].get("init_args", {}):
        args += ["--model.init_args.noise_seed", str(seed)]
    cli = run(args)
    toy = TOY_DISTRIBUTIONS[dataset]
    samples = cli.model.sample(2500, rng=torch.Generator().manual_seed(1))
    covered, high_quality = mode_coverage(samples, toy.centers, toy.std)
    return covered, high_quality, int(cli.model.generator_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from _common import quiet  # the script's directory: on sys.path when run as a script

    quiet()
    print("| config | generator steps | " + " | ".join(f"seed {s}" for s in args.seeds) + " | s/seed |")
    print("|---|---|" + "---|" * len(args.seeds) + "---|")
    for config in args.configs:
        cells, steps, seconds = [], 0, []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as root:
                start = time.perf_counter()
                covered, high_quality, steps = modes(config, seed, root)
                seconds.append(time.perf_counter() - start)
            cells.append(f"{covered}/8 ({high_quality:.0%})")
        print(
            f"| {config} | {steps} | " + " | ".join(cells) + f" | {min(seconds):.0f}-{max(seconds):.0f} |", flush=True
        )


if __name__ == "__main__":
    main()
