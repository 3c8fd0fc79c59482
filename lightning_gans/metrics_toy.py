"""Deprecated: moved to :mod:`lightning_gans.evaluation.toy` (kept for one release)."""

import warnings

from lightning_gans.evaluation.toy import *  # noqa: F403
from lightning_gans.evaluation.toy import __all__  # noqa: F401

warnings.warn(
    "`lightning_gans.metrics_toy` moved to `lightning_gans.evaluation.toy`.", DeprecationWarning, stacklevel=2
)
