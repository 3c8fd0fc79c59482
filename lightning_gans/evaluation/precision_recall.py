"""Improved precision and recall of generative models (Kynkäänniemi et al. 2019, https://arxiv.org/abs/1904.06991).

Each set of features is turned into a manifold estimate: the union of balls around its points, the
radius of each ball being the distance to the point's ``k``-th nearest neighbour in its own set
(``k = 3`` in the paper). **Precision** is the fraction of generated samples that fall inside the
real manifold (sample quality); **recall** the fraction of real samples inside the generated
manifold (coverage). A point lies inside when its distance to some centre is ``<=`` that centre's radius.

Pure functions of feature tensors, in the order of the data flow: :func:`knn_radii` (cacheable per
set) -> :func:`manifold_coverage` -> :func:`precision_recall`. Distances are Euclidean
(``torch.cdist``) in float32, computed in row blocks so memory stays at ``block x N``. The values
match torch-fidelity's ``prc`` (its ``input1`` is the generated set, ``input2`` the real set).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_gans import _checks

__all__ = ["F_SCORE", "PRECISION", "RECALL", "knn_radii", "manifold_coverage", "precision_recall"]

# Result keys (logged / printed under these names).
PRECISION = "precision"
RECALL = "recall"
F_SCORE = "f_score"


def _check(features: Tensor, name: str) -> Tensor:
    if not isinstance(features, Tensor) or features.dim() != 2:
        raise ValueError(f"`{name}` must be a feature tensor (N, D), got {getattr(features, 'shape', type(features))}.")
    return features.detach().float()


def knn_radii(features: Tensor, k: int = 3, block_size: int = 10_000) -> Tensor:
    """Distance of each point to its ``k``-th nearest *other* point of the same set, ``(N,)``.

    The point itself is at distance 0, so this is the ``(k + 1)``-th smallest distance of its row.

    Args:
        features: ``(N, D)`` with ``N > k``.
        k: neighbourhood size (the paper's k = 3).
        block_size: rows of the distance matrix computed at once.

    Raises:
        ValueError: ``k`` < 1 or the set has ``<= k`` points.
    """
    x = _check(features, "features")
    k = _checks.integer("k", k)
    if x.shape[0] <= k:
        raise ValueError(f"`k`={k} nearest neighbours need more than {k} samples, got {x.shape[0]}.")
    return torch.cat([torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(block_size)])


def manifold_coverage(queries: Tensor, centres: Tensor, radii: Tensor, block_size: int = 10_000) -> float:
    """Fraction of ``queries`` within ``radii[j]`` of some ``centres[j]`` (the manifold of ``centres``).

    Args:
        queries: ``(M, D)``.
        centres: ``(N, D)``.
        radii: ``(N,)``, e.g. :func:`knn_radii` of ``centres``.
    """
    q, c = _check(queries, "queries"), _check(centres, "centres")
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"Feature dimensions differ: queries {q.shape[1]}, centres {c.shape[1]}.")
    if radii.shape != (c.shape[0],):
        raise ValueError(f"`radii` must have shape ({c.shape[0]},), got {tuple(radii.shape)}.")
    r = radii.float()
    inside = [(torch.cdist(rows, c) <= r).any(dim=1) for rows in q.split(block_size)]  # (block, N) -> (block,)
    return float(torch.cat(inside).float().mean())


def precision_recall(
    fake: Tensor,
    real: Tensor,
    k: int = 3,
    real_radii: Tensor | None = None,
    block_size: int = 10_000,
) -> dict[str, float]:
    """Improved precision, recall and their F-score of generated against real features.

    Args:
        fake: generated features ``(M, D)`` (torch-fidelity's ``input1``).
        real: real features ``(N, D)`` (``input2``).
        k: neighbourhood size (3 in the paper and torch-fidelity).
        real_radii: precomputed :func:`knn_radii` of ``real`` with the same ``k`` (e.g. cached).
        block_size: rows of each distance block.

    Returns:
        ``{"precision": ..., "recall": ..., "f_score": ...}``; the F-score is
        ``2 P R / max(P + R, 1e-5)`` as in torch-fidelity.

    Example:
        >>> x = torch.randn(100, 8)
        >>> precision_recall(x, x)["precision"]
        1.0
    """
    fake, real = _check(fake, "fake"), _check(real, "real")
    if real_radii is None:
        real_radii = knn_radii(real, k, block_size)
    precision = manifold_coverage(fake, real, real_radii, block_size)
    recall = manifold_coverage(real, fake, knn_radii(fake, k, block_size), block_size)
    return {PRECISION: precision, RECALL: recall, F_SCORE: 2 * precision * recall / max(precision + recall, 1e-5)}
