"""Train the embedded digits classifier used as an offline FID/IS/KID feature extractor.

Trains :class:`lightning_gans.evaluation.DigitsClassifier` on a fixed 75 % training split of
scikit-learn's digits (``train_test_split(test_size=0.25, random_state=0, stratify=labels)``), with
one-pixel random shifts as augmentation, prints the accuracy on the held-out 25 % and writes the
state dict to ``lightning_gans/assets/digits_classifier.pt``.

    python scripts/train_digits_classifier.py [--out PATH] [--epochs 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "lightning_gans" / "assets" / "digits_classifier.pt"


def split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed split: train images, train labels, test images, test labels; images in [0, 1]."""
    images, labels = load_digits_tensor()
    images = (images + 1) / 2  # the extractor contract: [0, 1]
    idx_train, idx_test = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.25, random_state=0, stratify=labels.numpy()
    )
    return images[idx_train], labels[idx_train], images[idx_test], labels[idx_test]


def shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Translate the batch by a random offset in {-1, 0, 1}^2, padding with 0 (no ink)."""
    padded = F.pad(x, (1, 1, 1, 1))
    dx, dy = torch.randint(0, 3, (2,), generator=g).tolist()
    return padded[..., dy : dy + 8, dx : dx + 8]


def accuracy(model: DigitsClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x)[1].argmax(1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x_train, y_train, x_test, y_test = split()
    model = DigitsClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(len(y_train), generator=g)
        for i in range(0, len(perm), 64):
            b = perm[i : i + 64]
            loss = F.cross_entropy(model(shift(x_train[b], g))[1], y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    dead = int((model(x_train)[0].std(0) < 1e-6).sum())
    print(f"train accuracy {accuracy(model, x_train, y_train):.4f} ({len(y_train)} images)")
    print(f"held-out accuracy {accuracy(model, x_test, y_test):.4f} ({len(y_test)} images)")
    print(f"constant feature units on the training set: {dead} of {DigitsClassifier.num_features}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
