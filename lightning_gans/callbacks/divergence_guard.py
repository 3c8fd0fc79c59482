"""Stop (or skip the update) as soon as a loss, gradient or weight becomes non-finite (or too large)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lightning_gans.protocol import critic_optimizer, generator_optimizer, grad_scaler

__all__ = ["DivergenceError", "DivergenceGuard"]


class DivergenceError(FloatingPointError):
    """Raised by :class:`DivergenceGuard` when training produced a non-finite loss, gradient or weight."""


class DivergenceGuard(Callback):
    """Detect non-finite critic/generator losses, gradients and weights before they are applied or saved.

    GAN training can diverge suddenly (a critic loss of ``inf``, a NaN gradient penalty under
    fp16; see Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028, Sec. 4, on why the
    unconstrained critic explodes). This callback checks every update:

    * ``on_before_backward``: remembers the loss (critic loss + penalty, or generator loss);
    * ``on_before_optimizer_step``: the remembered loss and the gradients of the optimizer's
      parameters must be finite, and with ``loss_limit`` set, ``|loss| <= loss_limit`` (a critic
      loss of 1e17 is finite but already diverged). If not, with ``action="stop"`` a :class:`DivergenceError` naming
      the global step, the network, the loss and the first non-finite gradients is raised *before*
      the optimizer steps; with ``action="skip"`` the gradients are dropped (``grad = None``, so
      the optimizer leaves those parameters and its own state untouched), a warning names the step
      and loss, and training continues. More than ``max_consecutive_skips`` skips in a row stop.
    * ``on_train_batch_end``: all weights and buffers of the module must be finite (``check_weights``).
      Lightning runs checkpoint callbacks after all others, so a ``ModelCheckpoint`` never writes
      non-finite weights over the last good checkpoint: the error is raised first.

    Under ``16-mixed`` a ``GradScaler`` expects occasional non-finite gradients: it skips that step
    and halves its scale. The guard leaves those to the scaler and acts only once the scale has
    fallen below ``min_grad_scale`` (overflow even without scaling is divergence); the loss it
    reports is unscaled.

    The message names the cause where it can: when the real batch of the update itself holds NaN or
    inf values, it says so (the data, not the optimisation, is at fault); it names the latest
    checkpoint written in this run, or says that none was written.

    Under DDP every decision is all-reduced (``strategy.reduce_boolean_decision``), so all ranks
    stop or skip together. Cost: one host sync per update (and one all-reduce under DDP).

    Module protocol: optimizers ``[generator_optimizer, critic_optimizer]`` (any other list also
    works; updates are then named by optimizer index) and losses passed to ``manual_backward``.

    Args:
        action: ``"stop"`` (raise :class:`DivergenceError`) or ``"skip"`` (drop the update).
        max_consecutive_skips: with ``"skip"``, stop after this many non-finite updates in a row (>= 1).
        check_weights: also check the module's parameters and buffers after every batch.
        min_grad_scale: under a ``GradScaler``, non-finite updates at a larger scale are left to the
            scaler (> 0).
        loss_limit: treat an update whose loss exceeds this in absolute value as diverged, like a
            non-finite one (> 0, finite); ``None`` (default) checks finiteness only.

    Raises:
        ValueError: an argument is out of range (the message names it).

    Example:
        >>> trainer = Trainer(callbacks=[DivergenceGuard(), ModelCheckpoint(save_last=True)])  # doctest: +SKIP
    """

    def __init__(
        self,
        action: str = "stop",
        max_consecutive_skips: int = 10,
        check_weights: bool = True,
        min_grad_scale: float = 1.0,
        loss_limit: float | None = None,
    ) -> None:
        if action not in _ACTIONS:
            raise ValueError(f"`action` must be one of {sorted(_ACTIONS)}, got {action!r}.")
        if (
            not isinstance(max_consecutive_skips, int)
            or isinstance(max_consecutive_skips, bool)
            or max_consecutive_skips < 1
        ):
            raise ValueError(f"`max_consecutive_skips` must be an integer >= 1, got {max_consecutive_skips!r}.")
        if not isinstance(check_weights, bool):
            raise ValueError(f"`check_weights` must be a bool, got {check_weights!r}.")
        if isinstance(min_grad_scale, bool) or not isinstance(min_grad_scale, (int, float)) or not min_grad_scale > 0:
            raise ValueError(f"`min_grad_scale` must be a number > 0, got {min_grad_scale!r}.")
        if loss_limit is not None and (
            isinstance(loss_limit, bool) or not isinstance(loss_limit, (int, float)) or not 0 < loss_limit < math.inf
        ):
            raise ValueError(f"`loss_limit` must be a finite number > 0 or None, got {loss_limit!r}.")
        self._action: Callable[[DivergenceGuard, Trainer, torch.optim.Optimizer, str], None] = _ACTIONS[action]
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.check_weights = check_weights
        self.min_grad_scale = float(min_grad_scale)
        self.loss_limit = None if loss_limit is None else float(loss_limit)
        #: ``(global_step, network, loss)`` of every update dropped with ``action="skip"``.
        self.skipped: list[tuple[int, str, float]] = []
        self._consecutive = 0
        self._loss: Tensor | None = None
        self._last: tuple[int, str, float] = (0, "", math.nan)  # the update being judged
        self._batch: Any = None  # the real batch of the current update, inspected only on divergence
        self._batch_idx = -1
        self._saved_step: int | None = None  # global step of the latest checkpoint written in this run

    # ----------------------------------------------------------------------------------------
    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        self._batch, self._batch_idx = batch, batch_idx

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self._saved_step = trainer.global_step

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        scaler = grad_scaler(trainer)
        self._loss = (
            loss.detach() if scaler is None else loss.detach().float() / scaler.get_scale()
        )  # hooks see the scaled loss

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        loss, self._loss = self._loss, None
        bad_grads = _non_finite_grads(pl_module, optimizer)
        finite = not bad_grads and (loss is None or bool(torch.isfinite(loss).all()))
        too_large = (
            finite and loss is not None and self.loss_limit is not None and bool((loss.abs() > self.loss_limit).any())
        )
        finite = finite and not too_large
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            self._consecutive = 0
            return
        scaler = grad_scaler(trainer)
        if scaler is not None and scaler.get_scale() >= self.min_grad_scale:
            return  # the GradScaler skips this step and lowers its scale: AMP overflow, not divergence
        network = _network_name(trainer, optimizer)
        loss_value = math.nan if loss is None else float(loss.float().item())
        self._last = (trainer.global_step, network, loss_value)
        loss_text = "unknown" if loss is None else f"{loss_value:.6g}"
        if too_large:
            loss_text += f", beyond `loss_limit`={self.loss_limit:g}"
        grads_text = (
            f"; non-finite gradients in {', '.join(bad_grads[:5])}" + (" ..." if len(bad_grads) > 5 else "")
            if bad_grads
            else ""
        )
        kind = "diverging" if too_large else "non-finite"
        message = (
            f"DivergenceGuard: {kind} {network} update at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}): {network} loss = {loss_text}{grads_text}"
        )
        self._action(self, trainer, optimizer, message)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.check_weights:
            return
        bad = [
            name
            for name, t in [*pl_module.named_parameters(), *pl_module.named_buffers()]
            if t.is_floating_point() and not bool(torch.isfinite(t).all())
        ]
        if trainer.strategy.reduce_boolean_decision(not bad, all=True):
            return
        raise DivergenceError(
            f"DivergenceGuard: non-finite weights after global step {trainer.global_step} (epoch {trainer.current_epoch}) in "
            f"{', '.join(bad[:5]) or 'another rank'}; stopped before any checkpoint of this state was written. "
            f"{self._data_text()}{self._checkpoint_text(trainer)}"
        )

    # ----------------------------------------------------------------------------------------
    def _stop(self, trainer: Trainer, optimizer: torch.optim.Optimizer, message: str) -> None:
        data = self._data_text()
        advice = (
            ""
            if data
            else (
                "Lower the learning rates or raise the penalty weight, then resume from that checkpoint with the new values "
                "(the CLI uses values given with `--ckpt_path`)."
            )
        )
        raise DivergenceError(
            f"{message}. Training stopped before this update was applied. {data}{self._checkpoint_text(trainer)}{advice}"
        )

    def _data_text(self) -> str:
        """A sentence blaming the data when the current real batch holds NaN/inf values, else ''."""
        bad = sum(int((~torch.isfinite(t)).sum()) for t in _batch_tensors(self._batch) if t.is_floating_point())
        if not bad:
            return ""
        return (
            f"The real batch of this update (batch_idx {self._batch_idx}) itself holds {bad} NaN/inf values: the data, "
            "not the optimisation, is the cause. Check the dataset and its transforms. "
        )

    def _checkpoint_text(self, trainer: Trainer) -> str:
        """Which checkpoint to resume from: the latest file written in this run, or that there is none."""
        if self._saved_step is None:
            resumed = f" (it resumed from {trainer.ckpt_path})" if trainer.ckpt_path else ""
            return f"No checkpoint was written in this run{resumed}. "
        paths = {
            p
            for cb in trainer.checkpoint_callbacks
            for p in (getattr(cb, "last_model_path", ""), getattr(cb, "best_model_path", ""))
            if p
        }
        existing = [p for p in paths if os.path.isfile(p)]
        if not existing:
            return f"A checkpoint of global step {self._saved_step} was written in this run. "
        return f"Latest checkpoint written in this run: {max(existing, key=os.path.getmtime)} (finite weights). "

    def _skip(self, trainer: Trainer, optimizer: torch.optim.Optimizer, message: str) -> None:
        self._consecutive += 1
        if self._consecutive > self.max_consecutive_skips:
            self._stop(
                trainer,
                optimizer,
                f"{message} ({self._consecutive} non-finite updates in a row, `max_consecutive_skips`={self.max_consecutive_skips})",
            )
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = None  # the optimizer skips parameters without gradients, its state included
        self.skipped.append(self._last)
        rank_zero_warn(f"{message}. Update skipped ({len(self.skipped)} so far).")

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": [list(s) for s in self.skipped]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = [(int(s), str(n), float(v)) for s, n, v in state_dict.get("skipped", [])]


_ACTIONS: dict[str, Callable[[DivergenceGuard, Trainer, torch.optim.Optimizer, str], None]] = {
    "stop": DivergenceGuard._stop,
    "skip": DivergenceGuard._skip,
}


def _batch_tensors(batch: Any) -> list[Tensor]:
    if isinstance(batch, Tensor):
        return [batch]
    if isinstance(batch, (list, tuple)):
        return [t for item in batch for t in _batch_tensors(item)]
    if isinstance(batch, dict):
        return [t for item in batch.values() for t in _batch_tensors(item)]
    return []


def _network_name(trainer: Trainer, optimizer: torch.optim.Optimizer) -> str:
    module = trainer.lightning_module
    for name, named in (("generator", generator_optimizer), ("critic", critic_optimizer)):
        try:
            if named(module) is optimizer:
                return name
        except (AttributeError, IndexError, TypeError):  # a module without the named optimizers
            break
    index = next((i for i, opt in enumerate(trainer.optimizers) if opt is optimizer), None)
    return f"optimizer {index}"


def _non_finite_grads(pl_module: LightningModule, optimizer: torch.optim.Optimizer) -> list[str]:
    names = {id(p): n for n, p in pl_module.named_parameters()}
    grads = [
        (names.get(id(p), "?"), p.grad)
        for group in optimizer.param_groups
        for p in group["params"]
        if p.grad is not None
    ]
    if not grads:
        return []
    if bool(torch.stack([torch.isfinite(g).all() for _, g in grads]).all()):  # one sync in the common case
        return []
    return [name for name, g in grads if not bool(torch.isfinite(g).all())]
