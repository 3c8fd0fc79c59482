"""``lightning-gans evaluate``: FID, IS, KID, precision/recall, density/coverage of a checkpoint or a folder of images.

With only ``--ckpt_path``, the checkpoint's generator (its EMA one when saved) is evaluated against
its own run's training data with the run's ``GANMetrics`` settings (feature extractor, number of
samples, data range, seed), so the numbers equal the ``eval/*`` values ``fit`` logged for that
checkpoint, and the real statistics ``fit`` cached are reused. Without ``GANMetrics`` in the run:
the digits classifier for digits data, Inception-v3 otherwise (its weights file must be present).

Examples:
    lightning-gans evaluate --ckpt_path runs/x/checkpoints/last.ckpt
    lightning-gans evaluate --ckpt_path X --real my_images/ --json metrics.json
    lightning-gans evaluate --fake samples/ --real digits
    lightning-gans evaluate --fake mnist_samples/ --real mnist

Folders are read by :class:`lightning_gans.data.folder.ImageFolderDataset`, as ``fit`` reads them: a
flat folder of images or one sub-folder per class; here strictly: a file that is not an image, or
images of another size or channel count than the first, is an error naming the file (before any
feature is computed). ``--json`` must be ``-`` (stdout) or end in ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from lightning_gans import _checks
from lightning_gans.commands._run import CommandError
from lightning_gans.data.folder import ImageFolderDataset, to_tensor
from lightning_gans.evaluation.evaluator import Evaluator
from lightning_gans.runs import Run, generate, load_run

__all__ = ["build_parser", "evaluate", "main"]

DIGITS = "digits"
MNIST = "mnist"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-gans evaluate",
        description="FID, IS, KID, precision/recall (k=3), density/coverage (k=5) of a checkpoint's generator or of a folder of images.",
    )
    p.add_argument(
        "--ckpt_path", default=None, help="checkpoint written by `lightning-gans fit` (generates the fake images)"
    )
    p.add_argument("--fake", default=None, metavar="DIR", help="a folder of generated images instead of a checkpoint")
    p.add_argument(
        "--real",
        default=None,
        metavar="DIR|digits|mnist",
        help="reference images: a folder, `digits`, or `mnist` (its 4,000 training digits at the fakes' size, 28 or 32); "
        "default: the checkpoint run's data",
    )
    p.add_argument(
        "--num_samples",
        type=int,
        default=None,
        help="generated images (default: the run's GANMetrics.num_samples, else 10000)",
    )
    p.add_argument("--num_real", type=int, default=None, help="real images used (default: all)")
    p.add_argument(
        "--feature_extractor",
        choices=("inception", "digits", "mnist"),
        default=None,
        help="default: the run's GANMetrics setting, else `digits` / `mnist` for digits / MNIST data and `inception` otherwise",
    )
    p.add_argument(
        "--feature_extractor_weights_path",
        default=None,
        help="Inception-v3 weights file (default: the torch hub cache)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="noise / subset seed (default: the run's GANMetrics seed, else 2020)"
    )
    p.add_argument("--batch_size", type=int, default=64, help="images per generator/extractor batch")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the metrics as JSON to PATH (`-`: stdout)")
    p.add_argument(
        "--no_ema", action="store_true", help="evaluate the raw generator even when the checkpoint has an EMA one"
    )
    p.add_argument(
        "--cache_dir",
        default=None,
        help="real-statistics cache (default: <torch hub dir>/lightning_gans/real_statistics)",
    )
    p.add_argument("--no_cache", action="store_true", help="neither read nor write cached real statistics")
    return p


def _scaled(data_range: tuple[float, float]) -> Callable[[Any], Tensor]:
    """The folder reader's transform: float ``(C, H, W)`` in [0, 1], then mapped to ``data_range``."""
    low, high = data_range
    return lambda image: to_tensor(image) * (high - low) + low


