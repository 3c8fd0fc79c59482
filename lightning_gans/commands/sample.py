"""``lightning-gans sample``: generate from a checkpoint into a grid PNG/JPEG, a folder of PNGs or an ``.npz`` array.

Everything is checked before the checkpoint is sampled or a file written: the extension of ``--out``
is its format (``.png``, ``.jpg``/``.jpeg``, ``.npz``, or ``/`` for a folder; anything else is
refused); a folder that already holds files is refused unless ``--overwrite`` (new samples never
mix with older ones); ``--labels all`` needs ``--num`` a multiple of the number of classes; images
outside ``--value_range`` are refused, not clipped. Grey samples are written as 1-channel PNGs, so
``evaluate --fake DIR/`` reads them as the grey images they are.

Examples:
    lightning-gans sample --ckpt_path runs/x/checkpoints/last.ckpt --num 64 --out samples.png
    lightning-gans sample --ckpt_path X --num 1000 --out samples/        # one PNG per sample
    lightning-gans sample --ckpt_path X --num 1000 --out samples.npz     # raw array, generator's range
    lightning-gans sample --ckpt_path X --num 100 --labels all --out grid.png   # conditional: rows by class
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from lightning_gans import _checks
from lightning_gans.commands._run import CommandError, parse_labels
from lightning_gans.runs import Run, generate, load_run

__all__ = ["OUT_FORMATS", "build_parser", "main", "write_samples"]

OUT_FORMATS = {".png": "one PNG grid", ".jpg": "one JPEG grid", ".jpeg": "one JPEG grid", ".npz": "a raw array"}
"""``--out`` extensions and what each writes (a path ending in ``/`` is a folder of PNGs)."""

_SAMPLE_NAME = re.compile(r"\d{5}(_class\d+)?\.png")  # the names `--out DIR/` writes


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
        help="FILE.png or FILE.jpg: one grid (2-D points: a scatter plot); DIR/: one PNG per sample (grey as grey); "
        "FILE.npz: raw array `samples` (and `labels`). Other extensions are refused.",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out file, or the samples an earlier `sample` wrote in --out DIR/ (NNNNN[_classK].png)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (and labels), default 0")
    p.add_argument(
        "--labels",
        default=None,
        help="conditional models: a class (3), classes cycled (0,1,2) or `all` (each class in turn, --num a multiple of the classes)",
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


def _check_out(out: str, overwrite: bool) -> str:
    """The format of ``--out`` (a suffix, or ``"/"`` for a folder), checked before anything is sampled or written."""
    if out.endswith((os.sep, "/")) or os.path.isdir(out):
        if os.path.isdir(out) and overwrite:
            _checks.writable_dir("--out", out)
        else:
            _checks.new_output("--out", out, folder=True)
        return "/"
    try:
        suffix = _checks.output_suffix("--out", out, OUT_FORMATS)
    except _checks.InputError as err:
        raise CommandError(f"{err} End it with / for a folder of PNGs (one per sample).") from None
    _checks.new_output("--out", out, overwrite=overwrite)
    return suffix


def write_samples(
    samples: Tensor,
    labels: Tensor | None,
    out: str,
    value_range: tuple[float, float],
    nrow: int | None = None,
    run: Run | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Write ``samples`` as ``out`` says (see the module docstring) and return the files written.

    Args:
        overwrite: replace an existing file ``out``, or the samples an earlier call wrote in the folder ``out``.

    Raises:
        InputError: ``out``'s extension is no format of :data:`OUT_FORMATS`, ``out`` exists (a file, or a folder
            holding files) without ``overwrite``, the samples do not fit the format, or images fall outside
            ``value_range``.
    """
    from torchvision.io import write_jpeg, write_png

    from lightning_gans.images import image_grid

    suffix = _check_out(out, overwrite)
    is_folder = suffix == "/"
    if suffix == ".npz":
        arrays = {"samples": samples.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels.numpy()
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        np.savez(out, **arrays)  # type: ignore[arg-type]
        return [out]
    is_points = samples.dim() == 2 and samples.shape[1] == 2
    if not is_points and (samples.dim() != 4 or samples.shape[1] not in (1, 3)):
        raise CommandError(
            f"image output needs images (N, C, H, W) with C in (1, 3) or 2-D points, got {tuple(samples.shape)}; "
            "use `--out FILE.npz`."
        )
    if not is_points:
        _checks.within_range(
            "--value_range",
            samples,
            value_range,
            "the generator's samples",
            "writing them as images would clip them. Give the generator's output range (`--value_range -1 1` for a "
            "tanh generator), or write `--out FILE.npz` for raw values.",
        )
    if is_folder:
        if is_points:
            raise CommandError(
                "`--out DIR/` writes one image per sample; 2-D points go to `--out FILE.png` (a plot) or `FILE.npz`."
            )
        os.makedirs(out, exist_ok=True)
        for name in os.listdir(out):  # an earlier `sample` run's files (a non-empty folder needs `overwrite`)
            if _SAMPLE_NAME.fullmatch(name):
                os.remove(os.path.join(out, name))
        paths = []
        for i, image in enumerate(_to_uint8(samples, value_range)):
            name = f"{i:05d}.png" if labels is None else f"{i:05d}_class{int(labels[i])}.png"
            path = os.path.join(out, name)
            write_png(image.contiguous(), path)  # (1, H, W): a grey PNG, read back as 1 channel
            paths.append(path)
        return paths
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if is_points:
        image = torch.from_numpy(_plot_points(samples, run))
    else:
        image = image_grid(samples, value_range, nrow)
    chw = image.permute(2, 0, 1).contiguous()
    if suffix == ".png":
        write_png(chw, out)
    else:
        write_jpeg(chw, out, quality=95)
    return [out]


def _plot_points(samples: Tensor, run: Run | None) -> np.ndarray:
    from lightning_gans.callbacks.toy_plot import plot_toy

    real = torch.empty(0, 2)
    distribution = getattr(_toy_datamodule(run), "distribution", None)
    if distribution is not None:
        real = distribution.sample(len(samples), torch.Generator().manual_seed(0))
    critic = getattr(run.module, "critic", None) if run is not None else None
    if critic is not None and run is not None and getattr(run.module, "num_classes", None) is not None:
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
    if args.nrow is not None and args.nrow < 1:
        raise CommandError(f"`--nrow` must be >= 1, got {args.nrow}.")
    if args.value_range is not None and not args.value_range[0] < args.value_range[1]:
        raise CommandError(f"`--value_range` must be LOW HIGH with LOW < HIGH, got {args.value_range}.")
    _check_out(args.out, args.overwrite)
    run = load_run(args.ckpt_path, ema=not args.no_ema)
    num_classes = getattr(run.module, "num_classes", None)
    labels = parse_labels(args.labels, args.num, num_classes)
    nrow = args.nrow
    if nrow is None and num_classes is not None and args.labels is not None and args.labels.strip() == "all":
        nrow = args.num // num_classes  # one row per class
    samples, labels = generate(run.module, args.num, args.seed, labels, args.batch_size)
    value_range = (
        (float(args.value_range[0]), float(args.value_range[1])) if args.value_range is not None else run.value_range()
    )
    written = write_samples(samples, labels, args.out, value_range, nrow, run, overwrite=args.overwrite)
    what = "EMA generator" if run.ema else "generator"
    target = args.out if len(written) == 1 else f"{len(written)} files in {args.out}"
    print(f"Wrote {args.num} samples of shape {tuple(samples.shape[1:])} from the {what} to {target}")
    return 0
