"""Layer-sequential unit-variance (LSUV) initialisation of the generator and the critic."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from lightning_gans._compat import fit_data_source
from lightning_gans.layers import NORM_LAYERS, WEIGHT_LAYERS, is_spectral_normed
from lightning_gans.protocol import split_batch

__all__ = ["LSUV_LAYERS", "LSUVInit", "lsuv_init_"]

LSUV_LAYERS: tuple[type[nn.Module], ...] = WEIGHT_LAYERS
"""Layers LSUV initialises: ``Linear``, ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``."""


def _weight(layer: Any) -> Tensor:
    """The tensor to initialise: the underlying weight of a spectral-normed (or parametrized) layer."""
    if hasattr(layer, "parametrizations") and "weight" in layer.parametrizations:
        return layer.parametrizations.weight.original
    return getattr(layer, "weight_orig", layer.weight)  # weight_orig: torch.nn.utils.spectral_norm (legacy hook)


@torch.no_grad()
def lsuv_init_(
    net: nn.Module,
    inputs: Tensor,
    tol: float = 0.1,
    max_iters: int = 10,
    rng: torch.Generator | None = None,
    output_layer: bool = True,
    *,
    labels: Tensor | None = None,
    normalized_layers: bool = False,
) -> dict[str, float]:
    """LSUV, Algorithm 1 of Mishkin & Matas 2016 (https://arxiv.org/abs/1511.06422), in place.

    1. Orthonormal pre-initialisation of every Linear/Conv weight (Saxe et al. 2014), flattened to
       ``(shape[0], -1)``.
    2. Layer by layer in forward order: forward ``inputs`` through ``net`` and rescale the layer's
       weight by ``1 / sqrt(var(output))`` until ``|var - 1| < tol`` or ``max_iters`` rescalings.

    The variance is over all elements of the layer's output (the paper's ``Var(B_L)``). Biases are
    left as they are (layers without bias work the same). Forward passes run in training mode, as in
    training, and every buffer (BatchNorm statistics, spectral norm's ``_u``/``_v``) is restored
    afterwards; the net's mode is restored too.

    Spectral-normed layers get the orthonormal pre-initialisation of their underlying ``original``
    weight, with ``_u``/``_v`` re-estimated for it, but no rescaling: ``W / sigma(W)`` does not
    change when ``W`` is rescaled, so their output variance is not LSUV's to set.

    Layers whose output goes straight into a normalisation layer (``BatchNorm*``, ``InstanceNorm*``,
    ``GroupNorm``, ``LayerNorm``, ``RMSNorm``, also inside a conditional batch norm) are left exactly
    as they were by default: the normalisation sets their output scale whatever their weight's
    scale, so rescaling them changes nothing in the function, but it does change how fast they
    learn. Adam's step is about ``lr`` per weight whatever the weight's size, so multiplying a weight
    by ``c`` divides its effective learning rate by ``c``; LSUV multiplies the first layer of a
    DCGAN generator by ~10, and that alone took WGAN-GP on the digits from FID ~15 to ~60
    (``benchmarks/lsuv_digits.py``). The layers are found in one forward pass: a layer is
    normalisation-fed when its output tensor is the input of a normalisation layer.

    Args:
        net: the network, modified in place.
        inputs: one batch of inputs to ``net``.
        tol: tolerance on the output variance (> 0; the paper's ``Tol_var`` = 0.1).
        max_iters: maximum rescalings per layer (>= 1).
        rng: RNG of the orthonormal matrices (default: the global RNG).
        labels: class labels of ``inputs`` for a conditional net, called ``net(inputs, labels)``.
        output_layer: also initialise the last Linear/Conv layer in forward order. ``False`` leaves
            it exactly as it was: its scale is the net's output scale (the generator's pre-tanh
            range, the critic's score scale), which unit variance does not serve.
        normalized_layers: also initialise the layers that feed a normalisation layer (the paper
            does; see above for why that is not the default).

    Returns:
        ``{layer name: final output variance}`` of every rescaled layer, in forward order.

    Raises:
        ValueError: ``net`` has no Linear/Conv layer.
    """
    forward = partial(net, inputs) if labels is None else partial(net, inputs, labels)
    layers = {name: m for name, m in net.named_modules() if isinstance(m, LSUV_LAYERS)}
    if not layers:
        raise ValueError(f"LSUV found no Linear/Conv layer in {type(net).__name__}: nothing to initialise.")
    was_training = net.training
    buffers = {name: b.clone() for name, b in net.named_buffers()}
    outputs: dict[str, Tensor] = {}
    hooks: list[Any] = []
    net.train()
    try:
        normalized = set() if normalized_layers else _normalization_fed(net, layers, forward)
        hooks = [m.register_forward_hook(_recorder(name, outputs)) for name, m in layers.items()]
        forward()  # dict insertion order of `outputs` is the forward order
        skipped = normalized | (set() if output_layer or not outputs else {next(reversed(outputs))})
        for name, layer in layers.items():
            if name not in skipped:
                nn.init.orthogonal_(_weight(layer), generator=rng)
        forward()
        order = [name for name in outputs if name not in skipped and not is_spectral_normed(layers[name])]
        variances = {}
        for name in order:
            w = _weight(layers[name])
            var = float(outputs[name].float().var())
            for _ in range(max_iters):
                if abs(var - 1.0) < tol or not var > 0 or not math.isfinite(var):
                    break
                w.div_(math.sqrt(var))
                forward()
                var = float(outputs[name].float().var())
            variances[name] = var
    finally:
        for h in hooks:
            h.remove()
        for name, b in net.named_buffers():
            b.copy_(buffers[name])
        net.train(was_training)
    _refresh_spectral_norm(layers.values())

    missed = [n for n, v in variances.items() if not abs(v - 1.0) < tol]
    if missed:
        warnings.warn(
            f"LSUV: output variance of {missed} did not reach 1 +- {tol} in {max_iters} iterations.", stacklevel=2
        )
    unused = [n for n in layers if n not in outputs]
    if unused:
        warnings.warn(f"LSUV: layers {unused} were not called in the forward pass; only pre-initialised.", stacklevel=2)
    return variances


def _normalization_fed(net: nn.Module, layers: dict[str, nn.Module], forward: Any) -> set[str]:
    """Names of the ``layers`` whose output tensor is the input of a normalisation layer, in one forward."""
    produced: dict[str, Tensor] = {}  # strong references: tensor identity is only meaningful while alive
    fed: set[str] = set()

    def record(name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            produced[name] = output

        return hook

    def check(module: nn.Module, args: Any) -> None:
        fed.update(name for name, out in produced.items() if args and args[0] is out)

    hooks = [m.register_forward_hook(record(name)) for name, m in layers.items()]
    hooks += [m.register_forward_pre_hook(check) for m in net.modules() if isinstance(m, NORM_LAYERS)]
    try:
        forward()
    finally:
        for h in hooks:
            h.remove()
    return fed


def _recorder(name: str, outputs: dict[str, Tensor]) -> Any:
    def hook(module: nn.Module, args: Any, output: Tensor) -> None:
        outputs[name] = output.detach()

    return hook


def _refresh_spectral_norm(layers: Any, iterations: int = 15) -> None:
    """Re-estimate ``_u``/``_v`` for a new weight (torch does 15 power iterations when wrapping)."""
    for layer in layers:
        if hasattr(layer, "parametrizations") and is_spectral_normed(layer):
            was_training = layer.training
            layer.train()
            for _ in range(iterations):
                _ = layer.weight  # in training mode each access runs the power method in place
            layer.train(was_training)


class LSUVInit(Callback):
    """LSUV initialisation (Mishkin & Matas 2016, https://arxiv.org/abs/1511.06422) at the start of a fresh fit.

    Runs :func:`lsuv_init_` on the generator with a batch of noise (``pl_module.sample_noise``) and
    on the critic with the first real batch of a **new** train dataloader obtained from the
    datamodule (or the module, or the loaders given to ``fit``); the loader used for training is
    neither created nor advanced, so data order and exact resume are untouched.

    When: ``on_fit_start``, once per callback instance, and never when ``fit`` resumes from
    ``ckpt_path`` (that would destroy trained weights; ``trainer.ckpt_path`` is known only from
    ``on_fit_start`` on, not in ``setup``). Running after ``setup`` also means any ``SpectralNorm``
    callback has already wrapped the layers, whatever the callback order.

    Rank consistency under DDP: everything random is drawn inside ``torch.random.fork_rng`` seeded
    with ``seed`` (orthonormal matrices, noise, the loader's shuffle), so every rank computes the same
    weights and the global RNG stream is left as it was; then the generator's and critic's parameters
    and buffers are broadcast from rank 0 explicitly, since DDP's constructor (which synchronises
    ``setup``-time initialisation) has already run.

    Module protocol: ``pl_module.generator``, ``pl_module.critic`` and
    ``pl_module.sample_noise(n, rng)`` (or a ``latent_dim`` attribute for standard-normal
    noise); training batches are a tensor or a ``(tensor, ...)`` sequence.

    Args:
        tol: tolerance on each layer's output variance (> 0; the paper's 0.1).
        max_iters: maximum rescalings per layer (>= 1; the paper's ``T_max`` = 10).
        generator: initialise the generator.
        critic: initialise the critic.
        noise_batch_size: noise samples for the generator's forward passes (>= 2).
        seed: seed of everything LSUV draws.
        output_layers: also initialise each net's last Linear/Conv layer (Mishkin & Matas do).
            ``False`` leaves it as it was: its scale is the net's output scale (the generator's
            pre-tanh range, the critic's score scale); see ``benchmarks/lsuv_digits.py``.
        normalized_layers: also initialise the layers whose output goes straight into a
            normalisation layer (Mishkin & Matas do). ``False`` (the default) leaves them exactly as
            they were: the normalisation fixes their output scale anyway, and rescaling their
            weights only changes their effective learning rate under Adam (the cause of FID ~60
            instead of ~15 for WGAN-GP on the digits); see :func:`lsuv_init_`.

    Raises:
        ValueError: an argument is out of range, or a selected network has no Linear/Conv layer.
        TypeError: the module does not follow the protocol.

    Example:
        >>> trainer = Trainer(callbacks=[SpectralNorm(), LSUVInit(tol=0.1, max_iters=10)])  # doctest: +SKIP
    """

    def __init__(
        self,
        tol: float = 0.1,
        max_iters: int = 10,
        generator: bool = True,
        critic: bool = True,
        noise_batch_size: int = 256,
        seed: int = 0,
        output_layers: bool = True,
        normalized_layers: bool = False,
    ) -> None:
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
            raise ValueError(f"`tol` must be a number > 0, got {tol!r}.")
        for name, value, low in (("max_iters", max_iters, 1), ("noise_batch_size", noise_batch_size, 2)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")
        for name, value in (
            ("generator", generator),
            ("critic", critic),
            ("output_layers", output_layers),
            ("normalized_layers", normalized_layers),
        ):
            if not isinstance(value, bool):
                raise TypeError(f"`{name}` must be a bool, got {value!r}.")
        if not (generator or critic):
            raise ValueError("At least one of `generator` and `critic` must be True.")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"`seed` must be an integer, got {seed!r}.")
        self.tol = float(tol)
        self.max_iters = max_iters
        self.noise_batch_size = noise_batch_size
        self.seed = seed
        self.output_layers = output_layers
        self.normalized_layers = normalized_layers
        self._nets = [name for name, on in (("generator", generator), ("critic", critic)) if on]
        #: ``{"generator"|"critic": {layer: final variance}}``; empty until LSUV has run.
        self.results: dict[str, dict[str, float]] = {}

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        for name in self._nets:
            net = getattr(pl_module, name, None)
            if not isinstance(net, nn.Module):
                raise TypeError(f"LSUVInit needs an `nn.Module` attribute `{name}` on {type(pl_module).__name__}.")
            if not any(isinstance(m, LSUV_LAYERS) for m in net.modules()):
                raise ValueError(f"LSUVInit: `{name}` ({type(net).__name__}) has no Linear/Conv layer to initialise.")

    def on_fit_start(self, trainer: Trainer, pl_module: Any) -> None:
        if self.results:
            return  # already ran in an earlier fit with this callback
        if trainer.ckpt_path is not None:
            rank_zero_info("LSUVInit: resuming from a checkpoint, weights left as saved.")
            return
        with _seeded_rng(self.seed, pl_module.device):  # the loader's shuffle draws from the global RNG
            real, labels = _first_real_batch(trainer) if "critic" in self._nets else (None, None)
        if trainer.world_size > 1:  # a DataModule's fresh loader may read each rank's own part: use rank 0's batch
            real, labels = trainer.strategy.broadcast((real, labels), src=0)
        self.initialize(pl_module, real, labels)
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            for name in self._nets:
                net = getattr(pl_module, name)
                for t in [*net.parameters(), *net.buffers()]:
                    torch.distributed.broadcast(t.data, src=0)

    def initialize(
        self, pl_module: Any, real: Tensor | None = None, labels: Tensor | None = None
    ) -> dict[str, dict[str, float]]:
        """Run LSUV on the selected networks now; independent of (and invisible to) the global RNG.

        Args:
            pl_module: the module (protocol above).
            real: a batch of real samples for the critic (required when the critic is selected).
            labels: their class labels, for a conditional module (``num_classes`` set); the
                generator's forwards get labels from ``pl_module.sample_labels``.
        """
        device = next(pl_module.parameters()).device
        with _seeded_rng(self.seed, device):
            rng = torch.Generator(device=device).manual_seed(self.seed)
            results = {}
            if "generator" in self._nets:
                z = _noise(pl_module, self.noise_batch_size, rng, device)
                fake_labels = _labels(pl_module, len(z), rng)
                results["generator"] = lsuv_init_(
                    pl_module.generator,
                    z,
                    self.tol,
                    self.max_iters,
                    rng,
                    self.output_layers,
                    labels=fake_labels,
                    normalized_layers=self.normalized_layers,
                )
            if "critic" in self._nets:
                if real is None:
                    raise ValueError("LSUVInit.initialize: `real` is required to initialise the critic.")
                real_labels = labels.to(device) if labels is not None and _conditional(pl_module) else None
                results["critic"] = lsuv_init_(
                    pl_module.critic,
                    real.to(device),
                    self.tol,
                    self.max_iters,
                    rng,
                    self.output_layers,
                    labels=real_labels,
                    normalized_layers=self.normalized_layers,
                )
        self.results = results
        return results


@contextmanager
def _seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Global RNG seeded with ``seed`` inside, restored to its previous state on exit."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def _noise(pl_module: Any, n: int, rng: torch.Generator, device: torch.device) -> Tensor:
    if hasattr(pl_module, "sample_noise"):
        return pl_module.sample_noise(n, rng).to(device)
    return torch.randn(n, pl_module.latent_dim, generator=rng, device=device)


def _conditional(pl_module: Any) -> bool:
    return getattr(pl_module, "num_classes", None) is not None


def _labels(pl_module: Any, n: int, rng: torch.Generator) -> Tensor | None:
    return pl_module.sample_labels(n, rng) if _conditional(pl_module) else None


def _first_real_batch(trainer: Trainer) -> tuple[Tensor, Tensor | None]:
    """First batch of a fresh train dataloader; the loader the trainer trains with is not touched."""
    source = fit_data_source(trainer)  # datamodule, module or the loaders passed to `fit`
    return split_batch(next(iter(source.dataloader())))
