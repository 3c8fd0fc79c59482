"""Differentiable image augmentations for the critic's inputs, as pure functions of ``(x, rng)``.

Two families, both differentiable with respect to ``x`` (so the generator learns through them) and
drawing every random number from the ``torch.Generator`` they are given (so a module that reseeds
its RNG per update stays bit-exact on resume and identical across ranks given the same seed):

- **DiffAugment** (Zhao et al. 2020, https://arxiv.org/abs/2006.10738): ``color`` (brightness,
  saturation, contrast), ``translation`` (integer shifts up to 1/8 of the side, zero fill) and
  ``cutout`` (one zeroed square of half the side), every op applied to every sample;
  :func:`diff_augment` runs a comma-separated policy of them.
- **ADA's pipeline, a subset** (Karras et al. 2020, https://arxiv.org/abs/2006.06676, Sec. 2.3 and
  Appendix B): each transform is applied to each sample independently with probability ``p``.
  :func:`ada_augment` implements the "bgc" groups without the RGB-only colour ops:

  * blit: horizontal flip, rotation by a multiple of 90 degrees, integer translation (up to 1/8 of
    the side);
  * geometric: isotropic scaling (log2-normal, std 0.2), arbitrary rotation (uniform), anisotropic
    scaling (log2-normal, std 0.2), fractional translation (normal, std 1/8 of the side);
  * colour: brightness (additive, normal std 0.2), contrast (multiplicative about 0, log2-normal
    std 0.5), saturation (about the channel mean, log2-normal std 1; a no-op for 1 channel).

  Left out: luma flip and hue rotation (defined for RGB only), the image-space filters and
  additive noise / cutout groups, and ADA's split of the rotation into two half-probability
  rotations around the anisotropic scaling. All geometric transforms are composed into one affine
  map and applied by one ``grid_sample`` with reflection padding (ADA pads by reflection too), so the
  integer ones land exactly on pixel centres.

Images are ``(N, C, H, W)`` in the generator's range ([-1, 1] for ``tanh`` generators); any
number of channels works.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gans._checks import InputError

__all__ = [
    "ADA_OPS",
    "DIFF_AUGMENT_OPS",
    "ada_augment",
    "brightness",
    "contrast",
    "cutout",
    "diff_augment",
    "parse_policy",
    "saturation",
    "translation",
]

Augment = Callable[[Tensor, torch.Generator | None], Tensor]


def _rand(x: Tensor, *shape: int, rng: torch.Generator | None) -> Tensor:
    return torch.rand(shape, device=x.device, dtype=x.dtype, generator=rng)


def _randn(x: Tensor, *shape: int, rng: torch.Generator | None) -> Tensor:
    return torch.randn(shape, device=x.device, dtype=x.dtype, generator=rng)


def _check_images(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"`x` must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}.")


# ---------------------------------------------------------------------------------------------
# DiffAugment
def brightness(x: Tensor, rng: torch.Generator | None = None) -> Tensor:
    """Add one offset ``U[-0.5, 0.5)`` per sample (DiffAugment ``color``)."""
    return x + (_rand(x, x.shape[0], 1, 1, 1, rng=rng) - 0.5)


def saturation(x: Tensor, rng: torch.Generator | None = None) -> Tensor:
    """Scale each pixel's deviation from its channel mean by ``U[0, 2)`` per sample (DiffAugment ``color``)."""
    mean = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
    return (x - mean) * (_rand(x, x.shape[0], 1, 1, 1, rng=rng) * 2) + mean


def contrast(x: Tensor, rng: torch.Generator | None = None) -> Tensor:
    """Scale each sample's deviation from its mean by ``U[0.5, 1.5)`` (DiffAugment ``color``)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (x - mean) * (_rand(x, x.shape[0], 1, 1, 1, rng=rng) + 0.5) + mean


def translation(x: Tensor, rng: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    """Shift each sample by whole pixels, up to ``round(ratio * side)`` each way, filling with zeros.

    Output pixel ``(i, j)`` of sample ``n`` is input pixel ``(i - dy_n, j - dx_n)`` or 0 outside.
    """
    _check_images(x)
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1), device=x.device, generator=rng)
    dx = torch.randint(-sx, sx + 1, (n, 1), device=x.device, generator=rng)
    padded = F.pad(x, [sx, sx, sy, sy])  # zeros around: (N, C, H + 2 sy, W + 2 sx)
    rows = torch.arange(h, device=x.device)[None, :] - dy + sy  # (N, H) rows of `padded` to read
    cols = torch.arange(w, device=x.device)[None, :] - dx + sx  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


def cutout(x: Tensor, rng: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ``round(ratio * side)`` per sample, centred anywhere in the image
    (clipped at the border)."""
    _check_images(x)
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=rng)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=rng)
    top, left = cy - ch // 2, cx - cw // 2
    i = torch.arange(h, device=x.device)[None, :, None]
    j = torch.arange(w, device=x.device)[None, None, :]
    inside = (i >= top) & (i < top + ch) & (j >= left) & (j < left + cw)  # (N, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


