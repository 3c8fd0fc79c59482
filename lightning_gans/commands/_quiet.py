"""The console filters of ``lightning-gans``; they live in :mod:`lightning_gans._quiet`, installed at import."""

from lightning_gans._quiet import SILENCED_WARNINGS, quiet_console

__all__ = ["SILENCED_WARNINGS", "quiet_console"]
