"""Layer kinds and spectral-norm bookkeeping shared by the modules and the callbacks.

A lower module: it imports nothing of lightning-gans but :mod:`lightning_gans._compat`, so
:mod:`lightning_gans.modules` can restore spectral norm on load and the callbacks can pick layers
without either importing the other.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from lightning_gans._compat import ConvLayer, NormLayer, SpectralNormParametrization

__all__ = [
    "NORM_LAYERS",
    "SETTINGS_KEY",
    "WEIGHT_LAYERS",
    "apply_spectral_norm",
    "batch_norm_layers",
    "is_spectral_normed",
    "restore_spectral_norm",
    "spectral_norm_settings",
]

WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, ConvLayer)
"""Layers with a weight matrix: ``Linear``, ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``."""

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    NormLayer,  # BatchNorm*, InstanceNorm*
    nn.GroupNorm,
    nn.LayerNorm,
    nn.RMSNorm,
)
"""Normalisation layers (their affine parameters are not weight matrices)."""


def batch_norm_layers(net: nn.Module) -> list[str]:
    """Names of the BatchNorm layers of ``net``: they mix samples, which per-sample penalties assume they don't."""
    kinds = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    return [name for name, m in net.named_modules() if isinstance(m, kinds)]


SETTINGS_KEY = "lightning_gans_spectral_norm"
"""Checkpoint key holding ``{layer name: {"n_power_iterations", "eps", "dim"}}`` of every wrapped layer."""

_ORIGINAL_SUFFIX = ".parametrizations.weight.original"


def is_spectral_normed(layer: nn.Module) -> bool:
    """Whether ``layer.weight`` already carries spectral normalisation (parametrization or legacy hook)."""
    if parametrize.is_parametrized(layer, "weight"):
        return any(isinstance(p, SpectralNormParametrization) for p in layer.parametrizations.weight)  # type: ignore[union-attr]
    return hasattr(layer, "weight_orig")  # torch.nn.utils.spectral_norm (the deprecated hook version)


def apply_spectral_norm(net: nn.Module, n_power_iterations: int = 1, eps: float = 1e-12) -> list[str]:
    """Wrap every Linear/Conv layer of ``net`` with ``torch.nn.utils.parametrizations.spectral_norm``.

    Idempotent: a layer that already has spectral normalisation is left alone.

    Args:
        net: the network to modify in place.
        n_power_iterations: power iterations per forward pass in training mode.
        eps: epsilon of the normalisation.

    Returns:
        Names (relative to ``net``) of the layers wrapped by this call.

    Raises:
        ValueError: ``net`` has no Linear/Conv layer.
    """
    layers = [(name, m) for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise ValueError(f"Spectral normalisation found no Linear/Conv layer in {type(net).__name__}.")
    wrapped = []
    for name, layer in layers:
        if not is_spectral_normed(layer):
            spectral_norm(layer, n_power_iterations=n_power_iterations, eps=eps)
            wrapped.append(name)
    return wrapped


def spectral_norm_settings(module: nn.Module) -> dict[str, dict[str, Any]]:
    """``{layer name: {"n_power_iterations", "eps", "dim"}}`` for every spectral-normed layer of ``module``."""
    settings = {}
    for name, layer in module.named_modules():
        if parametrize.is_parametrized(layer, "weight"):
            for p in layer.parametrizations.weight:
                if isinstance(p, SpectralNormParametrization):
                    settings[name] = {"n_power_iterations": p.n_power_iterations, "eps": p.eps, "dim": p.dim}
    return settings


def restore_spectral_norm(module: nn.Module, checkpoint: dict[str, Any]) -> list[str]:
    """Re-apply spectral normalisation to the layers a checkpoint saved with it, so it loads strictly.

    Called by ``AdversarialModule.on_load_checkpoint`` (which runs before ``load_state_dict``), so
    ``Module.load_from_checkpoint(path, ...)`` works without a Trainer or this callback. Layers whose
    state dict entry ends in ``parametrizations.weight.original`` and that ``module`` lacks are wrapped,
    with the settings stored under :data:`SETTINGS_KEY` when present. The ``_u``/``_v`` vectors drawn
    at wrapping are then overwritten by the checkpoint's.

    Returns:
        Names of the layers wrapped.
    """
    state_dict = checkpoint.get("state_dict", {})
    settings = checkpoint.get(SETTINGS_KEY, {})
    own = {name for name, _ in module.named_parameters()}
    wrapped = []
    for key in state_dict:
        if key.endswith(_ORIGINAL_SUFFIX) and key not in own:
            name = key[: -len(_ORIGINAL_SUFFIX)]
            layer = module.get_submodule(name)
            if not is_spectral_normed(layer):
                spectral_norm(layer, **settings.get(name, {}))
                wrapped.append(name)
    return wrapped
