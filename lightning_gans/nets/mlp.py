"""Fully connected generator and critic for low-dimensional (e.g. 2-D toy) data."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["MLPGenerator", "MLPCritic"]


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
    """ReLU MLP from noise ``(N, latent_dim)`` to samples ``(N, out_dim)``.

    The defaults are the WGAN-GP paper's toy generator (3 hidden layers of 512 units).
    """

    def __init__(self, latent_dim: int = 2, out_dim: int = 2, hidden_dim: int = 512, num_layers: int = 3) -> None:
        super().__init__()
        self.net = _mlp(latent_dim, out_dim, hidden_dim, num_layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """ReLU MLP from samples ``(N, in_dim)`` to one logit per sample ``(N,)``."""

    def __init__(self, in_dim: int = 2, hidden_dim: int = 512, num_layers: int = 3) -> None:
        super().__init__()
        self.net = _mlp(in_dim, 1, hidden_dim, num_layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)
