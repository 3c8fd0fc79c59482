"""An embedded MNIST classifier: an offline FID/IS/KID feature extractor for 28x28 (or 32x32) digits.

It follows the extractor contract of :mod:`lightning_gans.evaluation.extractors`: float images
``(N, 1, H, W)`` in [0, 1] in, ``(features (N, 128), logits (N, 10))`` out.
"""

from __future__ import annotations

from importlib import resources

import torch
from torch import Tensor, nn

__all__ = ["HELD_OUT_ACCURACY", "MNIST_WEIGHTS", "MNISTClassifier"]

MNIST_WEIGHTS = "mnist_classifier.pt"
"""The shipped state dict, in ``lightning_gans/assets``."""

HELD_OUT_ACCURACY = 0.9890
"""Accuracy of the shipped weights on the 1,000 held-out digits of :func:`lightning_gans.data.mnist.mnist_split`,
as printed by ``scripts/train_mnist_classifier.py``."""


class MNISTClassifier(nn.Module):
    """A small CNN for MNIST digits: 128 penultimate features (ELU) and 10 logits.

    Trained by ``scripts/train_mnist_classifier.py`` on the 4,000 training digits of
    :func:`lightning_gans.data.mnist.mnist_split` only; the shipped weights
    (``lightning_gans/assets/mnist_classifier.pt``) are loaded by :meth:`pretrained`. 32x32 inputs
    (MNIST padded for power-of-two nets) are centre-cropped to 28x28, which removes exactly the padding.

    Raises:
        ValueError: in ``forward``, images that are not ``(N, 1, 28, 28)`` or ``(N, 1, 32, 32)``.

    Example:
        >>> model = MNISTClassifier.pretrained()
        >>> features, logits = model(torch.zeros(2, 1, 32, 32))
        >>> tuple(features.shape), tuple(logits.shape)
        ((2, 128), (2, 10))
    """

    in_channels = 1
    num_features = 128
    name = "mnist-classifier"
    resize = "28x28 as is; 32x32 centre-cropped to 28x28 (removes 2 px of padding); other sizes rejected"

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 64, 7, 7)
            nn.Conv2d(64, 32, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 32, 4, 4)
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128),
            nn.ELU(),  # (N, 128) penultimate features; ELU: no dead units
        )
        self.head = nn.Linear(128, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) not in ((28, 28), (32, 32)):
            raise ValueError(
                f"MNISTClassifier takes images `x` of shape (N, 1, 28, 28) or (N, 1, 32, 32), got {tuple(x.shape)}."
            )
        if x.shape[-1] == 32:
            x = x[..., 2:30, 2:30]  # centre crop: the 2 px frame of padding
        f = self.features(x * 2 - 1)  # trained on [-1, 1]
        return f, self.head(f)

    @classmethod
    def pretrained(cls) -> MNISTClassifier:
        """The classifier with the shipped weights (loaded with ``weights_only=True``), in eval mode, frozen."""
        model = cls()
        with resources.as_file(resources.files("lightning_gans") / "assets" / MNIST_WEIGHTS) as path:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval().requires_grad_(False)
