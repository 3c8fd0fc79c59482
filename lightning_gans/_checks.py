"""Argument checks shared by the modules, datamodules and callbacks: each error names the argument."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["integer", "number", "optional_integer"]


def integer(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``.

    Raises:
        ValueError: "`name` must be an integer >= minimum, got ...".
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def optional_integer(name: str, value: Any, minimum: int = 1) -> int | None:
    """:func:`integer`, or ``None`` passed through."""
    return None if value is None else integer(name, value, minimum)


def number(name: str, value: Any, minimum: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite ``float`` if it is a real number (not a bool or a string) within range.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        minimum: lower bound, or ``None``.
        strict: ``value > minimum`` instead of ``>=``.

    Raises:
        TypeError: not a real number (e.g. the string ``"10"`` from a hand-written config).
        ValueError: NaN, infinite or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"`{name}` must be {'>' if strict else '>='} {minimum}, got {value!r}.")
    return value
