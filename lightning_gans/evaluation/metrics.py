"""FID, IS and KID from features: pure functions, numerically matched to torch-fidelity.

Names follow the data flow, as in torch-fidelity: features -> statistics -> metric. Everything runs
in float64 except the KID kernels (float32 features, as in torch-fidelity).

- FID (Heusel et al. 2017, https://arxiv.org/abs/1706.08500):
  ``|mu_f - mu_r|^2 + tr(S_f) + tr(S_r) - 2 tr((S_f S_r)^(1/2))``. The trace term equals
  ``sum(sqrt(eig(R S_f R)))`` with ``R = S_r^(1/2)`` (same spectrum as ``S_f S_r``); ``R`` is computed
  once per real statistics and cached, so each evaluation needs one *symmetric* eigendecomposition
  instead of torch-fidelity's general ``eigvals(S_f @ S_r)``; with fewer generated samples N than
  dimensions, an N x N one (see :func:`frechet_distance`).
- IS (Salimans et al. 2016, https://arxiv.org/abs/1606.03498): torch-fidelity's
  ``isc_features_to_metric`` itself (seeded shuffle, ``splits`` chunks).
- KID (Binkowski et al. 2018, https://arxiv.org/abs/1801.01401): unbiased MMD^2 with the cubic
  polynomial kernel ``(x.y / d + 1)^3`` over ``subsets`` random subsets of ``subset_size``, drawn with
  the same ``numpy.random.RandomState(seed)`` calls as torch-fidelity.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

__all__ = [
    "FID",
    "IS",
    "IS_STD",
    "KID",
    "KID_STD",
    "FIDStatistics",
    "check_sample_count",
    "features_to_statistics",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
]

# Result keys (logged under ``eval/``).
FID = "fid"
IS = "is"
IS_STD = "is_std"
KID = "kid"
KID_STD = "kid_std"


@dataclass
class FIDStatistics:
    """Mean and covariance of features, plus the covariance's symmetric square root when known."""

    mu: Tensor  # (D,) float64
    sigma: Tensor  # (D, D) float64
    sigma_sqrt: Tensor | None = None  # (D, D) float64, PSD square root of sigma
    n: int = 0
    centred: Tensor | None = None  # (N, D) float64 features minus mu, kept when N <= D (sigma then has rank < N)

    def with_sqrt(self) -> FIDStatistics:
        """Return these statistics with ``sigma_sqrt`` filled in (one ``eigh``, done once and cached)."""
        if self.sigma_sqrt is None:
            vals, vecs = torch.linalg.eigh(self.sigma)
            self.sigma_sqrt = (vecs * vals.clamp_min(0).sqrt()) @ vecs.T  # V diag(sqrt(l)) V^T
        return self


def check_sample_count(n: int, dim: int, what: str, argument: str) -> None:
    """Error below 2 samples; warn when ``n <= dim`` (the covariance is then rank-deficient).

    Args:
        n: number of samples.
        dim: feature dimension.
        what: which set, for the message ("generated", "real").
        argument: the argument that sets ``n``, named in the message.
    """
    if n < 2:
        raise ValueError(
            f"FID needs at least 2 {what} samples for a covariance, got {n}; set `{argument}` >= {dim + 1}."
        )
    if n <= dim:
        warnings.warn(
            f"FID with {dim}-dimensional features needs at least {dim + 1} {what} samples for a full-rank covariance, "
            f"got {n}: the value is biased and not comparable. Set `{argument}` >= {dim + 1} "
            "(the FID paper and torch-fidelity use 10,000-50,000 for Inception's 2048 features).",
            UserWarning,
            stacklevel=2,
        )


def features_to_statistics(features: Tensor) -> FIDStatistics:
    """Mean and unbiased covariance (``numpy.cov``'s) of ``features`` ``(N, D)``, in float64."""
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"`features` must have shape (N >= 2, D), got {tuple(features.shape)}.")
    f = features.detach().cpu().double()
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    return FIDStatistics(mu, sigma, None, f.shape[0], centred if f.shape[0] <= f.shape[1] else None)