DIFF_AUGMENT_OPS: dict[str, tuple[Augment, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}
"""DiffAugment's policy names and the ops each runs, in the paper's order."""


def _refuse_duplicates(name: str, values: Sequence[str]) -> None:
    repeated = sorted({v for v in values if list(values).count(v) > 1})
    if repeated:
        raise InputError(
            f"`{name}` names {', '.join(repr(r) for r in repeated)} more than once ({list(values)}): each op runs once "
            "per batch, so a repeat would either do nothing or silently double its strength; list each op once."
        )


def parse_policy(policy: str) -> tuple[str, ...]:
    """Split ``"color,translation,cutout"`` into known names, each once.

    Raises:
        ValueError: an unknown or repeated entry (``"color,color"``), naming `policy`.
    """
    if not isinstance(policy, str):
        raise ValueError(f"`policy` must be a comma-separated string, got {policy!r}.")
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in DIFF_AUGMENT_OPS]
    if unknown or not names:
        raise InputError(
            f"Unknown `policy` entries {unknown or [policy]}; expected a comma-separated subset of {sorted(DIFF_AUGMENT_OPS)}."
        )
    _refuse_duplicates("policy", names)
    return names


def diff_augment(x: Tensor, policy: str = "color,translation,cutout", rng: torch.Generator | None = None) -> Tensor:
    """Apply DiffAugment's ops of ``policy`` to every sample of ``x`` (Zhao et al. 2020).

    Example:
        >>> rng = torch.Generator().manual_seed(0)
        >>> diff_augment(torch.zeros(4, 3, 32, 32), "translation,cutout", rng).shape
        torch.Size([4, 3, 32, 32])
    """
    _check_images(x)
    for name in parse_policy(policy):
        for op in DIFF_AUGMENT_OPS[name]:
            x = op(x, rng)
    return x


# ---------------------------------------------------------------------------------------------
# ADA
ADA_OPS = (
    "xflip",
    "rotate90",
    "xint",  # blit
    "scale",
    "rotate",
    "aniso",
    "xfrac",  # geometric
    "brightness",
    "contrast",
    "saturation",  # colour
)
"""Transforms :func:`ada_augment` can apply, in the order ADA's pipeline composes them."""

_XINT_MAX = 0.125  # integer translation range, fraction of the side
_SCALE_STD = 0.2  # log2 std of isotropic scaling
_ANISO_STD = 0.2  # log2 std of anisotropic scaling
_XFRAC_STD = 0.125  # std of fractional translation, fraction of the side
_BRIGHTNESS_STD = 0.2
_CONTRAST_STD = 0.5  # log2
_SATURATION_STD = 1.0  # log2


