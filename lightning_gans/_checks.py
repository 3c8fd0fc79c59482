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
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingInputError",
    "boolean",
    "choice",
    "integer",
    "module",
    "new_output",
    "number",
    "optional_integer",
    "output_suffix",
    "value_range",
    "within_range",
    "writable_dir",
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


def within_range(
    name: str, values: Any, declared: tuple[float, float], what: str, hint: str = "", tolerance: float = 1e-5
) -> None:
    """``values`` (a tensor) lie in the ``declared`` range of the argument ``name``, up to float rounding.

    Images outside their declared range would be clipped when converted, written or shown, silently;
    this refuses them. The one check of this concern: evaluation inputs, ``sample`` and ``SampleLogger``.

    Args:
        name: the argument that declares the range, e.g. ``data_range`` or ``--value_range``.
        values: the tensor to check.
        declared: its ``(low, high)``.
        what: what ``values`` are, for the message ("generated samples", "the training images").
        hint: what to do, appended to the message.
        tolerance: allowed excursion, relative to the range's width (float rounding of e.g. tanh).

    Raises:
        InputError: NaN, or values outside the range (naming ``name``, both ranges and the share outside).
    """
    low, high = declared
    x = values.detach().float()
    lo, hi = float(x.min()), float(x.max())
    slack = tolerance * (high - low)
    if not (lo >= low - slack and hi <= high + slack):  # also catches NaN
        outside = float(((x < low - slack) | (x > high + slack) | x.isnan()).float().mean())
        raise InputError(
            f"{what} have values in [{lo:.4g}, {hi:.4g}], outside `{name}`=({low:g}, {high:g}) ({outside:.0%} of them). "
            f"Values are not clipped: {hint or 'set it to the range the images really have.'}"
        )


# -- paths: one check for "can this run write there" and one for "would this mix with older files" --------------


def writable_dir(name: str, path: Any) -> str:
    """``path`` if it is a folder this process can write into, or one it can create (nothing is created).

    The nearest existing folder on the way is probed by creating and removing a temporary file, so a
    read-only file system or a folder owned by someone else is found before any training step, not
    at the first checkpoint.

    Raises:
        InputError: ``path`` (or a parent of it) is a file, or the folder is not writable (naming ``name``).
    """
    path = os.fspath(path)
    if "://" in path:  # a remote file system (s3://, gs://): the logger or checkpoint IO checks it
        return path
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise InputError(
            f"`{name}` {path!r} cannot be a folder: {existing!r} is a file. Give a folder path for the run's outputs."
        )
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".lightning-gans-probe-"):
            pass
    except OSError as err:
        where = "" if existing == os.path.abspath(path) else f" (it would be made inside {existing!r})"
        raise InputError(
            f"`{name}` {path!r} is not writable{where}: {err.strerror or err}. The run's checkpoints and logs would be "
            "lost; choose a folder you can write to."
        ) from None
    return path


def new_output(name: str, path: Any, overwrite: bool = False, folder: bool = False) -> str:
    """``path`` if writing there replaces nothing, or ``overwrite`` is set; its folder must be writable.

    A file must not exist; a folder (``folder=True``) must not hold files already, so new outputs never
    mix with older ones unless asked (``--overwrite``).

    Raises:
        InputError: the output exists (naming ``name`` and what is there), or its folder is not writable.
    """
    path = os.fspath(path)
    if folder:
        if os.path.isfile(path):
            raise InputError(f"`{name}` {path!r} is a file, not a folder.")
        if os.path.isdir(path) and not overwrite:
            held = sorted(e for e in os.listdir(path) if not e.startswith("."))
            if held:
                raise InputError(
                    f"`{name}` {path!r} already holds {len(held)} file(s) ({held[0]!r}, ...): new outputs would mix "
                    "with them. Choose an empty or new folder, or pass `--overwrite` to replace its contents."
                )
        writable_dir(name, path)
        return path
    if os.path.isdir(path):
        raise InputError(f"`{name}` {path!r} is a folder; end it with / to write a folder, or give a file name.")
    if os.path.exists(path) and not overwrite:
        raise InputError(f"`{name}` {path!r} already exists; choose another name or pass `--overwrite` to replace it.")
    writable_dir(name, os.path.dirname(os.path.abspath(path)))
    return path


def output_suffix(name: str, path: Any, formats: Mapping[str, str]) -> str:
    """The suffix of ``path`` (lower case) if it is one of ``formats`` (suffix -> format name): extensions mean formats.

    Raises:
        InputError: another suffix, naming ``name`` and listing the suffixes and their formats.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in formats:
        listed = ", ".join(f"{s} ({f})" for s, f in formats.items())
        raise InputError(f"`{name}` {os.fspath(path)!r}: the extension {suffix or '(none)'!r} is not one of {listed}.")
    return suffix
