"""Small-data regime: digits with 10 % of the training set, no augmentation vs DiffAugment vs ADA.

180 of scikit-learn's 1,797 digits (a fixed subset, ``--subset-seed``), upsampled to 16x16; the
non-saturating GAN (``GAN``, Adam 2e-4, betas (0.5, 0.999)) with DCGAN nets (batch-norm critic);
the same number of **generator** updates for every row; batch 32. FID, IS and KID with the
embedded digits classifier at the end of training and every ``--eval-every`` generator updates,
on ``--num-samples`` generated images against **all 1,797** digits (so memorising the 180
training images does not score well).

Rows:
- ``none``: no augmentation.
- ``diffaugment``: ``DiffAugment("color,translation,cutout")`` (Zhao et al. 2020).
- ``ada``: ``AdaptiveAugment(target=0.6, interval=4, speed_kimg=--ada-speed-kimg)`` (Karras et al.
  2020). ADA's own speed is 500 kimg for p to go 0 -> 1; our budget shows the critic ~100k real
  images in total, so the default here is 20 kimg (stated in the output). The final ``p`` is printed.

    python benchmarks/results_augment.py --generator-steps 1500 --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans import GAN
from lightning_gans.callbacks import AdaptiveAugment, DiffAugment, GANMetrics
from lightning_gans.data import load_digits_tensor
from lightning_gans.nets import DCGANCritic, DCGANGenerator

LATENT = 32
ROWS = ("none", "diffaugment", "ada")


class DigitsSubset(L.LightningDataModule):
    """A fixed subset of the digits (same images for every row and seed), shuffled batches."""

    def __init__(self, images: torch.Tensor, batch_size: int) -> None:
        super().__init__()
        self.images, self.batch_size = images, batch_size

    def train_dataloader(self) -> StatefulDataLoader:
        return StatefulDataLoader(TensorDataset(self.images), batch_size=self.batch_size, shuffle=True, drop_last=True)


class History(L.Callback):
    """Copies GANMetrics' results after each evaluation (placed after it in the callback list)."""

    def __init__(self, metrics: GANMetrics, every: int) -> None:
        self.metrics, self.every, self.rows = metrics, every, {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = pl_module.generator_steps
        if step and step % self.every == 0 and step not in self.rows and self.metrics.last_metrics:
            self.rows[step] = dict(self.metrics.last_metrics)


def run(row: str, seed: int, args, train: torch.Tensor, real: torch.Tensor) -> tuple[dict, dict, float, str]:
    L.seed_everything(seed, verbose=False)
    model = GAN(
        DCGANGenerator(latent_dim=LATENT, image_size=args.image_size, channels=1, base_channels=args.base_channels),
        DCGANCritic(image_size=args.image_size, channels=1, base_channels=args.base_channels, norm="batch"),
        latent_dim=LATENT,
        noise_seed=seed,
    )
    metrics = GANMetrics(
        num_samples=args.num_samples,
        feature_extractor="digits",
        every_n_epochs=None,
        every_n_generator_steps=args.eval_every,
        at_train_end=True,
        on_validate=False,
        on_test=False,
        real_samples=real,
        real_key="digits16-all",
        cache=False,
        seed=seed,
    )
    history = History(metrics, args.eval_every)
    extra: list[L.Callback] = []
    if row == "diffaugment":
        extra = [DiffAugment("color,translation,cutout")]
    elif row == "ada":
        extra = [AdaptiveAugment(target=0.6, interval=4, speed_kimg=args.ada_speed_kimg)]
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=args.generator_steps * (model.n_critic + 1),
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[*extra, metrics, history],
    )
    t0 = time.perf_counter()
    trainer.fit(model, DigitsSubset(train, args.batch_size))
    assert model.generator_steps == args.generator_steps
    note = f"p={extra[0].p:.3f}" if row == "ada" else ""
    return metrics.last_metrics, history.rows, time.perf_counter() - t0, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--subset", type=int, default=180)
    parser.add_argument("--subset-seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--base-channels", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--ada-speed-kimg", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet(args.threads)

    real, _ = load_digits_tensor(args.image_size)
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(args.subset_seed))
    train = real[order[: args.subset]].clone()

    print(f"# command: python benchmarks/results_augment.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# data: {args.subset} of {len(real)} digits (subset seed {args.subset_seed}) at {args.image_size}x{args.image_size}; "
        f"GAN (non-saturating), DCGAN base {args.base_channels}, latent {LATENT}, batch {args.batch_size}, "
        f"{args.generator_steps} generator updates; FID/IS/KID (digits classifier) of {args.num_samples} samples vs all {len(real)} digits"
    )
    print(f"# ADA: target 0.6, interval 4, speed {args.ada_speed_kimg:g} kimg (paper: 500)")
    print(f"# machine: {machine()}")
    header = [f"FID @ {s}" for s in range(args.eval_every, args.generator_steps, args.eval_every)]
    print(
        "| augmentation | seed | "
        + " | ".join([*header, "FID (end)", "IS (end)", "KID (end)", "time (s)", "note"])
        + " |"
    )
    print("|---" * (len(header) + 7) + "|", flush=True)
    finals: dict[str, list[float]] = {}
    for row in args.rows:
        for seed in args.seeds:
            m, hist, seconds, note = run(row, seed, args, train, real)
            mids = [
                f"{hist[s]['eval/fid']:.2f}" if s in hist else "-"
                for s in range(args.eval_every, args.generator_steps, args.eval_every)
            ]
            print(
                f"| {row} | {seed} | "
                + " | ".join(
                    [
                        *mids,
                        f"{m['eval/fid']:.2f}",
                        f"{m['eval/is']:.2f}",
                        f"{m['eval/kid']:.2f}",
                        f"{seconds:.0f}",
                        note,
                    ]
                )
                + " |",
                flush=True,
            )
            finals.setdefault(row, []).append(m["eval/fid"])
    print("\n| augmentation | final FID, mean of seeds | per seed |\n|---|---|---|")
    for row, values in finals.items():
        print(f"| {row} | {statistics.mean(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
