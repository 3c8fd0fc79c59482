"""Density and coverage (Naeem et al. 2020, https://arxiv.org/abs/2002.09797).

"Reliable Fidelity and Diversity Metrics for Generative Models" replaces improved precision and
recall's union of balls around *both* sets by balls around the **real** samples only (the radius of
each is the distance to its ``k``-th nearest real neighbour), which makes both metrics robust to
outliers:

* **density**: how many real balls each generated sample falls in, on average, divided by ``k``
  (``E_j[(1/k) sum_i 1[Y_j in B(X_i, r_i)]]``, Eq. 3); about 1 when the two sets match, above 1
  when generated samples crowd the dense regions of the real data;
* **coverage**: the fraction of real balls that hold at least one generated sample (Eq. 4); in
  [0, 1], 1 when every real neighbourhood is reached.

The values equal the authors' ``prdc`` package (``compute_prdc(real, fake, nearest_k)``) on the same
features: strict ``<`` as there, Euclidean distances, ``k = 5`` as the paper recommends. Distances
are computed in row blocks (float32), so memory stays at ``block x N``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_gans.evaluation.precision_recall import knn_radii

__all__ = ["COVERAGE", "DENSITY", "density_coverage"]

DENSITY = "density"
COVERAGE = "coverage"


def density_coverage(
    fake: Tensor, real: Tensor, k: int = 5, real_radii: Tensor | None = None, block_size: int = 10_000
) -> dict[str, float]:
    """Density and coverage of generated features against real ones.

    Args:
        fake: generated features ``(M, D)``.
        real: real features ``(N, D)``, ``N > k``.
        k: neighbourhood size (the paper's recommended 5).
        real_radii: precomputed :func:`~lightning_gans.evaluation.precision_recall.knn_radii` of ``real`` with this ``k``.
        block_size: rows of each distance block.

    Returns:
        ``{"density": ..., "coverage": ...}``.

    Raises:
        ValueError: features of different dimensions, or too few real samples for ``k``.

    Example:
        >>> x = torch.randn(200, 4)
        >>> density_coverage(x, x)["coverage"]
        1.0
    """
    fake, real = fake.detach().float(), real.detach().float()
    if fake.dim() != 2 or real.dim() != 2 or fake.shape[1] != real.shape[1]:
        raise ValueError(
            f"`fake` and `real` must be features (N, D) of one D, got {tuple(fake.shape)} and {tuple(real.shape)}."
        )
    radii = knn_radii(real, k, block_size) if real_radii is None else real_radii.float()  # r_i, (N,)
    inside = torch.zeros(fake.shape[0])  # sum_i 1[Y_j in B(X_i, r_i)] per generated sample
    nearest_fake = torch.full((real.shape[0],), float("inf"))  # min_j ||X_i - Y_j|| per real sample
    for start in range(0, real.shape[0], block_size):
        d = torch.cdist(real[start : start + block_size], fake)  # (block, M)
        r = radii[start : start + block_size, None]
        inside += (d < r).sum(dim=0).float()
        nearest_fake[start : start + block_size] = d.min(dim=1).values
    return {
        DENSITY: float(inside.mean() / k),  # (1/k) E_j[# real balls holding Y_j]
        COVERAGE: float((nearest_fake < radii).float().mean()),  # E_i[1[some Y_j in B(X_i, r_i)]]
    }
