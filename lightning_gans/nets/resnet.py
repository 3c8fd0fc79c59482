"""ResNet generator and critic of SNGAN (Miyato et al. 2018) and WGAN-GP (Gulrajani et al. 2017).

The architectures of SNGAN's appendix (Miyato et al. 2018, https://arxiv.org/abs/1802.05957,
Tables 4 and 6, "ResNet" for CIFAR-10 at 32x32 and STL-10 / 64x64), which reuse the residual
blocks of WGAN-GP's CIFAR-10 ResNet (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028,
Appendix F):

- generator: ``Linear(z) -> (w0, 4, 4)``, one up-block per factor 2 (BatchNorm, ReLU, nearest
  2x upsampling, 3x3 conv, BatchNorm, ReLU, 3x3 conv; a 1x1 conv on the upsampled shortcut when
  the width changes or the block upsamples), then BatchNorm, ReLU, 3x3 conv, ``tanh``;
- critic: a first "optimised" block (3x3 conv, ReLU, 3x3 conv, 2x2 average pooling; shortcut
  pooling then 1x1 conv), down-blocks (ReLU, 3x3 conv, ReLU, 3x3 conv, average pooling; shortcut
  1x1 conv then pooling), blocks at constant resolution, then ReLU, a global **sum** pooling and
  one ``Linear`` to a logit.

Presets (``base_channels`` and ``channel_multipliers`` left at ``None``):

=============  =====================================  =========================================
image size     generator widths (4x4 ... out)         critic widths (after each block)
=============  =====================================  =========================================
32             256, 256, 256, 256 (SNGAN CIFAR-10)    128, 128 (down), 128, 128 (same res.)
64             1024, 512, 256, 128, 64 (SNGAN 64)      64, 128, 256, 512, 1024 (all down)
=============  =====================================  =========================================

Parameter counts at the presets with 3 channels and ``latent_dim=128`` (asserted by
``tests/nets/test_resnet.py``): generator 4,276,739 at 32 px and 12,220,675 at 64 px; critic 1,053,825
at 32 px and 19,542,721 at 64 px (spectral norm adds buffers, no parameters). The layouts are those
of SNGAN's appendix tables and of Mimicry's ``ResNetGenerator32``/``ResNetDiscriminator32`` and
``...64`` (kwotsin/mimicry, ``torch_mimicry/nets/sngan``), the PyTorch reproduction of SNGAN;
counting the layers and widths listed there by hand gives the same totals (e.g. 4.28M for the 32 px
generator at width 256: a 128 -> 4096 linear layer, three 256-wide up-blocks of 1.25M, the output conv). WGAN-GP's CIFAR-10 ResNet is the 32 px layout at width 128 in both nets
(``base_channels=128``): 1,204,483 generator and 1,053,825 critic parameters.

Weights are initialised as in the SNGAN code: Xavier-uniform, gain sqrt(2) for the 3x3 convs of
the residual branches, 1 for shortcuts, the first linear layer and the output conv.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.nets.conditional import ConditionalBatchNorm2d, ProjectionHead, check_num_classes, expect_labels

__all__ = ["CriticBlock", "GeneratorBlock", "ResNetCritic", "ResNetGenerator"]

# image size -> (base width, multipliers): widths are base * multiplier
_GENERATOR_PRESETS: dict[int, tuple[int, tuple[int, ...]]] = {
    32: (256, (1, 1, 1, 1)),
    64: (64, (16, 8, 4, 2, 1)),
}
# image size -> (base width, multipliers of the down-blocks, blocks at constant resolution)
_CRITIC_PRESETS: dict[int, tuple[int, tuple[int, ...], int]] = {
    32: (128, (1, 1), 2),
    64: (64, (1, 2, 4, 8, 16), 0),
}


_Layer = TypeVar("_Layer", nn.Conv2d, nn.Linear)


def _xavier(layer: _Layer, gain: float) -> _Layer:
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv(in_ch: int, out_ch: int, kernel: int, gain: float) -> nn.Conv2d:
    return _xavier(nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2), gain)


def _check_size(image_size: int) -> None:
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or image_size < 8
        or image_size & (image_size - 1)
    ):
        raise ValueError(f"`image_size` must be a power of two >= 8, got {image_size!r}.")


def _multipliers(value: Sequence[int] | None, preset: tuple[int, ...] | None, image_size: int) -> tuple[int, ...]:
    if value is None:
        if preset is None:
            raise ValueError(
                f"No preset for `image_size`={image_size}: pass `channel_multipliers` "
                f"(presets exist for {sorted(_GENERATOR_PRESETS)})."
            )
        return preset
    out = tuple(_checks.integer("channel_multipliers", m) for m in value)
    if not out:
        raise ValueError(f"`channel_multipliers` must be a non-empty sequence of positive integers, got {value!r}.")
    return out


class GeneratorBlock(nn.Module):
    """Residual up-block: ``BN, ReLU, up x2, conv3x3, BN, ReLU, conv3x3`` plus a shortcut.

    With ``num_classes`` the two BatchNorms are class-conditional (``gamma[y] * BN(x) + beta[y]``,
    the conditional BatchNorm of the SNGAN projection-discriminator paper's generator).
    """

    def __init__(
        self, in_channels: int, out_channels: int, upsample: bool = True, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.upsample, self.num_classes = upsample, num_classes
        norm = (lambda ch: ConditionalBatchNorm2d(ch, num_classes)) if num_classes is not None else nn.BatchNorm2d
        self.norm1 = norm(in_channels)
        self.conv1 = _conv(in_channels, out_channels, 3, math.sqrt(2))
        self.norm2 = norm(out_channels)
        self.conv2 = _conv(out_channels, out_channels, 3, math.sqrt(2))
        learnable = upsample or in_channels != out_channels
        self.shortcut = _conv(in_channels, out_channels, 1, 1.0) if learnable else None

    def _norm(self, layer: nn.Module, h: Tensor, labels: Tensor | None) -> Tensor:
        return layer(h) if self.num_classes is None else layer(h, labels)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = F.relu(self._norm(self.norm1, x, labels))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self._norm(self.norm2, self.conv1(h), labels)))
        skip = F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        return h + skip


class CriticBlock(nn.Module):
    """Residual critic block; ``first=True`` is SNGAN's "optimised" block for the raw image.

    A plain block is ``ReLU, conv3x3, ReLU, conv3x3, [avgpool 2]``, shortcut ``[conv1x1], [avgpool]``;
    the first block has no leading ReLU (the input is an image) and pools its shortcut *before*
    the 1x1 conv, which is cheaper and identical in value (both are linear).
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, first: bool = False) -> None:
        super().__init__()
        self.first, self.downsample = first, downsample
        layers: list[nn.Module] = [] if first else [nn.ReLU()]
        layers += [
            _conv(in_channels, out_channels, 3, math.sqrt(2)),
            nn.ReLU(),
            _conv(out_channels, out_channels, 3, math.sqrt(2)),
        ]
        if downsample:
            layers.append(nn.AvgPool2d(2))
        self.residual = nn.Sequential(*layers)
        learnable = first or downsample or in_channels != out_channels
        self.shortcut = _conv(in_channels, out_channels, 1, 1.0) if learnable else None

    def forward(self, x: Tensor) -> Tensor:
        skip = x
        if self.first and self.shortcut is not None:  # pool, then project (the first block always projects)
            skip = self.shortcut(F.avg_pool2d(skip, 2) if self.downsample else skip)
        else:  # project, then pool
            if self.shortcut is not None:
                skip = self.shortcut(skip)
            if self.downsample:
                skip = F.avg_pool2d(skip, 2)
        return self.residual(x) + skip


class ResNetGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` to images ``(N, channels, image_size, image_size)`` in [-1, 1].

    Args:
        latent_dim: size of the noise vector (SNGAN: 128).
        image_size: output side, a power of two >= 8; 32 and 64 have the SNGAN presets.
        channels: output channels.
        base_channels: width unit; ``None`` takes the preset's (256 at 32 px, 64 at 64 px).
        channel_multipliers: widths at 4x4, 8x8, ... up to ``image_size``, in units of
            ``base_channels``; its length sets the depth (one up-block per entry after the first),
            so the first resolution is ``image_size / 2**(len - 1)``. ``None`` takes the preset.
        num_classes: build a class-conditional generator, called ``generator(z, labels)``: every
            block's BatchNorms become :class:`ConditionalBatchNorm2d` (Miyato & Koyama 2018).

    Raises:
        ValueError: an argument is out of range (the message names it).

    Example:
        >>> g = ResNetGenerator(latent_dim=128, image_size=32, channels=3)
        >>> g(torch.randn(2, 128)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        latent_dim: int = 128,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int | None = None,
        channel_multipliers: Sequence[int] | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        _check_size(image_size)
        _checks.integer("latent_dim", latent_dim)
        self.num_classes = check_num_classes(num_classes)
        _checks.integer("channels", channels)
        preset_base, preset_mult = _GENERATOR_PRESETS.get(image_size, (None, None))
        mult = _multipliers(channel_multipliers, preset_mult, image_size)
        if base_channels is None:
            if preset_base is None:
                raise ValueError(f"No preset for `image_size`={image_size}: pass `base_channels`.")
            base_channels = preset_base
        base = _checks.integer("base_channels", base_channels)
        n_up = len(mult) - 1
        bottom = image_size >> n_up
        if n_up < 1 or bottom < 1 or bottom << n_up != image_size:
            raise ValueError(
                f"`channel_multipliers` of length {len(mult)} cannot reach `image_size`={image_size} by doubling "
                "(need 2 <= length and image_size / 2**(length - 1) a whole number)."
            )
        widths = [base * m for m in mult]
        self.latent_dim, self.bottom_width = latent_dim, bottom
        self.input = _xavier(nn.Linear(latent_dim, widths[0] * bottom * bottom), 1.0)  # (N, w0 * b * b)
        self.blocks = nn.ModuleList(
            [GeneratorBlock(widths[i], widths[i + 1], num_classes=num_classes) for i in range(n_up)]
        )
        self.output = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), _conv(widths[-1], channels, 3, 1.0), nn.Tanh()
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        h = self.input(z.flatten(1)).view(z.shape[0], -1, self.bottom_width, self.bottom_width)  # (N, w0, b, b)
        for block in self.blocks:
            h = block(h, labels)
        return self.output(h)  # (N, C, S, S)


class ResNetCritic(nn.Module):
    """Images ``(N, channels, image_size, image_size)`` to logits ``(N,)``.

    Args:
        image_size: input side, a power of two >= 8; 32 and 64 have the SNGAN presets.
        channels: input channels.
        base_channels: width unit; ``None`` takes the preset's (128 at 32 px, 64 at 64 px).
        channel_multipliers: widths of the down-blocks (each halves the resolution), in units of
            ``base_channels``; ``None`` takes the preset.
        num_plain_blocks: blocks at constant resolution after the down-blocks (SNGAN at 32 px: 2);
            ``None`` takes the preset (0 when ``channel_multipliers`` is given without a preset).
        spectral_norm: wrap every conv and linear layer with ``torch.nn.utils.parametrizations.spectral_norm``
            (Miyato et al. 2018). The ``SNGAN`` module does this itself through the ``SpectralNorm``
            callback, so leave it ``False`` there.
        num_classes: build a projection critic (Miyato & Koyama 2018), called ``critic(x, labels)``:
            the score is ``linear(phi(x)) + <V[y], phi(x)>`` with ``phi`` the pooled features
            (:class:`ProjectionHead`).

    Raises:
        ValueError: an argument is out of range (the message names it).

    Example:
        >>> d = ResNetCritic(image_size=32, channels=3)
        >>> d(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2])
    """

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int | None = None,
        channel_multipliers: Sequence[int] | None = None,
        num_plain_blocks: int | None = None,
        spectral_norm: bool = False,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        _check_size(image_size)
        _checks.integer("channels", channels)
        self.num_classes = check_num_classes(num_classes)
        preset = _CRITIC_PRESETS.get(image_size)
        mult = _multipliers(channel_multipliers, preset[1] if preset else None, image_size)
        if base_channels is None:
            if preset is None:
                raise ValueError(f"No preset for `image_size`={image_size}: pass `base_channels`.")
            base_channels = preset[0]
        base = _checks.integer("base_channels", base_channels)
        if num_plain_blocks is None:
            num_plain_blocks = preset[2] if preset is not None and channel_multipliers is None else 0
        num_plain_blocks = _checks.integer("num_plain_blocks", num_plain_blocks, minimum=0)
        if image_size >> len(mult) < 1:
            raise ValueError(
                f"{len(mult)} down-blocks (`channel_multipliers`) halve `image_size`={image_size} below 1 pixel."
            )
        widths = [base * m for m in mult]
        blocks = [CriticBlock(channels, widths[0], downsample=True, first=True)]
        blocks += [CriticBlock(widths[i - 1], widths[i], downsample=True) for i in range(1, len(widths))]
        blocks += [CriticBlock(widths[-1], widths[-1], downsample=False) for _ in range(num_plain_blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.output = _xavier(nn.Linear(widths[-1], 1), 1.0)
        self.projection = ProjectionHead(widths[-1], num_classes) if num_classes is not None else None
        if spectral_norm:
            for layer in list(self.modules()):
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (N, w): global sum pooling
        score = self.output(h).squeeze(1)  # (N,)
        if self.projection is not None:
            score = score + self.projection(h, labels)
        return score
