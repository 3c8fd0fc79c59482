"""Spectral normalisation of the critic's (and optionally the generator's) Linear/Conv layers."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn

from lightning_gans.layers import (
    SETTINGS_KEY,
    WEIGHT_LAYERS,
    apply_spectral_norm,
    is_spectral_normed,
    restore_spectral_norm,
    spectral_norm_settings,
)

__all__ = ["SETTINGS_KEY", "SpectralNorm", "apply_spectral_norm", "is_spectral_normed", "restore_spectral_norm"]

SPECTRAL_NORM_LAYERS = WEIGHT_LAYERS  # the layer types that get wrapped; kept for imports of 0.1


class SpectralNorm(Callback):
    """Spectral normalisation of the critic's Linear/Conv layers (Miyato et al. 2018, https://arxiv.org/abs/1802.05957).

    Each weight ``W`` is replaced by ``W / sigma(W)``, ``sigma`` estimated by power iteration, using
    ``torch.nn.utils.parametrizations.spectral_norm``. The layers are wrapped in ``setup``, before the
    optimizers are built, so they optimise ``...parametrizations.weight.original``; wrapping is
    idempotent. Checkpoints round-trip: ``trainer.fit(ckpt_path=...)`` resumes exactly, and
    ``Module.load_from_checkpoint`` without a Trainer re-applies the normalisation (through
    :func:`restore_spectral_norm` in ``on_load_checkpoint``).

    For a convolution, ``sigma`` is that of the weight reshaped to ``(out_channels, -1)`` (torch's
    ``dim=1`` for transposed convolutions, whose weights are stored ``(in, out, ...)``), as in the paper.

    Under DDP every rank wraps its layers in ``setup``, before DDP's constructor broadcasts rank 0's
    parameters and buffers (``original``, ``_u``, ``_v``), so all ranks start identical.

    Module protocol: ``pl_module.critic`` (and ``pl_module.generator`` with ``generator=True``),
    ``nn.Module`` attributes.

    Args:
        critic: normalise the critic's layers.
        generator: normalise the generator's layers too (as in SAGAN, Zhang et al. 2019).
        n_power_iterations: power iterations per training-mode forward (>= 1; the paper uses 1).
        eps: epsilon of the normalisation (> 0).

    Raises:
        ValueError: an argument is out of range, or a selected network has no Linear/Conv layer.
        TypeError: the module lacks a selected network.

    Example:
        >>> trainer = Trainer(callbacks=[SpectralNorm()])  # doctest: +SKIP
        >>> model = WGAN.load_from_checkpoint(path, generator=G, critic=D)  # doctest: +SKIP
    """

    def __init__(
        self, critic: bool = True, generator: bool = False, n_power_iterations: int = 1, eps: float = 1e-12
    ) -> None:
        for name, value in (("critic", critic), ("generator", generator)):
            if not isinstance(value, bool):
                raise TypeError(f"`{name}` must be a bool, got {value!r}.")
        if not (critic or generator):
            raise ValueError("At least one of `critic` and `generator` must be True.")
        if not isinstance(n_power_iterations, int) or isinstance(n_power_iterations, bool) or n_power_iterations < 1:
            raise ValueError(f"`n_power_iterations` must be an integer >= 1, got {n_power_iterations!r}.")
        if not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"`eps` must be a number > 0, got {eps!r}.")
        self._nets = [name for name, on in (("critic", critic), ("generator", generator)) if on]
        self._n_power_iterations = n_power_iterations
        self._eps = float(eps)
        #: Names (relative to the LightningModule) of the layers this callback wrapped.
        self.wrapped: list[str] = []

    def apply(self, pl_module: nn.Module) -> list[str]:
        """Wrap the selected networks' layers now (idempotent); returns the names newly wrapped."""
        new = []
        for net_name in self._nets:
            net = getattr(pl_module, net_name, None)
            if not isinstance(net, nn.Module):
                raise TypeError(
                    f"SpectralNorm needs an `nn.Module` attribute `{net_name}` on {type(pl_module).__name__}."
                )
            try:
                names = apply_spectral_norm(net, self._n_power_iterations, self._eps)
            except ValueError as err:
                raise ValueError(f"SpectralNorm: `{net_name}`: {err}") from None
            new += [f"{net_name}.{n}" if n else net_name for n in names]
        self.wrapped += new
        return new

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.apply(pl_module)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[SETTINGS_KEY] = spectral_norm_settings(pl_module)
