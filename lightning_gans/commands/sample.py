"""``lightning-gans sample``: generate from a checkpoint into a grid PNG, a folder of PNGs or an ``.npz`` array.

Examples:
    lightning-gans sample --ckpt_path runs/x/checkpoints/last.ckpt --num 64 --out samples.png
    lightning-gans sample --ckpt_path X --num 1000 --out samples/        # one PNG per sample
    lightning-gans sample --ckpt_path X --num 1000 --out samples.npz     # raw array, generator's range
    lightning-gans sample --ckpt_path X --num 100 --labels all --out grid.png   # conditional: rows by class
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from lightning_gans.commands._run import CommandError, parse_labels
from lightning_gans.runs import Run, generate, load_run

__all__ = ["build_parser", "main", "write_samples"]

_GRID_SUFFIXES = (".png", ".jpg", ".jpeg")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-gans sample",
        description="Generate samples from a checkpoint written by `lightning-gans fit` (the EMA generator when it has one).",
    )
    p.add_argument("--ckpt_path", required=True, help="checkpoint (.ckpt) written by `lightning-gans fit`")
    p.add_argument("--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument(
        "--out",
        default="samples.png",
        help="FILE.png: one grid (2-D points: a scatter plot); DIR/: one PNG per sample; FILE.npz: raw array `samples` (and `labels`)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (and labels), default 0")
    p.add_argument(
        "--labels",
        default=None,
        help="conditional models: a class (3), classes cycled (0,1,2) or `all` (each class in turn)",
    )
    p.add_argument(
        "--nrow",
        type=int,
        default=None,
        help="images per grid row (default: ceil(sqrt(num)); `--labels all`: num // classes)",
    )
    p.add_argument(
        "--value_range",
        type=float,
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="the generator's output range (default: the run's GANMetrics/SampleLogger setting, else -1 1)",
    )
    p.add_argument(
        "--no_ema", action="store_true", help="sample the raw generator even when the checkpoint has an EMA one"
    )
    p.add_argument("--batch_size", type=int, default=256, help="samples per generator call")
    return p


def _to_uint8(images: Tensor, value_range: tuple[float, float]) -> Tensor:
    low, high = value_range
    return ((images.float() - low) / (high - low)).clamp(0, 1).mul(255).round().to(torch.uint8)


def write_samples(
    samples: Tensor,
    labels: Tensor | None,
    out: str,
    value_range: tuple[float, float],
    nrow: int | None = None,
    run: Run | None = None,
) -> list[str]:
    """Write ``samples`` as ``out`` says (see the module docstring) and return the files written."""
    from torchvision.io import write_png

    from lightning_gans.images import image_grid

    if out.endswith(".npz"):
        arrays = {"samples": samples.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels.numpy()
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        np.savez(out, **arrays)
        return [out]
    is_points = samples.dim() == 2 and samples.shape[1] == 2
    if not is_points and (samples.dim() != 4 or samples.shape[1] not in (1, 3)):
        raise CommandError(
            f"PNG output needs images (N, C, H, W) with C in (1, 3) or 2-D points, got {tuple(samples.shape)}; use `--out FILE.npz`."
        )
    if out.endswith((os.sep, "/")) or os.path.isdir(out):
        if is_points:
            raise CommandError(
                "`--out DIR/` writes one image per sample; 2-D points go to `--out FILE.png` (a plot) or `FILE.npz`."
            )
        os.makedirs(out, exist_ok=True)
        paths = []
        for i, image in enumerate(_to_uint8(samples, value_range)):
            name = f"{i:05d}.png" if labels is None else f"{i:05d}_class{int(labels[i])}.png"
            path = os.path.join(out, name)
            write_png(image.expand(3, -1, -1).contiguous() if image.shape[0] == 1 else image.contiguous(), path)
            paths.append(path)
        return paths
    if not out.lower().endswith(_GRID_SUFFIXES):
        raise CommandError(f"`--out` {out!r}: end it with .png (a grid), .npz (raw array) or / (a folder of PNGs).")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if is_points:
        image = torch.from_numpy(_plot_points(samples, run))
    else:
        image = image_grid(samples, value_range, nrow)
    write_png(image.permute(2, 0, 1).contiguous(), out)
    return [out]


def _plot_points(samples: Tensor, run: Run | None) -> np.ndarray:
    from lightning_gans.callbacks.toy_plot import plot_toy

    real = torch.empty(0, 2)
    distribution = getattr(_toy_datamodule(run), "distribution", None)
    if distribution is not None:
        real = distribution.sample(len(samples), torch.Generator().manual_seed(0))
    critic = getattr(run.module, "critic", None) if run is not None else None
    if critic is not None and getattr(run.module, "num_classes", None) is not None:
        critic = None  # a conditional critic needs labels: draw the points only
    return plot_toy(real, samples, critic, title=f"{len(samples)} samples")


def _toy_datamodule(run: Run | None):
    if run is None:
        return None
    try:
        return run.datamodule()
    except Exception:
        return None


def main(argv: Sequence[str]) -> int:
    """Run ``lightning-gans sample`` with ``argv`` (without the subcommand); returns the exit status."""
    args = build_parser().parse_args(list(argv))
    if args.num < 1:
        raise CommandError(f"`--num` must be >= 1, got {args.num}.")
    if args.batch_size < 1:
        raise CommandError(f"`--batch_size` must be >= 1, got {args.batch_size}.")
    if args.value_range is not None and not args.value_range[0] < args.value_range[1]:
        raise CommandError(f"`--value_range` must be LOW HIGH with LOW < HIGH, got {args.value_range}.")
    run = load_run(args.ckpt_path, ema=not args.no_ema)
    num_classes = getattr(run.module, "num_classes", None)
    labels = parse_labels(args.labels, args.num, num_classes)
    nrow = args.nrow
    if nrow is None and args.labels is not None and args.labels.strip() == "all":
        nrow = -(-args.num // num_classes)  # one row per class
    samples, labels = generate(run.module, args.num, args.seed, labels, args.batch_size)
    value_range = tuple(args.value_range) if args.value_range is not None else run.value_range()
    written = write_samples(samples, labels, args.out, value_range, nrow, run)
    what = "EMA generator" if run.ema else "generator"
    target = args.out if len(written) == 1 else f"{len(written)} files in {args.out}"
    print(f"Wrote {args.num} samples of shape {tuple(samples.shape[1:])} from the {what} to {target}")
    return 0