def _matrix(a: Tensor, b: Tensor, c: Tensor, d: Tensor, tx: Tensor, ty: Tensor) -> Tensor:
    """Batch of 3x3 affine matrices ``[[a, b, tx], [c, d, ty], [0, 0, 1]]``, shape ``(N, 3, 3)``."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack(
        [torch.stack([a, b, tx], -1), torch.stack([c, d, ty], -1), torch.stack([zero, zero, one], -1)], -2
    )


def ada_augment(x: Tensor, p: float, rng: torch.Generator | None = None, ops: tuple[str, ...] = ADA_OPS) -> Tensor:
    """Apply each transform of ``ops`` to each sample with probability ``p`` (ADA, Karras et al. 2020).

    Every random number of every op is drawn whatever ``p`` is (a fixed number of draws per call);
    ``p == 0`` returns ``x`` itself without drawing.

    Args:
        x: images ``(N, C, H, W)``.
        p: augmentation probability in [0, 1].
        rng: the RNG to draw from.
        ops: a subset of :data:`ADA_OPS`.

    Example:
        >>> rng = torch.Generator().manual_seed(0)
        >>> ada_augment(torch.zeros(4, 1, 8, 8), 0.5, rng).shape
        torch.Size([4, 1, 8, 8])
    """
    _check_images(x)
    unknown = [o for o in ops if o not in ADA_OPS]
    if unknown:
        raise ValueError(f"Unknown `ops` {unknown}; expected a subset of {list(ADA_OPS)}.")
    _refuse_duplicates("ops", ops)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"`p` must be in [0, 1], got {p!r}.")
    if p == 0.0 or not ops:
        return x
    n, _, h, w = x.shape
    f32 = torch.float32

    def gate(values: Tensor, identity: float) -> Tensor:  # keep `values` with probability p, else identity
        keep = torch.rand(n, device=x.device, generator=rng) < p
        return torch.where(keep, values, torch.full_like(values, identity))

    def draw_normal() -> Tensor:
        return torch.randn(n, device=x.device, dtype=f32, generator=rng)

    def draw_uniform() -> Tensor:
        return torch.rand(n, device=x.device, dtype=f32, generator=rng)

    # Geometric: one affine map from output to input coordinates, in grid_sample's [-1, 1] units
    # (one pixel is 2 / side). Each factor is identity unless its gate fires.
    one, zero = torch.ones(n, device=x.device, dtype=f32), torch.zeros(n, device=x.device, dtype=f32)
    theta = torch.eye(3, device=x.device, dtype=f32).expand(n, 3, 3)
    geometric = False
    if "xflip" in ops:
        flip = gate(1.0 - 2.0 * torch.floor(draw_uniform() * 2), 1.0)  # -1 or 1
        theta = theta @ _matrix(flip, zero, zero, one, zero, zero)
        geometric = True
    if "rotate90" in ops:
        quarter = gate(torch.floor(draw_uniform() * 4), 0.0) * (math.pi / 2)
        cos, sin = torch.round(torch.cos(quarter)), torch.round(torch.sin(quarter))
        theta = theta @ _matrix(cos, -sin, sin, cos, zero, zero)
        geometric = True
    if "xint" in ops:
        tx = torch.round((draw_uniform() * 2 - 1) * _XINT_MAX * w) * (2.0 / w)
        ty = torch.round((draw_uniform() * 2 - 1) * _XINT_MAX * h) * (2.0 / h)
        keep = gate(one, 0.0)
        theta = theta @ _matrix(one, zero, zero, one, tx * keep, ty * keep)
        geometric = True
    if "scale" in ops:
        s = gate(torch.exp2(draw_normal() * _SCALE_STD), 1.0)
        theta = theta @ _matrix(s, zero, zero, s, zero, zero)
        geometric = True
    if "rotate" in ops:
        angle = gate((draw_uniform() * 2 - 1) * math.pi, 0.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = theta @ _matrix(cos, -sin, sin, cos, zero, zero)
        geometric = True
    if "aniso" in ops:
        s = gate(torch.exp2(draw_normal() * _ANISO_STD), 1.0)
        theta = theta @ _matrix(s, zero, zero, 1.0 / s, zero, zero)
        geometric = True
    if "xfrac" in ops:
        keep = gate(one, 0.0)
        tx, ty = draw_normal() * _XFRAC_STD * 2 * keep, draw_normal() * _XFRAC_STD * 2 * keep
        theta = theta @ _matrix(one, zero, zero, one, tx, ty)
        geometric = True
    if geometric:
        grid = F.affine_grid(theta[:, :2, :].to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    # Colour, per sample.
    if "brightness" in ops:
        x = x + gate(draw_normal() * _BRIGHTNESS_STD, 0.0).to(x.dtype).view(n, 1, 1, 1)
    if "contrast" in ops:
        x = x * gate(torch.exp2(draw_normal() * _CONTRAST_STD), 1.0).to(x.dtype).view(n, 1, 1, 1)
    if "saturation" in ops:
        s = gate(torch.exp2(draw_normal() * _SATURATION_STD), 1.0).to(x.dtype).view(n, 1, 1, 1)
        mean = x.mean(dim=1, keepdim=True)
        x = mean + (x - mean) * s
    return x
