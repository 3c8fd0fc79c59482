"""``lightning-gans export``: a checkpoint's generator as a Hugging Face Hub directory (and optionally pushed).

``--out`` must be a new or empty folder (``--overwrite`` replaces what an earlier export wrote), and
``--metrics`` a JSON file from ``evaluate --json``: both are checked before the checkpoint is read.
The model card's metadata carries ``license`` (``--license``, default ``other``) and, with
``--metrics``, a ``model-index`` entry per metric.

Examples:
    lightning-gans export --ckpt_path runs/x/checkpoints/last.ckpt --out my-gan/
    lightning-gans evaluate --ckpt_path X --json metrics.json && lightning-gans export --ckpt_path X --out my-gan/ --metrics metrics.json
    lightning-gans export --ckpt_path X --out my-gan/ --push_to_hub user/my-gan    # after `huggingface-cli login`
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

from lightning_gans import _checks
from lightning_gans.commands._run import CommandError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-gans export",
        description="Save a checkpoint's generator (its EMA one when saved) with save_pretrained: "
        "model.safetensors, config.json and a model card with the run's config and metrics.",
    )
    p.add_argument("--ckpt_path", required=True, help="checkpoint written by `lightning-gans fit`")
    p.add_argument("--out", required=True, help="output directory (new or empty)")
    p.add_argument(
        "--overwrite", action="store_true", help="write into --out even if it holds files (an earlier export's)"
    )
    p.add_argument(
        "--license",
        default=None,
        help="licence of the weights as a Hub licence id (e.g. apache-2.0, cc-by-4.0) for the model card; default: other",
    )
    p.add_argument(
        "--metrics", default=None, help="JSON written by `lightning-gans evaluate --json` (shown in the model card)"
    )
    p.add_argument(
        "--no_ema", action="store_true", help="export the raw generator even when the checkpoint has an EMA one"
    )
    p.add_argument(
        "--push_to_hub", default=None, metavar="REPO_ID", help="also push to this Hub repository (needs a login)"
    )
    return p


def main(argv: Sequence[str]) -> int:
    """Run ``lightning-gans export`` with ``argv`` (without the subcommand); returns the exit status."""
    from lightning_gans.hub import _HUB_AVAILABLE, HUB_HINT, PretrainedGenerator

    args = build_parser().parse_args(list(argv))
    if not _HUB_AVAILABLE:
        raise CommandError(HUB_HINT)
    _checks.new_output("--out", args.out, overwrite=args.overwrite, folder=True)
    metrics = None
    if args.metrics is not None:
        if not os.path.isfile(args.metrics):
            raise CommandError(f"`--metrics` {args.metrics!r} is not a file.")
        try:
            with open(args.metrics, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CommandError(
                f"`--metrics` {args.metrics!r} is not valid JSON ({err}); write it with `lightning-gans evaluate --json`."
            ) from None
        metrics = data.get("metrics", data) if isinstance(data, dict) else None
        if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
        ):
            raise CommandError(
                f"`--metrics` {args.metrics!r} holds no dict of numbers (write it with `lightning-gans evaluate --json`)."
            )
    generator = PretrainedGenerator.from_checkpoint(
        args.ckpt_path, ema=not args.no_ema, metrics=metrics, license=args.license
    )
    generator.save_pretrained(args.out, repo_id=args.push_to_hub, push_to_hub=args.push_to_hub is not None)
    print(
        f"Saved the {generator.source} to {args.out}"
        + (f" and pushed it to {args.push_to_hub}" if args.push_to_hub else "")
    )
    return 0
