"""Argument checks shared by every entry point: each error names the argument, what it got and what it expects.

The modules, datamodules, callbacks, the Hub loader and the commands all check through these, so one
concern has one check and one wording. Errors are :class:`InputError` (a ``ValueError``); a value of
the wrong type is an :class:`InputTypeError`, which is also a ``TypeError``, and a missing file or
folder a :class:`MissingInputError`, also a ``FileNotFoundError``. The commands print
either as ``error: <message>`` with exit status 2.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingInputError",
    "boolean",
    "choice",
    "integer",
    "module",
    "number",
    "optional_integer",
    "value_range",
]


class InputError(ValueError):
    """Bad user input (an argument, a file, a folder); the message names it and what was expected."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type (a ``TypeError`` as well as an :class:`InputError`)."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or folder that does not exist (a ``FileNotFoundError`` as well as an :class:`InputError`)."""


def integer(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    Raises:
        InputError: "`name` must be an integer >= minimum, got ...".
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InputError(f"`{name}` must be an integer {bounds}, got {value!r}.")
    return value


def optional_integer(name: str, value: Any, minimum: int = 1) -> int | None:
    """:func:`integer`, or ``None`` passed through."""
    return None if value is None else integer(name, value, minimum)


def number(
    name: str,
    value: Any,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
    strict_maximum: bool = False,
) -> float:
    """``value`` as a finite ``float`` if it is a real number (not a bool or a string) within range.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        minimum: lower bound, or ``None``.
        strict: ``value > minimum`` instead of ``>=``.
        maximum: upper bound, or ``None``.
        strict_maximum: ``value < maximum`` instead of ``<=``.

    Raises:
        InputTypeError: not a real number (e.g. the string ``"10"`` from a hand-written config).
        InputError: NaN, infinite or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"`{name}` must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"`{name}` must be finite, got {value!r}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise InputError(f"`{name}` must be {'>' if strict else '>='} {minimum}, got {value!r}.")
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise InputError(f"`{name}` must be {'<' if strict_maximum else '<='} {maximum}, got {value!r}.")
    return value


def boolean(name: str, value: Any) -> bool:
    """``value`` if it is a bool (not ``0``/``1`` or a string such as ``"false"``, which is truthy).

    Raises:
        InputTypeError: not a bool.
    """
    if not isinstance(value, bool):
        raise InputTypeError(f"`{name}` must be true or false, got {type(value).__name__} {value!r}.")
    return value


def choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    Raises:
        InputError: naming the argument and listing the choices.
    """
    options = list(choices)
    if value not in options:
        raise InputError(f"Unknown `{name}` {value!r}; expected one of {options}.")
    return value


def module(name: str, value: Any) -> Any:
    """``value`` if it is a ``torch.nn.Module``.

    Raises:
        InputTypeError: naming the argument and the type it got.
    """
    from torch import nn

    if not isinstance(value, nn.Module):
        raise InputTypeError(f"`{name}` must be a torch.nn.Module, got {type(value).__name__}.")
    return value


def value_range(name: str, value: Any) -> tuple[float, float]:
    """A ``(low, high)`` pair of finite numbers with ``low < high``, as floats.

    Raises:
        InputError: not a pair, not numbers, or ``low >= high`` (naming the argument).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(f"`{name}` must be a pair (low, high), e.g. (-1, 1) or (0, 1); got {value!r}.")
    low, high = (number(name, v) for v in value)
    if not low < high:
        raise InputError(f"`{name}` must be (low, high) with low < high, got {tuple(value)!r}.")
    return low, high
