"""``lightning-gans evaluate``: FID, IS, KID, precision and recall of a checkpoint or a folder of images.

With only ``--ckpt_path``, the checkpoint's generator (its EMA one when saved) is evaluated against
its own run's training data with the run's ``GANMetrics`` settings (feature extractor, number of
samples, data range, seed), so the numbers equal the ``eval/*`` values ``fit`` logged for that
checkpoint, and the real statistics ``fit`` cached are reused. Without ``GANMetrics`` in the run:
the digits classifier for digits data, Inception-v3 otherwise (its weights file must be present).

Examples:
    lightning-gans evaluate --ckpt_path runs/x/checkpoints/last.ckpt
    lightning-gans evaluate --ckpt_path X --real my_images/ --json metrics.json
    lightning-gans evaluate --fake samples/ --real digits
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans.commands._run import CommandError, Run, load_run

__all__ = ["ImageFolderDataset", "build_parser", "evaluate", "main"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DIGITS = "digits"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-gans evaluate",
        description="FID, IS, KID, precision and recall (k=3) of a checkpoint's generator or of a folder of images.",
    )
    p.add_argument(
        "--ckpt_path", default=None, help="checkpoint written by `lightning-gans fit` (generates the fake images)"
    )
    p.add_argument(
        "--fake", default=None, metavar="DIR", help="a folder of generated images (PNG/JPEG) instead of a checkpoint"
    )
    p.add_argument(
        "--real",
        default=None,
        metavar="DIR|digits",
        help="reference images: a folder, or `digits`; default: the checkpoint run's data",
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
        choices=("inception", "digits"),
        default=None,
        help="default: the run's GANMetrics setting, else `digits` for digits data and `inception` otherwise",
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


class ImageFolderDataset(Dataset):
    """Every PNG/JPEG under ``root`` (sorted, recursive) as a float ``(C, H, W)`` tensor mapped to ``data_range``.

    Grey and RGB files are kept as they are (the extractor converts channels); RGBA drops alpha.
    """

    def __init__(self, root: str, data_range: tuple[float, float], argument: str) -> None:
        if not os.path.isdir(root):
            raise CommandError(f"`{argument}` {root!r} is not a directory.")
        self.files = sorted(
            os.path.join(d, f) for d, _, names in os.walk(root) for f in names if f.lower().endswith(_IMAGE_SUFFIXES)
        )
        if len(self.files) < 2:
            raise CommandError(f"`{argument}` {root!r} holds {len(self.files)} PNG/JPEG images; at least 2 are needed.")
        self.low, self.high = data_range

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        from torchvision.io import ImageReadMode, decode_image

        image = decode_image(self.files[i], mode=ImageReadMode.UNCHANGED)
        if image.shape[0] in (2, 4):  # grey + alpha, RGBA
            image = image[:-1]
        return image.float() / 255 * (self.high - self.low) + self.low


class _LocalTrainer(SimpleNamespace):
    """What ``GANMetrics`` reads of a trainer when it runs on one process outside ``fit``."""

    def __init__(self) -> None:
        super().__init__(
            world_size=1,
            global_rank=0,
            is_global_zero=True,
            global_step=0,
            loggers=[],
            callback_metrics={},
            train_dataloader=None,
            datamodule=None,
            strategy=SimpleNamespace(broadcast=lambda obj, src=0: obj),
        )


def _real_dataset(spec: str | None, run: Run | None, data_range: tuple[float, float]) -> tuple[Any, str]:
    """The reference images and a short description of them."""
    if spec == DIGITS:
        from torch.utils.data import TensorDataset

        from lightning_gans.data.digits import load_digits_tensor

        images, labels = load_digits_tensor(8)  # in [-1, 1]
        low, high = data_range
        return TensorDataset((images + 1) / 2 * (high - low) + low, labels), "scikit-learn digits (1,797 images)"
    if spec is not None:
        return ImageFolderDataset(spec, data_range, "--real"), spec
    if run is None:
        raise CommandError(
            "give the reference images with `--real DIR|digits` (or `--ckpt_path` to use its run's data)."
        )
    dm = run.datamodule()
    return dm.train_dataloader().dataset, f"the run's {type(dm).__name__} training data"


def _default_extractor(real_spec: str | None, run: Run | None) -> str:
    if real_spec == DIGITS:
        return DIGITS
    if real_spec is None and run is not None:
        class_path = str((run.checkpoint.get("datamodule_hyper_parameters") or {}).get("_class_path", ""))
        if class_path.endswith("DigitsDataModule"):
            return DIGITS
    return "inception"


def evaluate(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, Any]]:
    """Compute the metrics for parsed ``args``; returns ``(metrics, settings)``."""
    from lightning_gans.callbacks.metrics import GANMetrics
    from lightning_gans.evaluation.evaluate import compute_metrics, extract
    from lightning_gans.evaluation.precision_recall import precision_recall

    if args.ckpt_path is None and args.fake is None:
        raise CommandError(
            "give `--ckpt_path` (a checkpoint to sample) or `--fake DIR` (a folder of generated images)."
        )
    if args.ckpt_path is not None and args.fake is not None:
        raise CommandError("give either `--ckpt_path` or `--fake`, not both.")
    for name in ("num_samples", "num_real", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 2 - (name == "batch_size"):
            raise CommandError(f"`--{name}` must be >= {2 - (name == 'batch_size')}, got {value}.")

    run = load_run(args.ckpt_path, ema=not args.no_ema) if args.ckpt_path is not None else None
    if run is not None:
        from lightning_gans.commands._run import generate

        probe, _ = generate(run.module, 2, seed=0)
        if probe.dim() != 4:
            raise CommandError(
                f"`--ckpt_path`: the generator makes samples of shape {tuple(probe.shape[1:])}, not images; FID/IS/KID need "
                "images. For 2-D toy runs use `lightning-gans sample --out plot.png` and lightning_gans.metrics_toy."
            )
    run_metrics = (run.callback_args("GANMetrics") if run is not None else None) or {}
    data_range = run.value_range() if run is not None else (-1.0, 1.0)
    real, real_what = _real_dataset(args.real, run, data_range)
    extractor = args.feature_extractor or run_metrics.get("feature_extractor") or _default_extractor(args.real, run)
    seed = args.seed if args.seed is not None else int(run_metrics.get("seed", 2020))
    fake_folder = ImageFolderDataset(args.fake, data_range, "--fake") if args.fake is not None else None
    num_samples = (
        len(fake_folder)
        if fake_folder is not None
        else (args.num_samples or int(run_metrics.get("num_samples", 10_000)))
    )

    try:
        metrics = GANMetrics(
            num_samples=num_samples,
            feature_extractor=extractor,
            feature_extractor_weights_path=args.feature_extractor_weights_path
            or run_metrics.get("feature_extractor_weights_path"),
            antialias=bool(run_metrics.get("antialias", False)),
            data_range=data_range,
            real_samples=real,
            num_real=args.num_real if args.num_real is not None else run_metrics.get("num_real"),
            cache_dir=args.cache_dir or run_metrics.get("cache_dir"),
            cache=not args.no_cache,
            batch_size=args.batch_size,
            kid_subsets=int(run_metrics.get("kid_subsets", 100)),
            kid_subset_size=int(run_metrics.get("kid_subset_size", 1000)),
            isc_splits=int(run_metrics.get("isc_splits", 10)),
            seed=seed,
            every_n_epochs=None,
        )
    except FileNotFoundError as err:  # Inception weights: the message says where to get them
        raise CommandError(
            str(err).replace("`feature_extractor_weights_path`", "`--feature_extractor_weights_path`")
            + " Or pass `--feature_extractor digits` for digit-like data."
        ) from None
    trainer = _LocalTrainer()
    if run is not None:
        module = run.module
    else:  # GANMetrics.setup checks a couple of "generated" images: give it the folder's first ones
        first = lambda n, **kwargs: torch.stack([fake_folder[i] for i in range(min(n, len(fake_folder)))])  # noqa: E731
        module = SimpleNamespace(sample=first, device=torch.device("cpu"))
    metrics.setup(trainer, module, "validate")
    cache_dir = metrics._cache.directory if metrics._cache is not None else None
    cached_before = set(os.listdir(cache_dir)) if cache_dir and os.path.isdir(cache_dir) else set()
    real_stats = metrics._real_statistics(trainer, module)
    cache_file = metrics._cache.path(metrics._real_cache_key) if metrics._cache is not None else None
    cache_hit = cache_file is not None and os.path.basename(cache_file) in cached_before
    if fake_folder is not None:
        batches = (
            torch.stack([fake_folder[i] for i in range(s, min(s + args.batch_size, len(fake_folder)))])
            for s in range(0, len(fake_folder), args.batch_size)
        )
        features, logits = extract(metrics._extractor, batches, data_range, "generated images")
    else:
        features, logits = metrics._fake_features(trainer, module)
    names = [m for m in metrics.metrics if m != "is" or logits is not None]
    subset = min(metrics.kid_subset_size, features.shape[0], real_stats.n)
    result = compute_metrics(features, logits, real_stats, names, metrics.kid_subsets, subset, metrics.isc_splits, seed)
    result.update(precision_recall(features, real_stats.features, k=3))
    settings = {
        "fake": args.fake
        if fake_folder is not None
        else f"{args.ckpt_path} ({'EMA generator' if run.ema else 'generator'})",
        "real": real_what,
        "feature_extractor": metrics._extractor_id,
        "n_fake": int(features.shape[0]),
        "n_real": int(real_stats.n),
        "kid_subset_size": subset,
        "seed": seed,
        "real_statistics": f"read from {cache_file}"
        if cache_hit
        else "computed" + (f", stored in {cache_file}" if cache_file else ""),
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
