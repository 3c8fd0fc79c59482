"""A grid of samples from one fixed noise batch, logged every N generator updates."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from lightning_gans import _checks
from lightning_gans.callbacks._images import EveryNGeneratorSteps, log_image
from lightning_gans.callbacks.metrics import _training_dataset
from lightning_gans.images import MIN_SIDE, image_grid
from lightning_gans.protocol import require, split_batch

__all__ = ["TABLE_COLUMNS", "SampleLogger"]

TABLE_COLUMNS = ("generator_step", "class", "samples")
"""Columns of the W&B Table of samples: the generator step, the class (``"all"`` when unconditional), the images."""
_TABLE_SIDE = 64  # per-class strips in the table are one row of images: keep them small


class SampleLogger(EveryNGeneratorSteps):
    """Log a grid of generated images from a fixed noise batch every ``every_n_generator_steps``.

    Watching the same latent points evolve is the standard GAN progress view (Radford et al. 2016,
    DCGAN, https://arxiv.org/abs/1511.06434, Fig. 2-3). The noise is drawn from a ``torch.Generator``
    seeded with ``noise_seed`` each time, so every grid, across resumes too, uses the same latents and
    the module's training noise stream is never touched.

    The grid goes to each logger through its own image API (``WandbLogger.log_image``, TensorBoard's
    ``add_image``, or any logger with a ``log_image(key, images, step=...)`` method), at the logger
    step (batches = updates) with the generator step in the caption and the file name. With no
    image-capable logger it is saved as ``<log dir>/<key>/<key>_g<generator step>.png``.

    Grids are upscaled (nearest neighbour, so pixels stay sharp) to at least ``min_side`` pixels a
    side: 64 digits of 8x8 make a 274x274 grid instead of 82x82. With ``log_real``, a grid of as
    many real images (the first training batches) is logged once, under ``<key>_real``, for
    comparison: with the first sample grid after ``num_samples`` real images were seen, or at the end.

    Conditional modules (``pl_module.num_classes`` set): one row per class and ``nrow`` columns,
    column ``j`` using the same noise vector in every row, so a column shows one latent across the
    classes and a row one class across latents (``num_samples`` is then ``num_classes * nrow``).

    Module protocol: ``pl_module.sample(n, rng=...)`` returning images ``(n, C, H, W)`` with
    C in {1, 3}, and ``pl_module.generator_steps``; for conditional modules also ``num_classes``,
    ``sample_noise(n, rng)`` and ``sample(n, labels=..., noise=...)``.

    Args:
        every_n_generator_steps: log after every this many generator updates (>= 1).
        num_samples: images in the grid.
        nrow: images per grid row.
        noise_seed: seed of the fixed noise batch.
        value_range: range of the generator's output, mapped to [0, 1] (``(-1, 1)`` for tanh).
        key: image name on the dashboard.
        dirpath: PNG directory (default ``<log dir>/<key>``).
        save_png: ``True`` always saves PNGs, ``False`` never, ``None`` (default) only when no
            logger can take images.
        log_on_train_end: also log the final generator state when training ends.
        log_real: log one grid of real training images (``<key>_real``) with the first grid.
        min_side: minimum grid side in pixels (nearest-neighbour upscaling; 1 keeps the native size).
        wandb_table: with a ``WandbLogger``, also log a W&B Table ``<key>_table`` with one row per
            logged generator step (and class, for conditional modules): columns :data:`TABLE_COLUMNS`.

    Example:
        >>> trainer = Trainer(callbacks=[SampleLogger(every_n_generator_steps=500)])  # doctest: +SKIP
    """

    def __init__(
        self,
        every_n_generator_steps: int = 500,
        num_samples: int = 64,
        nrow: int = 8,
        noise_seed: int = 0,
        value_range: tuple[float, float] = (-1.0, 1.0),
        key: str = "samples",
        dirpath: str | None = None,
        save_png: bool | None = None,
        log_on_train_end: bool = True,
        log_real: bool = True,
        min_side: int = MIN_SIDE,
        wandb_table: bool = True,
    ) -> None:
        super().__init__(every_n_generator_steps, log_on_train_end)
        self.num_samples = _checks.integer("num_samples", num_samples)
        self.nrow = _checks.integer("nrow", nrow)
        self.min_side = _checks.integer("min_side", min_side)
        self.value_range = _checks.value_range("value_range", value_range)
        if not isinstance(key, str) or not key:
            raise _checks.InputError(f"`key` must be a non-empty string, got {key!r}.")
        self.noise_seed = _checks.integer("noise_seed", noise_seed, minimum=0)
        self.key = key
        self.dirpath = dirpath
        self.save_png = save_png
        self.log_real = log_real
        self.wandb_table = wandb_table
        self._table_rows: list[list[Any]] = []  # rows of the W&B Table so far (this process's run)
        self._real: Tensor | None = None  # real images collected from the first training batches
        self._real_logged = False
        #: Where each grid went (logger names and PNG paths), for inspection.
        self.history: list[tuple[int, list[str]]] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Check, before any training step, that the module samples images and the training images fit them.

        Raises:
            InputError: the samples are not ``(N, C, H, W)`` with C in {1, 3}; with ``log_real``, the training images
                have another shape than the samples, or lie outside ``value_range``.
        """
        require(pl_module, self, "sample", "generator_steps")
        module: Any = pl_module
        with torch.no_grad():
            fake = module.sample(2, rng=torch.Generator(device=pl_module.device).manual_seed(self.noise_seed))
        if fake.dim() != 4 or fake.shape[1] not in (1, 3):
            raise _checks.InputError(
                f"SampleLogger needs images (N, C, H, W) with C in (1, 3), but the module samples {tuple(fake.shape)}; "
                "for 2-D points use `ToyPlot`."
            )
        if not self.log_real:
            return
        with torch.random.fork_rng(devices=[]):  # building a loader to reach its dataset may draw from the global RNG
            data = _training_dataset(trainer, required=False)
            real = (
                None
                if data is None or len(data) == 0
                else torch.stack([_image(data[i]) for i in range(min(2, len(data)))])
            )
        if real is None:
            return
        real = real.to(fake.dtype)
        if real.shape[1:] != fake.shape[1:]:
            raise _checks.InputError(
                f"SampleLogger: the training images are {tuple(real.shape[1:])} (C, H, W) but the samples "
                f"{tuple(fake.shape[1:])}: the real grid (`log_real`) could not sit beside the samples. Make the "
                "generator's `image_size`/`channels` match the data's (or set `log_real: false`)."
            )
        _checks.within_range(
            "value_range",
            real,
            self.value_range,
            "the training images",
            "grids would clip them; set `value_range` to the data's range ((-1, 1) for the shipped datamodules).",
        )

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if not self.log_real or self._real_logged or (self._real is not None and len(self._real) >= self.num_samples):
            return
        images, _ = split_batch(batch)
        images = images.detach().cpu()
        self._real = (images if self._real is None else torch.cat([self._real, images]))[: self.num_samples]

    def grid(self, pl_module: Any) -> Tensor:
        """The current grid, ``(H, W, 3)`` uint8 with sides >= ``min_side``, from the fixed noise batch."""
        images, _ = self.samples(pl_module)
        return image_grid(images, self.value_range, self.nrow, self.min_side)  # (H, W, 3)

    def samples(self, pl_module: Any) -> tuple[Tensor, Tensor | None]:
        """The grid's images ``(N, C, H, W)`` and, for a conditional module, their labels ``(N,)`` (else ``None``)."""
        labels = None
        rng = torch.Generator(device=pl_module.device).manual_seed(self.noise_seed)
        num_classes = getattr(pl_module, "num_classes", None)
        if num_classes:  # row k: class k; column j: noise z_j in every row
            noise = pl_module.sample_noise(self.nrow, rng).repeat(num_classes, 1)  # (K * nrow, latent_dim)
            labels = torch.arange(num_classes, device=pl_module.device).repeat_interleave(self.nrow)
            images = pl_module.sample(len(labels), labels=labels, noise=noise)
            labels = labels.cpu()
        else:
            images = pl_module.sample(self.num_samples, rng=rng)
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"SampleLogger needs images (N, C, H, W) with C in (1, 3), got {tuple(images.shape)}; "
                "for 2-D points use `ToyPlot`."
            )
        return images.detach().cpu(), labels

    def _log(self, trainer: Trainer, pl_module: Any) -> None:
        step = int(pl_module.generator_steps)
        if not trainer.is_global_zero:
            return
        if self._real is not None and len(self._real) >= self.num_samples:
            self._log_real(trainer)
        images, labels = self.samples(pl_module)
        sent = log_image(
            trainer,
            self.key,
            image_grid(images, self.value_range, self.nrow, self.min_side),
            step=trainer.global_step,
            caption=f"generator step {step}",
            png_name=f"{self.key.replace('/', '_')}_g{step:07d}.png",
            dirpath=self.dirpath,
            save_png=self.save_png,
        )
        if self.wandb_table:
            self._log_table(trainer, step, images, labels)
        self.history.append((step, sent))

    def _log_table(self, trainer: Trainer, step: int, images: Tensor, labels: Tensor | None) -> None:
        """Add this step's rows to the W&B Table ``<key>_table`` (generator step, class, images) and log it whole."""
        from lightning.pytorch.loggers import WandbLogger

        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not loggers:
            return
        import wandb

        groups = (
            [("all", images)] if labels is None else [(int(k), images[labels == k]) for k in labels.unique(sorted=True)]
        )
        for name, group in groups:
            strip = image_grid(group, self.value_range, self.nrow, min_side=_TABLE_SIDE)
            self._table_rows.append(
                [step, name, wandb.Image(strip.numpy(), caption=f"generator step {step}, class {name}")]
            )
        for logger in loggers:
            logger.log_table(
                key=f"{self.key}_table",
                columns=list(TABLE_COLUMNS),
                data=list(self._table_rows),
                step=trainer.global_step,
            )

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if trainer.is_global_zero:
            self._log_real(trainer)  # a run shorter than `num_samples` real images still gets its real grid

    def _log_real(self, trainer: Trainer) -> None:
        """Log the grid of collected real images once (``<key>_real``), as many as the sample grid when available."""
        if not self.log_real or self._real_logged or self._real is None or self._real.dim() != 4:
            return
        self._real_logged = True
        real_key = f"{self.key}_real"
        log_image(
            trainer,
            real_key,
            image_grid(self._real, self.value_range, self.nrow, self.min_side),
            step=trainer.global_step,
            caption="real images",
            png_name=f"{real_key.replace('/', '_')}.png",
            dirpath=self.dirpath,
            save_png=self.save_png,
        )

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "real_logged": self._real_logged}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._real_logged = bool(state_dict.get("real_logged", False))


def _image(item: Any) -> Tensor:
    """The image of a dataset item: ``image`` or ``(image, label, ...)``."""
    return torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item)
