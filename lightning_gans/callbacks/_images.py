"""Send one image to whatever image-capable loggers the trainer has, or save it as a PNG.

Shared by :class:`~lightning_gans.callbacks.SampleLogger` and :class:`~lightning_gans.callbacks.ToyPlot`.
Each logger class maps through one table to its own image API; any other logger with a
``log_image(key, images, step=...)`` method (W&B's signature, also used by several third-party
loggers) is called through that method.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from torch import Tensor

from lightning_gans import _checks
from lightning_gans.callbacks._schedule import GeneratorStepSchedule

__all__ = ["EveryNGeneratorSteps", "log_image"]


def _wandb(logger: Any, key: str, image: Tensor, step: int, caption: str) -> None:
    logger.log_image(key, [image.numpy()], step=step, caption=[caption])


def _tensorboard(logger: Any, key: str, image: Tensor, step: int, caption: str) -> None:
    logger.experiment.add_image(key, image.numpy(), global_step=step, dataformats="HWC")


def _duck(logger: Any, key: str, image: Tensor, step: int, caption: str) -> None:
    logger.log_image(key, [image.numpy()], step=step)


_IMAGE_WRITERS: dict[type, Callable[[Any, str, Tensor, int, str], None]] = {
    WandbLogger: _wandb,
    TensorBoardLogger: _tensorboard,
}
"""Logger class -> writer of one ``(H, W, 3)`` uint8 image through that logger's own image API."""


def _writer(logger: Logger) -> Callable[[Any, str, Tensor, int, str], None] | None:
    for cls, writer in _IMAGE_WRITERS.items():
        if isinstance(logger, cls):
            return writer
    return _duck if callable(getattr(logger, "log_image", None)) else None


def log_image(
    trainer: Trainer,
    key: str,
    image: Tensor,
    step: int,
    caption: str,
    png_name: str,
    dirpath: str | None = None,
    save_png: bool | None = None,
) -> list[str]:
    """Log ``image`` (``(H, W, 3)`` uint8) to every image-capable logger; write a PNG if none took it.

    Call on global rank zero only.

    Args:
        trainer: the running trainer.
        key: image name on the dashboard, e.g. ``"samples"``.
        image: ``(H, W, 3)`` uint8.
        step: logger step (the trainer's global step: one batch is one update).
        caption: short caption (W&B shows it under the image).
        png_name: file name of the PNG, without directory.
        dirpath: PNG directory (default: ``<trainer.log_dir or default_root_dir>/<key>``).
        save_png: ``True`` always writes the PNG, ``False`` never, ``None`` only when no logger took the image.

    Returns:
        Where the image went: logger class names and/or the PNG path.
    """
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[2] != 3:
        raise ValueError(f"`image` must be (H, W, 3) uint8, got {tuple(image.shape)} {image.dtype}.")
    sent: list[str] = []
    for logger in trainer.loggers:
        writer = _writer(logger)
        if writer is not None:
            writer(logger, key, image, step, caption)
            sent.append(type(logger).__name__)
    if save_png or (save_png is None and not sent):
        from torchvision.io import write_png

        root = dirpath or os.path.join(_log_root(trainer), re.sub(r"[^\w.-]+", "_", key))
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, png_name)
        write_png(image.permute(2, 0, 1).contiguous(), path)
        sent.append(path)
    return sent


def _log_root(trainer: Trainer) -> str:
    # trainer.log_dir broadcasts (a collective); callers run on rank zero only, so read it locally
    for logger in trainer.loggers:
        for attr in ("log_dir", "save_dir"):
            value = getattr(logger, attr, None)
            if isinstance(value, str):
                return value
    return trainer.default_root_dir


class EveryNGeneratorSteps(Callback):
    """Base of the image callbacks: ``_log`` on :class:`~lightning_gans.callbacks._schedule.GeneratorStepSchedule`.

    Subclasses call ``super().__init__(every_n_generator_steps, log_on_train_end)`` and implement
    ``_log(trainer, pl_module)``.
    """

    def __init__(self, every_n_generator_steps: int, log_on_train_end: bool) -> None:
        self.schedule = GeneratorStepSchedule(
            _checks.integer("every_n_generator_steps", every_n_generator_steps), log_on_train_end
        )

    @property
    def every_n_generator_steps(self) -> int:
        return int(self.schedule.every)  # type: ignore[arg-type]

    def on_train_batch_end(self, trainer: Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.schedule.due(pl_module.generator_steps):
            self.schedule.mark(pl_module.generator_steps)
            self._log(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: Any) -> None:
        if self.schedule.due_at_end(pl_module.generator_steps, True):
            self.schedule.mark(pl_module.generator_steps)
            self._log(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state_dict)

    def _log(self, trainer: Trainer, pl_module: Any) -> None:
        raise NotImplementedError