def _folder(root: str, data_range: tuple[float, float], argument: str) -> ImageFolderDataset:
    folder = ImageFolderDataset(root, transform=_scaled(data_range), argument=argument, with_labels=False, strict=True)
    if len(folder) < 2:
        raise CommandError(f"`{argument}` {root!r} holds {len(folder)} image; at least 2 are needed.")
    return folder


def _real_dataset(
    spec: str | None, run: Run | None, data_range: tuple[float, float], size: int = 28
) -> tuple[Any, str]:
    """The reference images and a short description of them (``size``: the fakes' side, for ``mnist``)."""
    if spec == MNIST:
        from torch.utils.data import TensorDataset

        from lightning_gans.data.mnist import MNIST_IMAGE_SIZES, mnist_split

        if size not in MNIST_IMAGE_SIZES:
            raise CommandError(f"`--real mnist` has 28x28 or 32x32 digits; the generated images are {size}x{size}.")
        images, labels = mnist_split(size)[:2]  # the 4,000 training digits, in [-1, 1], as MNISTDataModule's
        low, high = data_range
        return TensorDataset((images + 1) / 2 * (high - low) + low, labels), f"MNIST, 4,000 training digits at {size}px"
    if spec == DIGITS:
        from torch.utils.data import TensorDataset

        from lightning_gans.data.digits import load_digits_tensor

        images, labels = load_digits_tensor(8)  # in [-1, 1]
        low, high = data_range
        return TensorDataset((images + 1) / 2 * (high - low) + low, labels), "scikit-learn digits (1,797 images)"
    if spec is not None:
        return _folder(spec, data_range, "--real"), spec
    if run is None:
        raise CommandError(
            "give the reference images with `--real DIR|digits` (or `--ckpt_path` to use its run's data)."
        )
    dm = run.datamodule()
    return dm.train_dataloader().dataset, f"the run's {type(dm).__name__} training data"


def _default_extractor(real_spec: str | None, run: Run | None) -> str:
    if real_spec in (DIGITS, MNIST):
        return real_spec
    if real_spec is None and run is not None:
        class_path = str((run.checkpoint.get("datamodule_hyper_parameters") or {}).get("_class_path", ""))
        if class_path.endswith("DigitsDataModule"):
            return DIGITS
        if class_path.endswith("MNISTDataModule"):
            return MNIST
    return "inception"


