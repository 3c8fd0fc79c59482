"""``lightning-gans convert-folder SRC DST``: an image folder as LitData shards for :class:`StreamingImageDataModule`.

``SRC`` is read as :class:`~lightning_gans.data.ImageDataModule` reads a folder (flat, or one
sub-folder per class); ``DST`` is a new or empty folder (``--overwrite`` to write into one that holds
files) or a bucket URL (``s3://bucket/prefix``). Both are checked before anything is written; a
truncated image stops the conversion, naming the file.

Examples:
    lightning-gans convert-folder my_images/ my_shards/
    lightning-gans convert-folder my_images/ s3://my-bucket/my_shards --num_workers 8
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightning_gans.commands._run import CommandError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-gans convert-folder",
        description="Write a folder of images (flat, or one sub-folder per class) as LitData shards, "
        "read by lightning_gans.data.StreamingImageDataModule.",
    )
    p.add_argument("src", help="folder of images, or of one sub-folder per class")
    p.add_argument("dst", help="output folder (new or empty) or URL (s3://bucket/prefix, gs://...)")
    p.add_argument("--overwrite", action="store_true", help="write into DST even if it holds files")
    p.add_argument(
        "--chunk_bytes",
        default="64MB",
        help="most bytes in one shard chunk, e.g. 64MB (default) or an integer; ranks and workers read whole chunks",
    )
    p.add_argument("--num_workers", type=int, default=1, help="conversion processes (default 1)")
    return p


def main(argv: Sequence[str]) -> int:
    """Run ``lightning-gans convert-folder`` with ``argv`` (without the subcommand); returns the exit status."""
    from lightning_gans.data.streaming import _LITDATA_AVAILABLE, STREAM_HINT, optimize_folder

    args = build_parser().parse_args(list(argv))
    if not _LITDATA_AVAILABLE:
        raise CommandError(STREAM_HINT)
    chunk_bytes: str | int = int(args.chunk_bytes) if args.chunk_bytes.isdigit() else args.chunk_bytes
    metadata = optimize_folder(
        args.src, args.dst, chunk_bytes=chunk_bytes, num_workers=args.num_workers, overwrite=args.overwrite
    )
    classes = metadata["classes"]
    print(
        f"Wrote {metadata['num_images']} images"
        + (f" of {len(classes)} classes" if classes else "")
        + f" from {args.src} as LitData shards to {args.dst}"
    )
    return 0
