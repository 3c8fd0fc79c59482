"""A progress bar for adversarial training: one bar for the whole run, counted in generator steps."""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from lightning_gans import _checks

__all__ = ["GeneratorProgressBar"]

_POSTFIX: dict[str, str] = {"train/critic_loss": "D", "train/generator_loss": "G"}
"""Logged name -> short label of the values shown after the bar (the latest evaluation's FID is added)."""


class GeneratorProgressBar(TQDMProgressBar):
    """One tqdm bar for all of ``fit``: generator steps done out of the run's total, with the run's ETA.

    Lightning's bar restarts at every epoch and counts batches (``n_critic + 1`` of them per generator
    step); a GAN run is planned in generator steps (``max_steps = K x (n_critic + 1)`` for ``K`` of
    them), so this bar counts ``pl_module.generator_steps`` up to ``K`` and its ETA is the whole run's.
    A resumed run starts at its checkpoint's count. The postfix is short: the critic and generator
    losses and the latest FID of a :class:`~lightning_gans.callbacks.GANMetrics` callback, e.g.
    ``D -0.148, G 0.0581, FID 12.3``. ``lightning-gans fit`` uses it unless the config sets another
    progress bar or ``enable_progress_bar: false``.

    Module protocol: ``pl_module.generator_steps`` and ``pl_module.n_critic`` (ints); with
    ``updates_per_batch="cycle"`` or ``"cycle_reuse"`` each batch is a whole cycle.

    Args:
        refresh_rate: redraw every N generator steps (>= 1).
        process_position: tqdm's ``position`` (several bars at once).
        leave: keep the bar on screen when ``fit`` ends.

    Example:
        >>> trainer = Trainer(max_steps=6_000, callbacks=[GeneratorProgressBar()])  # doctest: +SKIP
    """

    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = True) -> None:
        super().__init__(_checks.integer("refresh_rate", refresh_rate, minimum=1), process_position, leave)
        self._keep_on_screen = leave
        self._start = 0

    def total_generator_steps(self, trainer: Trainer, pl_module: LightningModule) -> int | None:
        """Generator steps at the end of ``fit`` (``None`` when neither ``max_steps`` nor ``max_epochs`` bounds it)."""
        updates = int(getattr(pl_module, "n_critic", 0)) + 1
        if trainer.max_steps is not None and trainer.max_steps >= 0:
            return trainer.max_steps // updates
        batches = self.total_train_batches
        max_epochs = trainer.max_epochs
        if max_epochs is None or max_epochs < 0 or not isinstance(batches, int):
            return None
        per_generator_step = 1 if getattr(pl_module, "updates_per_batch", "one") != "one" else updates
        return batches * max_epochs // per_generator_step

    @property
    def train_description(self) -> str:
        return "generator steps"

    def init_train_tqdm(self, total: int | None = None, initial: int = 0) -> Tqdm:
        """The bar of the whole run: ``total`` generator steps, starting at ``initial`` (a resumed run's count)."""
        return Tqdm(
            desc=self.train_description,
            total=total,
            initial=initial,  # resumed: the ETA counts the remaining steps only
            position=(2 * self.process_position),
            disable=self.is_disabled,
            leave=self._keep_on_screen,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = _generator_steps(pl_module)
        self.train_progress_bar = self.init_train_tqdm(self.total_generator_steps(trainer, pl_module), self._start)

    def on_train_epoch_start(self, trainer: Trainer, *_: Any) -> None:
        pass  # one bar for the whole run

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        bar = self.train_progress_bar
        n = _generator_steps(pl_module)
        if bar.disable or n == bar.n or not (n % self.refresh_rate == 0 or n == bar.total):
            return
        bar.n = n
        bar.set_postfix_str(self.postfix(trainer), refresh=False)
        bar.refresh()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        pass  # the bar closes at the end of training

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        bar = self.train_progress_bar
        if not bar.disable:
            bar.n = _generator_steps(pl_module)
            bar.set_postfix_str(self.postfix(trainer), refresh=False)
        bar.close()  # draws the final state once

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        pass  # GANMetrics hands evaluations to callbacks through this hook: there is no validation bar to close

    def postfix(self, trainer: Trainer) -> str:
        """The short text after the bar: latest losses and the latest FID (``D -0.148, G 0.0581, FID 12.3``)."""
        metrics = trainer.progress_bar_metrics
        parts = [f"{label} {float(metrics[key]):.3g}" for key, label in _POSTFIX.items() if key in metrics]
        fid = _latest_fid(trainer)
        if fid is not None:
            parts.append(f"FID {fid:.3g}")
        return ", ".join(parts)


def _generator_steps(pl_module: LightningModule) -> int:
    return int(getattr(pl_module, "generator_steps", 0))


def _latest_fid(trainer: Trainer) -> float | None:
    """The FID of the latest evaluation of a GANMetrics callback (its ``last_metrics``), if any."""
    from lightning_gans.callbacks.metrics import GANMetrics

    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, GANMetrics):
            value = callback.last_metrics.get(callback.prefix + "fid")
            if value is not None:
                return float(value)
    return None
