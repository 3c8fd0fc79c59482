"""Range and channel conversion from a generator's output to a feature extractor's input.

Extractors receive float images in [0, 1] with the number of channels they declare
(``in_channels``). Values outside the declared ``data_range`` are an error, never clipped: a
generator that leaves its range would otherwise get a flattering score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from lightning_gans import _checks

__all__ = ["CHANNEL_CONVERSIONS", "check_data_range", "to_extractor_input"]

_TOLERANCE = 1e-5  # relative to the range's width: float rounding of e.g. tanh, not real excursions

# ITU-R BT.601 luma, as in torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)

CHANNEL_CONVERSIONS: dict[tuple[int, int], Callable[[Tensor], Tensor]] = {
    (1, 3): lambda x: x.expand(-1, 3, -1, -1),  # grey to RGB by repetition
    (3, 1): lambda x: (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True),
}
"""``(image channels, extractor channels) -> conversion``; equal counts pass through."""


def check_data_range(data_range: Sequence[float]) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair and return it as floats."""
    try:
        low, high = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`data_range` must be a pair (low, high), e.g. (-1, 1) or (0, 1); got {data_range!r}."
        ) from None
    if not high > low:
        raise ValueError(f"`data_range` must have high > low, got {data_range!r}.")
    return low, high


def to_extractor_input(
    images: Tensor, data_range: tuple[float, float], in_channels: int | None, what: str = "images"
) -> Tensor:
    """Map ``images`` ``(N, C, H, W)`` in ``data_range`` to float32 ``(N, in_channels, H, W)`` in [0, 1].

    Args:
        images: a batch of images.
        data_range: ``(low, high)`` the images are declared to lie in.
        in_channels: channels the extractor expects (``None``: keep ``C``).
        what: name of the batch in error messages ("generated samples", "real samples").

    Raises:
        ValueError: wrong shape, values outside ``data_range`` (by more than float rounding),
            or a channel count with no conversion.
    """
    if images.dim() != 4:
        raise ValueError(f"{what} must be images (N, C, H, W), got shape {tuple(images.shape)}.")
    low, high = data_range
    x = images.detach().float()
    hint = "set `data_range` to the range the images really have (e.g. (0, 1) for a sigmoid output)."
    _checks.within_range("data_range", x, data_range, what, hint, _TOLERANCE)
    x = ((x - low) / (high - low)).clamp_(0, 1)  # removes only float rounding (checked above)
    c = x.shape[1]
    if in_channels is None or in_channels == c:
        return x
    convert = CHANNEL_CONVERSIONS.get((c, in_channels))
    if convert is None:
        raise ValueError(
            f"{what} have {c} channels but the feature extractor expects {in_channels}; "
            f"supported conversions: {sorted(CHANNEL_CONVERSIONS)}."
        )
    return convert(x).contiguous()
