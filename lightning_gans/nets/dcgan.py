"""DCGAN generator and critic (Radford et al. 2016, https://arxiv.org/abs/1511.06434).

Sizes are configurable: ``image_size`` is a power of two >= 8 and ``channels`` any positive number.
The generator ends in ``tanh`` (samples in [-1, 1]); the critic returns logits ``(N,)``.

With ``num_classes`` set they are class-conditional (see :mod:`lightning_gans.nets.conditional`):
the generator's batch norms become conditional batch norms (de Vries et al. 2017; Miyato & Koyama
2018) and a learned class embedding is concatenated to the noise; the critic conditions by projection (default), by one-hot label channels at its input, or
through an auxiliary class head for AC-GAN. With ``num_classes=None`` they are exactly the
unconditional networks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.nets.conditional import (
    ConditionalBatchNorm2d,
    ProjectionHead,
    check_conditioning,
    check_num_classes,
    expect_labels,
    one_hot_maps,
)

__all__ = ["CRITIC_NORMS", "DCGANCritic", "DCGANGenerator"]

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
    """Noise ``(N, latent_dim)`` (and labels ``(N,)``) to images ``(N, channels, image_size, image_size)`` in [-1, 1].

    Args:
        latent_dim: noise size.
        image_size: output side length, a power of two >= 8.
        channels: output channels.
        base_channels: width of the last hidden layer (doubling towards the input).
        num_classes: None (unconditional) or the number of classes; then every batch norm is a
            :class:`~lightning_gans.nets.conditional.ConditionalBatchNorm2d` and the forward is
            ``forward(z, labels)``.
        embedding_dim: size of a learned class embedding concatenated to the noise when
            ``num_classes`` is set (default ``num_classes``; 0: conditional batch norm only, as in
            Miyato & Koyama 2018). The per-class scales and shifts of conditional batch norm start
            equal for all classes and move by about one learning rate per step, so on short budgets
            they alone learn the classes slowly; the input embedding gets the classes apart from the
            first updates (``benchmarks/results_conditional.py``, row "projection, CBN only").

    Example:
        >>> g = DCGANGenerator(latent_dim=16, image_size=8, channels=1, base_channels=8, num_classes=10)
        >>> g(torch.randn(4, 16), torch.tensor([0, 1, 2, 9])).shape
        torch.Size([4, 1, 8, 8])
    """

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        num_classes: int | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        embedding_dim = _checks.optional_integer("embedding_dim", embedding_dim, minimum=0)
        cond_dim = 0 if num_classes is None else (num_classes if embedding_dim is None else embedding_dim)
        n_up = _num_resolutions(image_size)
        width = base_channels * 2 ** (n_up - 1)

        def norm(ch: int) -> nn.Module:
            return nn.BatchNorm2d(ch) if num_classes is None else ConditionalBatchNorm2d(ch, num_classes)

        layers: list[nn.Module] = [  # (N, latent_dim, 1, 1) -> (N, width, 4, 4)
            nn.ConvTranspose2d(latent_dim + cond_dim, width, 4, 1, 0, bias=False),
            norm(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):  # each doubles the resolution and halves the width
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), norm(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        if cond_dim:
            self.embedding = nn.Embedding(cast(int, num_classes), cond_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        if labels is None:
            return self.net(z.view(z.shape[0], -1, 1, 1))
        if hasattr(self, "embedding"):
            z = torch.cat([z.flatten(1), self.embedding(labels)], dim=1)  # (N, latent_dim + embedding_dim)
        h = z.view(z.shape[0], -1, 1, 1)
        for layer in self.net:
            h = layer(h, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class DCGANCritic(nn.Module):
    """Images ``(N, channels, image_size, image_size)`` (and labels ``(N,)``) to logits ``(N,)``.

    Args:
        image_size: input side length, a power of two >= 8.
        channels: input channels.
        base_channels: width of the first layer (doubling with depth).
        norm: normalisation after each inner conv: one of :data:`CRITIC_NORMS`.
        num_classes: None (unconditional) or the number of classes.
        conditioning: how labels enter when ``num_classes`` is set, one of
            :data:`~lightning_gans.nets.conditional.CRITIC_CONDITIONINGS`. ``"projection"`` adds
            ``<embed(y), phi(x)>``, ``phi(x)`` being the flattened last ``(width, 4, 4)`` feature map
            that the output conv reads (Miyato & Koyama 2018); ``"concat"`` appends ``num_classes``
            one-hot channels to the image; ``"auxiliary"`` ignores the labels in the score and adds a
            class head (:meth:`classify`, a conv like the output conv) for AC-GAN (Odena et al. 2017).

    Example:
        >>> d = DCGANCritic(image_size=8, channels=1, base_channels=8, norm="layer", num_classes=10)
        >>> d(torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 9])).shape
        torch.Size([4])
    """

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        norm: str = "batch",
        num_classes: int | None = None,
        conditioning: str = "projection",
    ) -> None:
        super().__init__()
        if norm not in CRITIC_NORMS:
            raise ValueError(f"Unknown `norm` {norm!r}; expected one of {sorted(CRITIC_NORMS)}.")
        self.num_classes = check_num_classes(num_classes)
        self.conditioning = check_conditioning(conditioning) if num_classes is not None else None
        n_down = _num_resolutions(image_size)
        width = base_channels
        in_channels = channels + ((num_classes or 0) if self.conditioning == "concat" else 0)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"),
                CRITIC_NORMS[norm](width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))  # (N, width, 4, 4) -> (N, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        if self.conditioning == "projection":
            self.projection = ProjectionHead(width * 4 * 4, cast(int, num_classes))
        elif self.conditioning == "auxiliary":
            self.classifier = nn.Conv2d(width, cast(int, num_classes), 4, 1, 0)  # (N, width, 4, 4) -> (N, K, 1, 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        if self.conditioning == "concat":
            return self.net(
                torch.cat([x, one_hot_maps(cast(Tensor, labels), cast(int, self.num_classes), x)], dim=1)
            ).flatten()
        if self.conditioning is None:
            return self.net(x).flatten()
        return self.score_and_classify(x, labels)[0]

    def score_and_classify(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Scores ``(N,)`` and, for ``conditioning="auxiliary"``, class logits ``(N, num_classes)`` in one pass."""
        features = self.net[:-1](x)  # (N, width, 4, 4): phi(x)
        scores = self.net[-1](features).flatten()
        if self.conditioning == "projection":
            return scores + self.projection(features, labels), None
        if self.conditioning == "auxiliary":
            return scores, self.classifier(features).flatten(1)
        raise ValueError(
            f"`score_and_classify` needs a projection or auxiliary critic, this one has `conditioning`={self.conditioning!r}."
        )

    def classify(self, x: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)`` of an auxiliary-head critic (AC-GAN)."""
        if self.conditioning != "auxiliary":
            raise ValueError(f"`classify` needs `conditioning`='auxiliary', this critic has {self.conditioning!r}.")
        logits = self.score_and_classify(x)[1]
        assert logits is not None  # an auxiliary critic always has class logits
        return logits
