"""A quiet console for ``lightning-gans`` and ``import lightning_gans``: no advertising tips, no deprecation noise.

Each filter names one message that a normal run prints and that the user can do nothing about
(checked with lightning 2.6.6, torch 2.14.1, torchdata 0.11.0). Everything else, our own warnings
included, still shows. ``tests/cli/test_outputs.py`` runs an example config and fails on any new
warning, so a dependency upgrade that adds one is noticed.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["SILENCED_WARNINGS", "quiet_console"]

SILENCED_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # torchdata's StatefulDataLoader calls torch.set_vital, deprecated in torch (torchdata <= 0.11).
    (r"'set_vital' is deprecated", UserWarning),
    # Lightning's _pytree builds a LeafSpec, deprecated in torch 2.10+ (lightning <= 2.6.6).
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # ModelCheckpoint(every_n_train_steps=...) under manual optimisation (lightning 2.6.x, PR #21239) asks for a
    # "pre-optimization state". Our modules step inside `training_step`, so the batch-end checkpoint holds the
    # state after the update with the counters, optimizer states and RNG of that same state: what a resume needs.
    (r"Using ModelCheckpoint with manual optimization and every_n_train_steps", UserWarning),
)
"""``(message regex, category)`` of dependency warnings silenced by :func:`quiet_console`."""

_TIP_PREFIX = "\N{ELECTRIC LIGHT BULB} Tip:"
_RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


class _DropTips(logging.Filter):
    """Drops Lightning's "💡 Tip: try installing litlogger / litmodels" advertisements."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TIP_PREFIX)


def quiet_console() -> None:
    """Install the filters above (idempotent); called by ``import lightning_gans`` and by ``lightning-gans``."""
    for message, category in SILENCED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in _RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())