def evaluate(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, Any]]:
    """Compute the metrics for parsed ``args``; returns ``(metrics, settings)``."""
    if args.ckpt_path is None and args.fake is None:
        raise CommandError(
            "give `--ckpt_path` (a checkpoint to sample) or `--fake DIR` (a folder of generated images)."
        )
    if args.ckpt_path is not None and args.fake is not None:
        raise CommandError("give either `--ckpt_path` or `--fake`, not both.")
    if args.json is not None and args.json != "-":
        _checks.output_suffix("--json", args.json, {".json": "JSON"})
        if os.path.isdir(args.json):
            raise CommandError(f"`--json` {args.json!r} is a folder; give a file name ending in .json.")
        _checks.writable_dir("--json", os.path.dirname(os.path.abspath(args.json)))
    for name in ("num_samples", "num_real", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 2 - (name == "batch_size"):
            raise CommandError(f"`--{name}` must be >= {2 - (name == 'batch_size')}, got {value}.")

    run = load_run(args.ckpt_path, ema=not args.no_ema) if args.ckpt_path is not None else None
    if run is not None:
        probe, _ = generate(run.module, 2, seed=0)
        if probe.dim() != 4:
            raise CommandError(
                f"`--ckpt_path`: the generator makes samples of shape {tuple(probe.shape[1:])}, not images; FID/IS/KID need "
                "images. For 2-D toy runs use `lightning-gans sample --out plot.png` and lightning_gans.evaluation.toy."
            )
    run_metrics = (run.callback_args("GANMetrics") if run is not None else None) or {}
    data_range = run.value_range() if run is not None else (-1.0, 1.0)
    fake_folder = _folder(args.fake, data_range, "--fake") if args.fake is not None else None
    fake_size = int((fake_folder[0] if fake_folder is not None else probe[0]).shape[-1])
    real, real_what = _real_dataset(args.real, run, data_range, fake_size)
    num_samples = (
        len(fake_folder)
        if fake_folder is not None
        else (args.num_samples or int(run_metrics.get("num_samples", 10_000)))
    )
    try:
        evaluator = Evaluator(
            args.feature_extractor or run_metrics.get("feature_extractor") or _default_extractor(args.real, run),
            num_samples=num_samples,
            num_real=args.num_real if args.num_real is not None else run_metrics.get("num_real"),
            data_range=data_range,
            batch_size=args.batch_size,
            kid_subsets=int(run_metrics.get("kid_subsets", 100)),
            kid_subset_size=int(run_metrics.get("kid_subset_size", 1000)),
            isc_splits=int(run_metrics.get("isc_splits", 10)),
            seed=args.seed if args.seed is not None else int(run_metrics.get("seed", 2020)),
            feature_extractor_weights_path=args.feature_extractor_weights_path
            or run_metrics.get("feature_extractor_weights_path"),
            antialias=bool(run_metrics.get("antialias", False)),
            cache_dir=args.cache_dir or run_metrics.get("cache_dir"),
            cache=not args.no_cache,
        )
    except FileNotFoundError as err:  # Inception weights: the message says where to get them
        raise CommandError(
            str(err).replace("`feature_extractor_weights_path`", "`--feature_extractor_weights_path`")
            + " Or pass `--feature_extractor digits` (8x8 digits) or `mnist` (MNIST digits)."
        ) from None
    if fake_folder is not None:
        first_fake = fake_folder[0]
    else:
        assert run is not None  # one of --ckpt_path and --fake is given (checked above)
        first_fake = probe[0]
    first_real = real[0][0] if isinstance(real[0], (tuple, list)) else real[0]
    if first_fake.shape != first_real.shape:
        source = f"`--fake` {args.fake!r}" if fake_folder is not None else "the checkpoint's generator"
        raise CommandError(
            f"{source} gives images of shape {tuple(first_fake.shape)} (C, H, W) but the real images ({real_what}) are "
            f"{tuple(first_real.shape)}: metrics between different image sizes or channel counts compare formats, not models."
        )
    real_stats = evaluator.real_statistics(real)
    fake = (
        evaluator.features(fake_folder, "generated images")
        if fake_folder is not None
        else evaluator.fake_features(run.module)  # type: ignore[union-attr]  # run is set without --fake
    )
    result = evaluator.compute(fake, real_stats, getattr(run.module, "num_classes", None) if run is not None else None)
    settings = {
        "fake": args.fake if run is None else f"{args.ckpt_path} ({'EMA generator' if run.ema else 'generator'})",
        "real": real_what,
        "feature_extractor": evaluator.extractor_id,
        "n_fake": fake.n,
        "n_real": real_stats.n,
        "kid_subset_size": evaluator.kid_subset(fake.n, real_stats.n),
        "seed": evaluator.seed,
        "real_statistics": evaluator.real_source,
    }
    return result, settings


def main(argv: Sequence[str]) -> int:
    """Run ``lightning-gans evaluate`` with ``argv`` (without the subcommand); returns the exit status."""
    from lightning_gans.evaluation.report import format_metrics_table

    args = build_parser().parse_args(list(argv))
    result, settings = evaluate(args)
    print(format_metrics_table(result, title=f"{settings['fake']} vs {settings['real']}"))
    print(
        f"({settings['n_fake']} generated, {settings['n_real']} real images; features {settings['feature_extractor']}; "
        f"real statistics {settings['real_statistics']})"
    )
    if args.json is not None:
        text = json.dumps({"metrics": result, "settings": settings}, indent=2)
        if args.json == "-":
            print(text)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                f.write(text + "\n")
    sys.stdout.flush()
    return 0
