"""Train the embedded MNIST classifier used as an offline FID/IS/KID feature extractor.

Trains :class:`lightning_gans.evaluation.mnist_classifier.MNISTClassifier` on the 4,000 training
digits of :func:`lightning_gans.data.mnist.mnist_split` only (the 1,000 held-out digits, 100 per class,
are never seen), with random shifts of up to 2 pixels per image as augmentation, Adam and a cosine
schedule, on one thread with fixed seeds. Prints the train and held-out accuracy and the number of
constant feature units, and writes the state dict to ``lightning_gans/assets/mnist_classifier.pt``.
Record the printed held-out accuracy as ``HELD_OUT_ACCURACY`` in ``mnist_classifier.py``.

    python scripts/train_mnist_classifier.py [--out PATH] [--epochs 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lightning_gans.data.mnist import mnist_split
from lightning_gans.evaluation.mnist_classifier import MNISTClassifier

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "lightning_gans" / "assets" / "mnist_classifier.pt"
MAX_SHIFT = 2  # pixels, in each direction


def shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random offset in {-2, ..., 2}^2, padding with 0 (no ink)."""
    n, _, h, w = x.shape  # (N, 1, 28, 28)
    padded = F.pad(x, (MAX_SHIFT,) * 4)  # (N, 1, 32, 32)
    dy, dx = torch.randint(0, 2 * MAX_SHIFT + 1, (2, n, 1), generator=g)  # (N, 1) each
    rows, cols = dy + torch.arange(h), dx + torch.arange(w)  # (N, H), (N, W)
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)  # (N, 1, H, W)


def accuracy(model: MNISTClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x)[1].argmax(1) == y).float().mean())


def constant_units(model: MNISTClassifier, x: torch.Tensor) -> int:
    with torch.no_grad():
        return int((model(x)[0].std(0) < 1e-6).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    torch.set_num_threads(1)  # deterministic and, for a net this small, about as fast as two
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x_train, y_train, x_test, y_test = mnist_split(28)
    x_train, x_test = (x_train + 1) / 2, (x_test + 1) / 2  # the extractor contract: [0, 1]
    model = MNISTClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = len(y_train) // 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(y_train), generator=g)
        for i in range(steps_per_epoch):
            b = perm[i * 64 : (i + 1) * 64]
            loss = F.cross_entropy(model(shift(x_train[b], g))[1], y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % 5 == 0:  # the held-out digits are looked at once, at the end
            print(
                f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, {time.perf_counter() - start:.0f} s", flush=True
            )
    model.eval()
    print(f"train accuracy {accuracy(model, x_train, y_train):.4f} ({len(y_train)} images)")
    print(f"held-out accuracy {accuracy(model, x_test, y_test):.4f} ({len(y_test)} images)")
    print(
        f"constant feature units on the training set: {constant_units(model, x_train)} of {MNISTClassifier.num_features}"
    )
    print(
        f"constant feature units on the held-out set: {constant_units(model, x_test)} of {MNISTClassifier.num_features}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
