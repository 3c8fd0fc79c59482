"""Send the whole LightningCLI config (trainer, model, data, callbacks) to the run's loggers."""

from __future__ import annotations

import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback

__all__ = ["CONFIG_KEY", "LoggerSaveConfigCallback"]

CONFIG_KEY = "cli"
"""The config is logged as the hyper-parameter ``cli`` (W&B: ``config.cli.trainer.max_steps`` ...)."""


class LoggerSaveConfigCallback(SaveConfigCallback):
    """``SaveConfigCallback`` that also logs the parsed config as hyper-parameters of every logger.

    Lightning logs the module's and datamodule's hyper-parameters by itself; the trainer settings,
    callbacks and seed exist only in the CLI config, which the stock callback writes to
    ``config.yaml`` in the log directory. This subclass additionally calls
    ``logger.log_hyperparams({"cli": config})`` with the config as a nested dict, so a W&B run shows
    it in its config panel and TensorBoard/CSV get it flattened. Follows the pattern in
    ``SaveConfigCallback.save_config``'s docstring (runs on rank zero only).

    Use: ``LightningCLI(..., save_config_callback=LoggerSaveConfigCallback)``.
    """

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({CONFIG_KEY: config})
