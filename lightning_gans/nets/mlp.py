"""Fully connected generator and critic for low-dimensional (e.g. 2-D toy) data.

With ``num_classes`` set they are class-conditional (see :mod:`lightning_gans.nets.conditional`):
the generator concatenates a learned class embedding to the noise; the critic conditions by
projection (default), by concatenating one-hot labels to its input, or through an auxiliary class
head for AC-GAN. With ``num_classes=None`` they are exactly the unconditional networks.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.nets.conditional import (
    ProjectionHead,
    check_conditioning,
    check_num_classes,
    expect_labels,
    one_hot_maps,
)

__all__ = ["MLPCritic", "MLPGenerator"]


def _mlp(in_dim: int, out_dim: int, hidden_dim: int, num_layers: int) -> nn.Sequential:
    if num_layers < 1 or hidden_dim < 1:
        raise ValueError(f"`num_layers` and `hidden_dim` must be >= 1, got {num_layers} and {hidden_dim}.")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """ReLU MLP from noise ``(N, latent_dim)`` (and labels ``(N,)``) to samples ``(N, out_dim)``.

    The defaults are the WGAN-GP paper's toy generator (3 hidden layers of 512 units).

    Args:
        latent_dim: noise size.
        out_dim: sample size.
        hidden_dim: units per hidden layer.
        num_layers: hidden layers.
        num_classes: None (unconditional) or the number of classes; then ``forward(z, labels)``
            concatenates a learned class embedding to ``z`` (Mirza & Osindero 2014).
        embedding_dim: size of that embedding (default: ``num_classes``, as expressive as a one-hot code).

    Example:
        >>> g = MLPGenerator(latent_dim=2, num_classes=8)
        >>> g(torch.randn(5, 2), torch.arange(5)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        latent_dim: int = 2,
        out_dim: int = 2,
        hidden_dim: int = 512,
        num_layers: int = 3,
        num_classes: int | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        embedding_dim = _checks.optional_integer("embedding_dim", embedding_dim)
        cond_dim = 0 if num_classes is None else embedding_dim or num_classes
        self.net = _mlp(latent_dim + cond_dim, out_dim, hidden_dim, num_layers)
        if num_classes is not None:
            self.embedding = nn.Embedding(num_classes, cond_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        if labels is not None:
            z = torch.cat([z, self.embedding(labels)], dim=1)  # (N, latent_dim + embedding_dim)
        return self.net(z)


class MLPCritic(nn.Module):
    """ReLU MLP from samples ``(N, in_dim)`` (and labels ``(N,)``) to one logit per sample ``(N,)``.

    Args:
        in_dim: sample size.
        hidden_dim: units per hidden layer.
        num_layers: hidden layers.
        num_classes: None (unconditional) or the number of classes.
        conditioning: how labels enter when ``num_classes`` is set, one of
            :data:`~lightning_gans.nets.conditional.CRITIC_CONDITIONINGS`: ``"projection"`` adds
            ``<embed(y), phi(x)>`` to the score, ``phi`` being the last hidden layer (Miyato & Koyama
            2018); ``"concat"`` appends one-hot labels to the input; ``"auxiliary"`` ignores the labels
            in the score and adds a class head (:meth:`classify`) for AC-GAN (Odena et al. 2017).

    Example:
        >>> d = MLPCritic(num_classes=8)
        >>> d(torch.randn(5, 2), torch.arange(5)).shape
        torch.Size([5])
    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden_dim: int = 512,
        num_layers: int = 3,
        num_classes: int | None = None,
        conditioning: str = "projection",
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.conditioning = check_conditioning(conditioning) if num_classes is not None else None
        concat = (num_classes or 0) if self.conditioning == "concat" else 0
        self.net = _mlp(in_dim + concat, 1, hidden_dim, num_layers)
        if self.conditioning == "projection":
            self.projection = ProjectionHead(hidden_dim, cast(int, num_classes))
        elif self.conditioning == "auxiliary":
            self.classifier = nn.Linear(hidden_dim, cast(int, num_classes))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        expect_labels(self, self.num_classes, labels)
        if self.conditioning == "concat":
            return self.net(
                torch.cat([x, one_hot_maps(cast(Tensor, labels), cast(int, self.num_classes), x)], dim=1)
            ).squeeze(1)
        if self.conditioning is None:
            return self.net(x).squeeze(1)
        return self.score_and_classify(x, labels)[0]

    def score_and_classify(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Scores ``(N,)`` and, for ``conditioning="auxiliary"``, class logits ``(N, num_classes)`` in one pass."""
        features = self.net[:-1](x)  # (N, hidden_dim): phi(x)
        scores = self.net[-1](features).squeeze(1)
        if self.conditioning == "projection":
            return scores + self.projection(features, labels), None
        if self.conditioning == "auxiliary":
            return scores, self.classifier(features)
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
