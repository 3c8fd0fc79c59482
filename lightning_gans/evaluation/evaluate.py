"""Feature extraction over batches and the metric dict, shared by the callback and the benchmark."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from lightning_gans.evaluation.cache import RealStatistics
from lightning_gans.evaluation.convert import to_extractor_input
from lightning_gans.evaluation.extractors import run_extractor
from lightning_gans.evaluation.metrics import (
    FID,
    IS,
    IS_STD,
    KID,
    KID_STD,
    features_to_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
)

__all__ = ["METRICS", "compute_metrics", "extract"]

METRICS = ("fid", "is", "kid")
"""Metric names accepted by ``metrics=``."""


@torch.no_grad()
def extract(
    extractor: nn.Module,
    batches: Iterable[Tensor],
    data_range: tuple[float, float],
    what: str = "images",
    device: torch.device | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Run ``extractor`` over image batches and return CPU ``(features (N, D), logits (N, K) or None)``.

    Args:
        extractor: see :mod:`lightning_gans.evaluation.extractors` for the contract.
        batches: image tensors ``(B, C, H, W)`` in ``data_range``.
        data_range: the images' declared ``(low, high)``; values outside it raise.
        what: name used in error messages.
        device: where the extractor runs (default: its parameters' device, else CPU).
    """
    if device is None:
        device = next(iter(extractor.parameters()), torch.empty(0)).device
    in_channels = getattr(extractor, "in_channels", None)
    features, logits = [], []
    for batch in batches:
        x = to_extractor_input(batch.to(device), data_range, in_channels, what)
        f, lg = run_extractor(extractor, x)
        features.append(f.float().cpu())
        if lg is not None:
            logits.append(lg.float().cpu())
    if not features:
        raise ValueError(f"No {what} to evaluate.")
    return torch.cat(features), (torch.cat(logits) if logits else None)


def compute_metrics(
    fake_features: Tensor,
    fake_logits: Tensor | None,
    real: RealStatistics,
    metrics: Sequence[str] = METRICS,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    isc_splits: int = 10,
    seed: int = 2020,
) -> dict[str, float]:
    """FID, IS and KID of generated features against real statistics (keys in :mod:`.metrics`).

    ``kid_subset_size`` is used as given (it must not exceed either set); IS needs ``fake_logits``.
    """
    out: dict[str, float] = {}
    if "fid" in metrics:
        out[FID] = frechet_distance(features_to_statistics(fake_features), real.fid)
    if "is" in metrics:
        if fake_logits is None:
            raise ValueError("IS needs class logits, but the feature extractor returned features only.")
        out[IS], out[IS_STD] = inception_score(fake_logits, isc_splits, seed)
    if "kid" in metrics:
        out[KID], out[KID_STD] = kernel_inception_distance(
            fake_features, real.features, kid_subsets, kid_subset_size, seed
        )
    return out
