"""Exponential moving average of the generator's parameters."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from torch import nn

from lightning_gans._checks import InputError
from lightning_gans._compat import callback_state_key, spawns_processes
from lightning_gans._ema_state import attach as _attach
from lightning_gans._ema_state import attach_saved_ema
from lightning_gans._ema_state import frozen_copy as _frozen_copy
from lightning_gans.protocol import generator_optimizer, require
from lightning_gans.sharding import full_state_dict, load_full_state_dict

__all__ = ["GeneratorEMA", "attach_saved_ema", "load_ema_generator"]


class GeneratorEMA(Callback):
    """Exponential moving average of the generator's weights, used for sampling and evaluation.

    After every generator optimizer step ``t`` (a post-step hook of the module's ``generator_optimizer``, so a
    step AMP skipped is not averaged) each parameter of the copy follows
    ``ema <- decay * ema + (1 - decay) * theta`` once ``t > start_step``, and equals ``theta`` before.
    This is the generator averaging of Karras et al. 2018 (Progressive GAN,
    https://arxiv.org/abs/1710.10196) and Yazici et al. 2019 (https://arxiv.org/abs/1806.04498).

    Only parameters are averaged. Buffers are copied from the live generator at each update, as in
    StyleGAN2-ADA: BatchNorm statistics, and spectral norm's ``_u``/``_v`` vectors, which must match
    the weights they estimate and break evaluation when averaged. The critic is never touched.

    The copy is created in ``on_train_start`` (after ``LSUVInit`` and ``SpectralNorm``), kept in eval
    mode without gradients, and set as ``pl_module.ema_generator`` when ``use_for_sampling`` (so
    ``pl_module.sample(n)`` and every callback that evaluates through it use it). It is deliberately
    **not** a registered submodule: it stays out of the module's ``state_dict`` (so
    ``load_from_checkpoint`` works without this callback), out of DDP and out of the optimizers. It is
    saved in the checkpoint through this callback's ``state_dict`` and restored exactly on resume.
    ``Module.load_from_checkpoint(path)`` (no Trainer) attaches it again through
    :func:`attach_saved_ema`, so ``sample(n)`` of a reloaded module draws from the average;
    :func:`load_ema_generator` attaches it by hand (e.g. the average of a non-sampling callback).

    Checkpoint keys (under ``checkpoint["callbacks"][state_key]``): ``updates`` (int),
    ``use_for_sampling`` (bool) and ``ema`` (the averaged generator's ``state_dict``).

    Module protocol: ``pl_module.generator`` (an ``nn.Module``), ``configure_optimizers()`` returning
    ``[generator_optimizer, critic_optimizer]``, and an ``ema_generator`` attribute read by ``sample``.

    Args:
        decay: weight of the old average, in [0, 1) (e.g. 0.999).
        start_step: generator updates during which the average just tracks the generator (>= 0).
        use_for_sampling: set ``pl_module.ema_generator`` to the average.

    Raises:
        ValueError: an argument is out of range, or two ``GeneratorEMA`` callbacks both sample, or (``InputError``,
            in ``setup``) the strategy starts its processes with ``multiprocessing`` (``ddp_spawn``,
            ``ddp_notebook``), which returns only the weights to the main process and would lose the average.
        TypeError: the module does not follow the protocol.

    Example:
        >>> trainer = Trainer(callbacks=[GeneratorEMA(decay=0.999, start_step=1000)])  # doctest: +SKIP
        >>> images = model.sample(64)  # from the averaged generator  # doctest: +SKIP
    """

    def __init__(self, decay: float = 0.999, start_step: int = 0, use_for_sampling: bool = True) -> None:
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(f"`decay` must be a number in [0, 1), got {decay!r}.")
        if not isinstance(start_step, int) or isinstance(start_step, bool) or start_step < 0:
            raise ValueError(f"`start_step` must be an integer >= 0, got {start_step!r}.")
        if not isinstance(use_for_sampling, bool):
            raise TypeError(f"`use_for_sampling` must be a bool, got {use_for_sampling!r}.")
        self.decay = float(decay)
        self.start_step = start_step
        self.use_for_sampling = use_for_sampling
        #: Generator updates seen so far (checkpointed).
        self.updates = 0
        self._ema: nn.Module | None = None
        self._generator: nn.Module | None = None
        self._pending: dict[str, Any] | None = None  # state loaded before the copy exists
        self._handle: Any = None

    @property
    def state_key(self) -> str:
        return callback_state_key(
            self, decay=self.decay, start_step=self.start_step, use_for_sampling=self.use_for_sampling
        )

    @property
    def ema_generator(self) -> nn.Module | None:
        """The averaged generator (``None`` before the first fit starts training)."""
        return self._ema

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        if not isinstance(getattr(pl_module, "generator", None), nn.Module):
            raise TypeError(f"GeneratorEMA needs an `nn.Module` attribute `generator` on {type(pl_module).__name__}.")
        if spawns_processes(getattr(trainer, "strategy", None)):
            raise InputError(
                f"GeneratorEMA cannot run under `strategy`={type(trainer.strategy).__name__} with "
                "start_method='spawn'/'fork' (e.g. 'ddp_spawn', 'ddp_notebook'): fit runs in processes it starts and "
                "only the module's weights come back to this process, so the averaged generator would be lost when "
                "fit returns. Use strategy='ddp' (it keeps the average in this process and in checkpoints)."
            )
        callbacks: list[Callback] = getattr(trainer, "callbacks", [])
        samplers = [cb for cb in callbacks if isinstance(cb, GeneratorEMA) and cb.use_for_sampling]
        if len(samplers) > 1:
            raise ValueError("Two GeneratorEMA callbacks with `use_for_sampling=True`: only one can drive `sample()`.")

    def on_train_start(self, trainer: Trainer, pl_module: Any) -> None:
        generator = pl_module.generator
        require(pl_module, self, "generator_optimizer")
        if self._ema is None or self._generator is not generator:
            self._ema = _frozen_copy(generator)
            self._generator = generator
        if self._pending is not None:
            self._load_ema_state(self._pending)
            self._pending = None
        if self.use_for_sampling:
            _attach(pl_module, self._ema)
        self._remove_hook()
        self._handle = generator_optimizer(pl_module).register_step_post_hook(self._on_generator_step)

    def _on_generator_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.updates += 1
        assert self._ema is not None and self._generator is not None  # the hook is registered once both exist
        self.update(self._ema, self._generator, 0.0 if self.updates <= self.start_step else self.decay)

    @staticmethod
    @torch.no_grad()
    def update(ema: nn.Module, generator: nn.Module, decay: float) -> None:
        """One EMA update of ``ema``'s parameters towards ``generator``'s; buffers are copied."""
        for p_ema, p in zip(ema.parameters(), generator.parameters()):
            if decay == 0.0:
                p_ema.copy_(p)
            else:
                p_ema.lerp_(p, 1.0 - decay)  # decay * ema + (1 - decay) * p
        for b_ema, b in zip(ema.buffers(), generator.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        if self._ema is None:
            return dict(self._pending) if self._pending is not None else {"updates": self.updates}
        return {
            "updates": self.updates,
            "use_for_sampling": self.use_for_sampling,  # read by `attach_saved_ema` when a module is reloaded
            "ema": full_state_dict(self._ema),  # full tensors also under FSDP2 (gathered on every rank)
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.updates = int(state_dict["updates"])
        if "ema" not in state_dict:
            return
        if self._ema is None:
            self._pending = state_dict
        else:
            self._load_ema_state(state_dict)

    def teardown(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        self._remove_hook()

    def _load_ema_state(self, state_dict: dict[str, Any]) -> None:
        assert self._ema is not None  # called once the copy exists (else the state waits in _pending)
        load_full_state_dict(self._ema, state_dict["ema"])

    def _remove_hook(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def load_ema_generator(pl_module: Any, checkpoint: str | dict[str, Any], state_key: str | None = None) -> nn.Module:
    """Attach the EMA generator saved in a checkpoint to a module loaded without a Trainer.

    Args:
        pl_module: e.g. the result of ``WGANGP.load_from_checkpoint(path, ...)``.
        checkpoint: path or loaded checkpoint dictionary.
        state_key: the callback's ``state_key``; needed only when the checkpoint holds several EMAs.

    Returns:
        The averaged generator, also set as ``pl_module.ema_generator``.

    Raises:
        KeyError: no (or, without ``state_key``, more than one) EMA state in the checkpoint.
    """
    if not isinstance(checkpoint, dict):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert isinstance(checkpoint, dict)
    states = {
        k: v
        for k, v in checkpoint.get("callbacks", {}).items()
        if k.startswith(GeneratorEMA.__qualname__) and "ema" in v
    }
    if state_key is not None:
        states = {k: v for k, v in states.items() if k == state_key}
    if len(states) != 1:
        raise KeyError(f"Expected one GeneratorEMA state in the checkpoint, found {sorted(states)}; pass `state_key`.")
    ema = _frozen_copy(pl_module.generator)
    ema.load_state_dict(next(iter(states.values()))["ema"])
    _attach(pl_module, ema)
    return ema
