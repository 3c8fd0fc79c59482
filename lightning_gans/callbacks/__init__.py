"""Callbacks for adversarial training; each talks to a module through a small documented protocol."""

from lightning_gans.callbacks.instance_noise import InstanceNoise
from lightning_gans.callbacks.weight_clipping import WeightClipping

__all__ = ["InstanceNoise", "WeightClipping"]
