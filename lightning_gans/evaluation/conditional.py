"""Metrics of class-conditional generators: classifier accuracy and intra-class FID.

* **Classifier accuracy**: the fraction of generated images that a fixed classifier assigns to the
  class they were generated for (the "classification accuracy score" view of conditional GANs;
  e.g. Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637, Sec. 5 report it with Inception).
* **Intra-FID** (Miyato & Koyama 2018, Sec. 5): the FID between the generated and the real images
  of each class, and its mean over classes. It penalises a generator that draws good images of the
  wrong class, which plain FID cannot see.

Pure functions of features, logits and labels; nothing here runs a network.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_gans.evaluation.metrics import features_to_statistics, frechet_distance

__all__ = ["CLASS_ACCURACY", "INTRA_FID", "balanced_labels", "class_accuracy", "intra_fid"]

CLASS_ACCURACY = "class_accuracy"
"""Key of the mean accuracy; per class: ``class_accuracy_<k>``."""
INTRA_FID = "intra_fid"
"""Key of the mean intra-class FID; per class: ``intra_fid_<k>``."""


def balanced_labels(n: int, num_classes: int, device: torch.device | None = None) -> Tensor:
    """Labels ``i mod num_classes`` for ``i < n``: every class ``n // num_classes`` or one more times."""
    return torch.arange(n, device=device) % num_classes


def class_accuracy(logits: Tensor, labels: Tensor, num_classes: int) -> dict[str, float]:
    """Accuracy of ``argmax(logits)`` against ``labels``, overall and per class.

    Args:
        logits: ``(N, num_classes)`` classifier logits of the generated images.
        labels: ``(N,)`` the classes they were generated for.
        num_classes: number of classes.

    Returns:
        ``{"class_accuracy": mean over all images, "class_accuracy_<k>": over the images of class k}``
        (classes without images are left out).

    Raises:
        ValueError: ``logits`` is not ``(N, num_classes)`` for the ``N`` labels (naming `logits`).
    """
    if logits.dim() != 2 or logits.shape != (labels.shape[0], num_classes):
        raise ValueError(f"`logits` must be ({labels.shape[0]}, {num_classes}), got {tuple(logits.shape)}.")
    correct = (logits.argmax(dim=1).cpu() == labels.cpu()).double()
    out = {CLASS_ACCURACY: float(correct.mean())}
    for k in range(num_classes):
        mine = labels.cpu() == k
        if mine.any():
            out[f"{CLASS_ACCURACY}_{k}"] = float(correct[mine].mean())
    return out


def intra_fid(
    fake_features: Tensor, fake_labels: Tensor, real_features: Tensor, real_labels: Tensor, num_classes: int
) -> dict[str, float]:
    """FID between the generated and real features of each class, and the mean over classes.

    Args:
        fake_features: ``(N, D)`` features of the generated images.
        fake_labels: ``(N,)`` their requested classes.
        real_features: ``(M, D)`` features of the real images.
        real_labels: ``(M,)`` their classes.
        num_classes: number of classes.

    Returns:
        ``{"intra_fid": mean over classes, "intra_fid_<k>": FID of class k}``.

    Raises:
        ValueError: a class has fewer than 2 generated or real images (its covariance is undefined).
    """
    out: dict[str, float] = {}
    fake_labels, real_labels = fake_labels.cpu(), real_labels.cpu()
    for k in range(num_classes):
        fake_k, real_k = fake_features[fake_labels == k], real_features[real_labels == k]
        if len(fake_k) < 2 or len(real_k) < 2:
            raise ValueError(
                f"Intra-FID needs >= 2 generated and real images of class {k}, got {len(fake_k)} and {len(real_k)}."
            )
        out[f"{INTRA_FID}_{k}"] = frechet_distance(features_to_statistics(fake_k), features_to_statistics(real_k))
    out[INTRA_FID] = sum(out.values()) / num_classes
    return out
