"""DCGAN generator and critic (Radford et al. 2016, https://arxiv.org/abs/1511.06434).

Sizes are configurable: ``image_size`` is a power of two >= 8 and ``channels`` any positive number.
The generator ends in ``tanh`` (samples in [-1, 1]); the critic returns logits ``(N,)``.
"""

from __future__ import annotations

import math
from typing import Callable

from torch import Tensor, nn

__all__ = ["DCGANGenerator", "DCGANCritic", "CRITIC_NORMS"]

CRITIC_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    # layer norm over (C, H, W): the WGAN-GP paper's replacement for batch norm in the critic
    "layer": lambda ch: nn.GroupNorm(1, ch),
    "instance": lambda ch: nn.InstanceNorm2d(ch, affine=True),
    "none": lambda ch: nn.Identity(),
}
"""Critic normalisations selectable by name. WGAN-GP's critic must not use ``"batch"``."""


def _num_resolutions(image_size: int) -> int:
    """How many factor-2 steps lie between 4x4 and ``image_size``."""
    if not isinstance(image_size, int) or image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"`image_size` must be a power of two >= 8, got {image_size!r}.")
    return int(math.log2(image_size)) - 2


class DCGANGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` to images ``(N, channels, image_size, image_size)`` in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, image_size: int = 32, channels: int = 3, base_channels: int = 64) -> None:
        super().__init__()
        n_up = _num_resolutions(image_size)
        width = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [  # (N, latent_dim, 1, 1) -> (N, width, 4, 4)
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):  # each doubles the resolution and halves the width
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANCritic(nn.Module):
    """Images ``(N, channels, image_size, image_size)`` to logits ``(N,)``.

    Args:
        norm: normalisation after each inner conv: one of :data:`CRITIC_NORMS`.
    """

    def __init__(self, image_size: int = 32, channels: int = 3, base_channels: int = 64, norm: str = "batch") -> None:
        super().__init__()
        if norm not in CRITIC_NORMS:
            raise ValueError(f"Unknown `norm` {norm!r}; expected one of {sorted(CRITIC_NORMS)}.")
        n_down = _num_resolutions(image_size)
        width = base_channels
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"), CRITIC_NORMS[norm](width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))  # (N, width, 4, 4) -> (N, 1, 1, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()
