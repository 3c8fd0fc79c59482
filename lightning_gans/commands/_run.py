"""What the commands share: their error type and the parsing of ``--labels``."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_gans._checks import InputError

__all__ = ["CommandError", "parse_labels"]


class CommandError(InputError):
    """Bad command-line input: printed as ``error: <message>`` with exit status 2, no traceback."""


def parse_labels(spec: str | None, n: int, num_classes: int | None) -> Tensor | None:
    """Labels for ``n`` samples from ``--labels``: ``"3"`` (all class 3), ``"0,1,2"`` (cycled), or ``"all"``
    (each class in turn, ``n // num_classes`` apiece, in blocks).

    ``"all"`` needs ``n`` a multiple of ``num_classes``: every class then gets the same number of
    samples (one grid row each). Any other ``n`` would leave classes out or short (15 samples of
    10 classes in blocks of 2 used to leave out classes 8 and 9), so it is refused, naming the
    nearest multiples.

    Raises:
        CommandError: labels for an unconditional model, a label outside ``[0, num_classes)``, or
            ``"all"`` with ``n`` not a multiple of ``num_classes``.
    """
    if spec is None:
        return None
    if num_classes is None:
        raise CommandError("`--labels` is for conditional models; this checkpoint's model has no `num_classes`.")
    if spec.strip() == "all":
        if n % num_classes:
            lower, upper = n - n % num_classes, n - n % num_classes + num_classes
            options = f"{lower} or {upper}" if lower else str(upper)
            raise CommandError(
                f"`--labels all` gives each of the {num_classes} classes the same number of samples, so `--num` must be "
                f"a multiple of {num_classes}; got {n} (use {options})."
            )
        return torch.arange(num_classes).repeat_interleave(n // num_classes)
    try:
        values = [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"`--labels` must be class indices like 3 or 0,1,2 or `all`, got {spec!r}.") from None
    if not values or any(not 0 <= v < num_classes for v in values):
        raise CommandError(f"`--labels` {spec!r}: every label must be in [0, {num_classes}).")
    return torch.tensor(values).repeat(-(-n // len(values)))[:n]