def frechet_distance(fake: FIDStatistics, real: FIDStatistics) -> float:
    """FID between two Gaussians; uses (and fills) ``real.sigma_sqrt``, unless ``fake`` has fewer samples than dimensions.

    With ``N <= D`` generated samples (``fake.centred`` = C, ``sigma_f = C^T C / (N - 1)``), the nonzero
    eigenvalues of ``sigma_f @ sigma_r`` are those of the ``(N, N)`` matrix ``C sigma_r C^T / (N - 1)``
    (AB and BA share them): an N x N eigendecomposition replaces the D x D one, and the same value
    comes out without the noise of the D - N zero eigenvalues.
    """
    if fake.mu.shape != real.mu.shape:
        raise ValueError(f"Feature dimensions differ: generated {tuple(fake.mu.shape)}, real {tuple(real.mu.shape)}.")
    if fake.centred is not None:
        c = fake.centred
        m = c @ real.sigma @ c.T / (c.shape[0] - 1)  # (N, N), symmetric PSD
    else:
        r = real.with_sqrt().sigma_sqrt
        assert r is not None  # with_sqrt fills it
        m = r @ fake.sigma @ r  # symmetric PSD, same eigenvalues as sigma_f @ sigma_r
    eig = torch.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = eig.clamp_min(0).sqrt().sum()  # torch-fidelity: sqrt(complex eig).real, 0 for eig < 0
    diff = fake.mu - real.mu
    return float(diff @ diff + fake.sigma.trace() + real.sigma.trace() - 2 * tr_covmean)


def inception_score(logits: Tensor, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """IS mean and std over ``splits`` chunks of ``logits`` ``(N, K)`` (torch-fidelity's function)."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    if logits.dim() != 2 or logits.shape[0] < splits:
        raise ValueError(f"`logits` must have shape (N >= splits={splits}, K), got {tuple(logits.shape)}.")
    out = isc_features_to_metric(logits.detach().cpu(), splits=splits, shuffle=True, rng_seed=seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1) ** 3  # (x.y / d + 1)^3, torch-fidelity's default KID kernel


def _mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    m = k_xx.shape[0]
    sum_xx = k_xx.sum(dtype=np.float64) - np.trace(k_xx, dtype=np.float64)
    sum_yy = k_yy.sum(dtype=np.float64) - np.trace(k_yy, dtype=np.float64)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2 * k_xy.sum(dtype=np.float64) / (m * m))


def kernel_inception_distance(
    fake: Tensor, real: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets of ``subset_size`` samples of each set.

    When the subsets together cover the sets several times over, the three Gram matrices are
    computed once and the subsets index into them (same values, far fewer flops). NumPy float32
    kernels, as in torch-fidelity.

    Args:
        fake: generated features ``(N_f, D)`` (torch-fidelity's ``input1``).
        real: real features ``(N_r, D)`` (``input2``).
    """
    n_f, n_r = fake.shape[0], real.shape[0]
    if subset_size < 2 or subset_size > min(n_f, n_r):
        raise ValueError(
            f"`kid_subset_size` must be in [2, min(generated, real) = {min(n_f, n_r)}], got {subset_size}."
        )
    f = fake.detach().cpu().float().numpy()
    r = real.detach().cpu().float().numpy()
    rng = np.random.RandomState(seed)
    draws = [
        (rng.choice(n_f, subset_size, replace=False), rng.choice(n_r, subset_size, replace=False))
        for _ in range(subsets)
    ]
    full = (n_f**2 + n_r**2 + n_f * n_r) < subsets * 3 * subset_size**2
    grams = (_poly_kernel(f, f), _poly_kernel(r, r), _poly_kernel(f, r)) if full else None
    # Small per-subset products lose more to BLAS thread synchronisation than they gain.
    threads = threadpool_limits(1, "blas") if subset_size**2 * f.shape[1] < 2**24 else contextlib.nullcontext()
    with threads:
        mmds = [_subset_mmd2(f, r, i_f, i_r, grams) for i_f, i_r in draws]
    values = np.asarray(mmds)
    return float(values.mean()), float(values.std())


def _subset_mmd2(f: np.ndarray, r: np.ndarray, i_f: np.ndarray, i_r: np.ndarray, grams: tuple | None) -> float:
    if grams is not None:
        k_ff, k_rr, k_fr = grams
        return _mmd2_unbiased(k_ff[np.ix_(i_f, i_f)], k_fr[np.ix_(i_f, i_r)], k_rr[np.ix_(i_r, i_r)])
    x, y = f[i_f], r[i_r]
    return _mmd2_unbiased(_poly_kernel(x, x), _poly_kernel(x, y), _poly_kernel(y, y))
