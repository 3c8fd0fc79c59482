"""Real-image statistics, computed once per (dataset, extractor, resize, n) and stored as ``.npz``.

No pickle: the file holds plain arrays (features, labels, mean, covariance and its square root) and
the key as a JSON string, and is read with ``numpy.load(allow_pickle=False)``. A file whose stored
key differs from the requested one (a hash collision or a hand-copied file) is ignored; a damaged
one (truncated, not an ``.npz``) is an :class:`~lightning_gans._checks.InputError` naming it, which
the evaluator reports before computing the statistics again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lightning_gans._checks import InputError
from lightning_gans.evaluation.metrics import FIDStatistics, features_to_statistics

__all__ = ["RealStatistics", "RealStatisticsCache", "default_cache_dir"]

_FORMAT_VERSION = 2  # 2: labels of the real images (for intra-FID)


def default_cache_dir() -> str:
    """``<torch hub dir>/lightning_gans/real_statistics`` (next to the Inception weights)."""
    return os.path.join(torch.hub.get_dir(), "lightning_gans", "real_statistics")


@dataclass
class RealStatistics:
    """What the metrics need from the real images: features (KID, precision/recall, ...), FID statistics, labels."""

    features: Tensor  # (N, D) float32
    fid: FIDStatistics
    labels: Tensor | None = None  # (N,) classes of the real images, when the data has them

    @classmethod
    def from_features(cls, features: Tensor, labels: Tensor | None = None) -> RealStatistics:
        """Statistics of ``features`` ``(N, D)``, with the covariance square root precomputed."""
        return cls(features.detach().cpu().float(), features_to_statistics(features).with_sqrt(), labels)

    @property
    def n(self) -> int:
        return self.features.shape[0]


class RealStatisticsCache:
    """A directory of ``real-<digest>.npz`` files keyed by a JSON-serialisable dict.

    Args:
        directory: where files live (created on first save).
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    @staticmethod
    def _key_json(key: dict[str, Any]) -> str:
        return json.dumps({"format": _FORMAT_VERSION, **key}, sort_keys=True)

    def path(self, key: dict[str, Any]) -> str:
        digest = hashlib.sha256(self._key_json(key).encode()).hexdigest()[:24]
        return os.path.join(self.directory, f"real-{digest}.npz")

    def load(self, key: dict[str, Any]) -> RealStatistics | None:
        """The stored statistics for ``key``, or ``None`` when absent or stored under another key."""
        path = self.path(key)
        if not os.path.isfile(path):
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                if str(f["key"]) != self._key_json(key):
                    return None
                features = torch.from_numpy(f["features"])
                stats = FIDStatistics(
                    torch.from_numpy(f["mu"]),
                    torch.from_numpy(f["sigma"]),
                    torch.from_numpy(f["sigma_sqrt"]),
                    features.shape[0],
                )
                labels = torch.from_numpy(f["labels"]) if "labels" in f.files else None
        except Exception as err:  # BadZipFile, EOFError, a missing array, ...: the file is damaged
            raise InputError(
                f"The real-statistics cache file {path!r} is damaged ({type(err).__name__}: {err})."
            ) from err
        return RealStatistics(features, stats, labels)

    def save(self, key: dict[str, Any], stats: RealStatistics) -> str:
        """Write atomically (temporary file + rename) and return the path."""
        os.makedirs(self.directory, exist_ok=True)
        path = self.path(key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".npz.tmp")
        try:
            arrays = {
                "key": np.array(self._key_json(key)),
                "features": stats.features.numpy(),
                "mu": stats.fid.mu.numpy(),
                "sigma": stats.fid.sigma.numpy(),
                "sigma_sqrt": stats.fid.with_sqrt().sigma_sqrt.numpy(),  # type: ignore[union-attr]
            }
            if stats.labels is not None:
                arrays["labels"] = stats.labels.numpy()
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path
