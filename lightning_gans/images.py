"""Image grids as people look at them: tiled, upscaled with sharp pixels, as ``(H, W, 3)`` uint8.

Used by the sample callbacks and ``lightning-gans sample``; nothing here needs Lightning.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["MIN_SIDE", "image_grid", "to_uint8_hwc", "upscale_nearest"]

MIN_SIDE = 256
"""Logged and written grids are upscaled (nearest neighbour) to at least this many pixels per side."""


def to_uint8_hwc(image: Tensor) -> Tensor:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 on the CPU."""
    return image.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().contiguous()


def upscale_nearest(image: Tensor, min_side: int = MIN_SIDE) -> Tensor:
    """Repeat each pixel of ``image`` (``(H, W, C)``) ``f x f`` times, with the smallest integer ``f`` that
    makes both sides at least ``min_side``; pixels stay sharp squares (no interpolation)."""
    if image.dim() != 3:
        raise ValueError(f"`image` must be (H, W, C), got {tuple(image.shape)}.")
    factor = max(1, -(-min_side // min(image.shape[0], image.shape[1])))  # ceil division
    return image.repeat_interleave(factor, dim=0).repeat_interleave(factor, dim=1) if factor > 1 else image


def image_grid(
    images: Tensor, value_range: tuple[float, float], nrow: int | None = None, min_side: int = MIN_SIDE
) -> Tensor:
    """A grid of ``images`` (``(N, C, H, W)``, C in {1, 3}, in ``value_range``) as ``(H, W, 3)`` uint8.

    Each image is upscaled (nearest) before tiling, so the 2-pixel white separators stay thin,
    until the grid is at least ``min_side`` pixels per side. ``nrow`` defaults to ``ceil(sqrt(N))``.
    """
    from torchvision.utils import make_grid

    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"`images` must be (N, C, H, W) with C in (1, 3), got {tuple(images.shape)}.")
    n, _, h, w = images.shape
    nrow = min(nrow or math.ceil(math.sqrt(n)), n)  # make_grid never uses more columns than images
    nrows_used = -(-n // nrow)
    # smallest f with  count * (f * size + 2) + 2 >= min_side  along both axes (make_grid pads by 2)
    factor = max(1, *(-(-(min_side - 2 - 2 * count) // (count * size)) for count, size in ((nrow, w), (nrows_used, h))))
    x = images.detach().float().cpu()
    if factor > 1:
        x = x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
    grid = make_grid(x, nrow=nrow, normalize=True, value_range=value_range, pad_value=1.0)
    return upscale_nearest(to_uint8_hwc(grid), min_side)  # tops up when the padding made a side short
