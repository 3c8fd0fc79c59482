"""A grid of samples from one fixed noise batch, logged every N generator updates."""

from __future__ import annotations

from typing import Optional

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from lightning_gans.callbacks._images import EveryNGeneratorSteps, log_image, to_uint8_hwc

__all__ = ["SampleLogger"]


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

    Module protocol: ``pl_module.sample(n, generator=...)`` returning images ``(n, C, H, W)`` with
    C in {1, 3}, and ``pl_module.generator_steps``.

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
        dirpath: Optional[str] = None,
        save_png: Optional[bool] = None,
        log_on_train_end: bool = True,
    ) -> None:
        for name, value in (("every_n_generator_steps", every_n_generator_steps), ("num_samples", num_samples), ("nrow", nrow)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise ValueError(f"`value_range` must be (low, high) with low < high, got {value_range!r}.")
        if not isinstance(key, str) or not key:
            raise ValueError(f"`key` must be a non-empty string, got {key!r}.")
        self.every_n_generator_steps = every_n_generator_steps
        self.num_samples = num_samples
        self.nrow = nrow
        self.noise_seed = int(noise_seed)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.key = key
        self.dirpath = dirpath
        self.save_png = save_png
        self.log_on_train_end = log_on_train_end
        self._last_logged = -1  # generator step of the last grid
        #: Where each grid went (logger names and PNG paths), for inspection.
        self.history: list[tuple[int, list[str]]] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not callable(getattr(pl_module, "sample", None)) or not hasattr(pl_module, "generator_steps"):
            raise TypeError("SampleLogger needs a module with `sample(n, generator=...)` and `generator_steps`.")

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The current grid, ``(H, W, 3)`` uint8, from the fixed noise batch."""
        from torchvision.utils import make_grid

        rng = torch.Generator(device=pl_module.device).manual_seed(self.noise_seed)
        images = pl_module.sample(self.num_samples, generator=rng)
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"SampleLogger needs images (N, C, H, W) with C in (1, 3), got {tuple(images.shape)}; "
                "for 2-D points use `ToyPlot`."
            )
        grid = make_grid(images.float().cpu(), nrow=self.nrow, normalize=True, value_range=self.value_range, pad_value=1.0)
        return to_uint8_hwc(grid)  # (H, W, 3)

    def _log(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = pl_module.generator_steps
        self._last_logged = step
        if not trainer.is_global_zero:
            return
        sent = log_image(
            trainer, self.key, self.grid(pl_module), step=trainer.global_step,
            caption=f"generator step {step}", png_name=f"{self.key.replace('/', '_')}_g{step:07d}.png",
            dirpath=self.dirpath, save_png=self.save_png,
        )
        self.history.append((step, sent))
