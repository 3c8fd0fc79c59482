"""Save the whole LightningCLI config (trainer, model, data, callbacks) once per run, and send it to the run's loggers."""

from __future__ import annotations

import os
from typing import Any

import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback

from lightning_gans._checks import InputError

__all__ = ["CONFIG_KEY", "LoggerSaveConfigCallback"]

CONFIG_KEY = "cli"
"""The config is logged as the hyper-parameter ``cli`` (W&B: ``config.cli.trainer.max_steps`` ...)."""


class LoggerSaveConfigCallback(SaveConfigCallback):
    """``SaveConfigCallback`` that refuses to share ``config.yaml`` and logs the config to every logger.

    Lightning logs the module's and datamodule's hyper-parameters by itself; the trainer settings,
    callbacks and seed exist only in the CLI config, which the stock callback writes to
    ``config.yaml`` in the log directory. This subclass additionally calls
    ``logger.log_hyperparams({"cli": config})`` with the config as a nested dict, so a W&B run shows
    it in its config panel and TensorBoard/CSV get it flattened. Follows the pattern in
    ``SaveConfigCallback.save_config``'s docstring (runs on rank zero only).

    One ``config.yaml`` belongs to one run: a new run (no ``ckpt_path``) whose log directory already
    holds one is refused in ``setup``, before the first step, because ``evaluate``/``export`` of
    either run would read the other's config. The file is claimed atomically (``O_EXCL``), so two
    runs started at once in one directory cannot both pass; a new run that fails before its first
    update removes it again. A resume (``--ckpt_path``) rewrites it with the resumed run's config. Loggers that version their directories (CSV, TensorBoard) never
    meet this; it is the case of ``logger: false`` or a fixed ``version``.

    Use: ``LightningCLI(..., save_config_callback=LoggerSaveConfigCallback)``.

    Raises:
        InputError: (in ``setup``) a new run in a log directory that holds another run's ``config.yaml``.
    """

    _claimed: str | None = None  # the config.yaml this (new) run created

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not self.already_saved and self.save_to_log_dir:
            self._claim(trainer)
        super().setup(trainer, pl_module, stage)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """A new run that failed before its first update leaves no ``config.yaml``: the corrected run may start there."""
        path = self._claimed
        if path and trainer.global_step == 0 and trainer.is_global_zero and os.path.isfile(path):
            os.remove(path)
        self._claimed = None

    def _claim(self, trainer: Trainer) -> None:
        log_dir = trainer.log_dir
        if log_dir is None or "://" in log_dir:
            return
        path = os.path.join(log_dir, self.config_filename)
        resuming = bool(_get(self.config, "ckpt_path"))
        taken = False
        if trainer.is_global_zero and not resuming:
            os.makedirs(log_dir, exist_ok=True)
            try:
                with open(path, "x"):  # claim the file: a second run started at the same time finds it
                    pass
                self._claimed = path
            except FileExistsError:
                taken = True
        if trainer.strategy.broadcast(taken):
            raise InputError(
                f"the log directory {log_dir!r} already holds {self.config_filename} of another run: this run's "
                f"config would replace it, and `evaluate`/`export` of that run would read this one's. Give this run "
                "its own `trainer.default_root_dir` (or a logger that versions its directory, e.g. CSVLogger), "
                "or resume that run with `--ckpt_path`."
            )

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({CONFIG_KEY: config})


def _get(config: Any, key: str) -> Any:
    getter = getattr(config, "get", None)
    return getter(key) if callable(getter) else None
