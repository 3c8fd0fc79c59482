"""Callbacks for adversarial training; each talks to a module through a small documented protocol."""

from lightning_gans.callbacks.adaptive_augment import AdaptiveAugment
from lightning_gans.callbacks.diff_augment import DiffAugment
from lightning_gans.callbacks.divergence_guard import DivergenceGuard
from lightning_gans.callbacks.ema import GeneratorEMA
from lightning_gans.callbacks.instance_noise import InstanceNoise
from lightning_gans.callbacks.lipschitz_monitor import LipschitzMonitor
from lightning_gans.callbacks.lsuv import LSUVInit
from lightning_gans.callbacks.metrics import GANMetrics
from lightning_gans.callbacks.progress import GeneratorProgressBar
from lightning_gans.callbacks.sample_logger import SampleLogger
from lightning_gans.callbacks.save_config import LoggerSaveConfigCallback
from lightning_gans.callbacks.spectral_norm import SpectralNorm
from lightning_gans.callbacks.toy_plot import ToyPlot
from lightning_gans.callbacks.weight_clipping import WeightClipping

__all__ = [
    "AdaptiveAugment",
    "DiffAugment",
    "DivergenceGuard",
    "GANMetrics",
    "GeneratorEMA",
    "GeneratorProgressBar",
    "InstanceNoise",
    "LSUVInit",
    "LipschitzMonitor",
    "LoggerSaveConfigCallback",
    "SampleLogger",
    "SpectralNorm",
    "ToyPlot",
    "WeightClipping",
]
