"""Real vs generated 2-D points over the critic's value surface, logged as an image."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from lightning.pytorch import Trainer
from lightning_utilities.core.imports import RequirementCache
from torch import Tensor, nn

from lightning_gans import _checks
from lightning_gans.callbacks._images import EveryNGeneratorSteps, log_image
from lightning_gans.protocol import require, split_batch

__all__ = ["CRITIC_CMAP", "FAKE_COLOR", "REAL_COLOR", "ToyPlot", "plot_toy"]

_MATPLOTLIB_AVAILABLE = RequirementCache("matplotlib")

# Real and generated points in two colours far apart from each other and from every shade of the
# grey critic contours (Okabe-Ito orange and blue: told apart with the common colour-vision deficiencies).
REAL_COLOR = "#E69F00"
FAKE_COLOR = "#0072B2"
CRITIC_CMAP = "Greys"
_MATPLOTLIB_HINT = "ToyPlot needs matplotlib: `pip install 'lightning-gans[plots]'` (or `pip install matplotlib`)."


def _require_matplotlib() -> None:
    if not _MATPLOTLIB_AVAILABLE:
        raise ModuleNotFoundError(_MATPLOTLIB_HINT)


@torch.no_grad()
def critic_surface(critic: nn.Module, extent: float, resolution: int) -> tuple[Tensor, Tensor, Tensor]:
    """The critic's value on a ``resolution x resolution`` grid over ``[-extent, extent]^2``.

    The critic runs in eval mode (restored afterwards), on the device of its parameters.

    Returns:
        ``(xs, ys, values)`` with ``xs, ys`` of shape ``(R,)`` and ``values`` of shape ``(R, R)``
        where ``values[i, j]`` is the critic at ``(xs[j], ys[i])``.
    """
    device = next(critic.parameters()).device
    axis = torch.linspace(-extent, extent, resolution)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([gx.flatten(), gy.flatten()], dim=1).to(device)  # (R*R, 2)
    was_training = critic.training
    critic.eval()
    try:
        values = critic(points).reshape(resolution, resolution).float().cpu()
    finally:
        critic.train(was_training)
    return axis, axis, values


def plot_toy(
    real: Tensor,
    fake: Tensor,
    critic: nn.Module | None = None,
    extent: float | None = None,
    resolution: int = 100,
    title: str = "",
    size_inches: float = 5.0,
    dpi: int = 100,
    fake_labels: Tensor | None = None,
) -> np.ndarray:
    """Render real (orange dots) and generated (blue crosses) 2-D points over the critic's contours.

    The style of the value-surface plots of Gulrajani et al. 2017 (WGAN-GP, Fig. 1 and 2,
    https://arxiv.org/abs/1704.00028): filled grey contours of the critic's value (darker = higher),
    real samples in :data:`REAL_COLOR`, generated samples in :data:`FAKE_COLOR`, axes labelled.

    Args:
        real: ``(N, 2)`` real points.
        fake: ``(M, 2)`` generated points.
        critic: maps ``(K, 2)`` to ``(K,)`` or ``(K, 1)`` values; ``None`` draws the points only.
        extent: half-width of the square drawn (default: 1.2 x the largest coordinate of ``real``).
        resolution: grid points per axis of the contour.
        title: figure title.
        size_inches: figure side in inches.
        dpi: dots per inch.
        fake_labels: ``(M,)`` class of each generated point (conditional models): the crosses are
            then coloured by class (matplotlib's ``tab10``/``tab20``) instead of one colour.

    Returns:
        ``(H, W, 3)`` uint8 RGB array.

    Raises:
        ModuleNotFoundError: matplotlib is not installed.
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for name, points in (("real", real), ("fake", fake)):
        if points.dim() != 2 or points.shape[1] != 2:
            raise ValueError(f"`{name}` must be (N, 2) points, got {tuple(points.shape)}.")
    real, fake = real.detach().float().cpu(), fake.detach().float().cpu()
    if extent is None:
        extent = 1.2 * float(real.abs().max()) if len(real) else 2.0
    fig = Figure(figsize=(size_inches, size_inches), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if critic is not None:
        xs, ys, values = critic_surface(critic, extent, resolution)
        filled = ax.contourf(xs.numpy(), ys.numpy(), values.numpy(), levels=20, cmap=CRITIC_CMAP, alpha=0.6)
        ax.contour(xs.numpy(), ys.numpy(), values.numpy(), levels=20, colors="k", linewidths=0.2, alpha=0.5)
        fig.colorbar(filled, ax=ax, fraction=0.046, pad=0.04, label="critic value")
    ax.scatter(
        real[:, 0].numpy(), real[:, 1].numpy(), s=6, c=REAL_COLOR, marker="o", label="real", alpha=0.9, linewidths=0
    )
    if fake_labels is None:
        ax.scatter(
            fake[:, 0].numpy(),
            fake[:, 1].numpy(),
            s=10,
            c=FAKE_COLOR,
            marker="x",
            label="generated",
            alpha=0.9,
            linewidths=0.8,
        )
    else:
        k = int(fake_labels.max()) + 1 if len(fake_labels) else 1
        ax.scatter(
            fake[:, 0].numpy(),
            fake[:, 1].numpy(),
            s=10,
            c=fake_labels.cpu().numpy(),
            cmap="tab10" if k <= 10 else "tab20",
            vmin=-0.5,
            vmax=(9.5 if k <= 10 else 19.5),
            marker="x",
            label="generated (colour: class)",
            alpha=0.9,
            linewidths=0.8,
        )
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class ToyPlot(EveryNGeneratorSteps):
    """Log real vs generated 2-D points over the critic's value contours every N generator updates.

    The WGAN-GP paper's toy figure (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028,
    Fig. 1 and 2) as a dashboard image: where the critic puts its value, where the real modes are
    and where the generator's samples land. Generated points come from a fixed noise batch
    (``noise_seed``), so successive plots show the same latents moving.

    Real points are ``real`` if given, else the first ``num_samples`` real points of training
    batches seen by this callback. The image goes to each image-capable logger (see
    :class:`~lightning_gans.callbacks.SampleLogger`), or to ``<log dir>/<key>/<key>_g<step>.png``.

    Conditional modules (``pl_module.num_classes`` set): the generated points get balanced labels
    (``i mod num_classes``) and are coloured by class; the contours show, at each point, the critic's
    largest score over the classes (through ``pl_module.discriminate``).

    Module protocol: ``pl_module.sample(n, rng=...)`` returning ``(n, 2)``, ``pl_module.critic``
    and ``pl_module.generator_steps``; for conditional modules also ``num_classes``,
    ``sample(n, labels=..., rng=...)`` and ``discriminate(x, labels)``.

    Args:
        every_n_generator_steps: plot after every this many generator updates (>= 1).
        num_samples: generated (and, by default, real) points drawn.
        real: fixed ``(N, 2)`` real points to draw instead of training batches.
        extent: half-width of the square drawn (default: from the real points).
        resolution: contour grid points per axis (>= 2).
        noise_seed: seed of the fixed noise batch.
        key: image name on the dashboard.
        dirpath: PNG directory (default ``<log dir>/<key>``).
        save_png: ``True`` always saves PNGs, ``False`` never, ``None`` only with no image-capable logger.
        log_on_train_end: also plot the final state when training ends.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install 'lightning-gans[plots]'``).

    Example:
        >>> trainer = Trainer(callbacks=[ToyPlot(every_n_generator_steps=500)])  # doctest: +SKIP
    """

    def __init__(
        self,
        every_n_generator_steps: int = 500,
        num_samples: int = 512,
        real: Tensor | None = None,
        extent: float | None = None,
        resolution: int = 100,
        noise_seed: int = 0,
        key: str = "toy",
        dirpath: str | None = None,
        save_png: bool | None = None,
        log_on_train_end: bool = True,
    ) -> None:
        _require_matplotlib()
        super().__init__(every_n_generator_steps, log_on_train_end)
        num_samples = _checks.integer("num_samples", num_samples)
        resolution = _checks.integer("resolution", resolution, minimum=2)
        if real is not None and (not isinstance(real, Tensor) or real.dim() != 2 or real.shape[1] != 2):
            raise ValueError(f"`real` must be a (N, 2) tensor or None, got {getattr(real, 'shape', real)!r}.")
        if extent is not None and not extent > 0:
            raise ValueError(f"`extent` must be > 0 or None, got {extent!r}.")
        self.num_samples = num_samples
        self.extent = extent
        self.resolution = resolution
        self.noise_seed = int(noise_seed)
        self.key = key
        self.dirpath = dirpath
        self.save_png = save_png
        self._fixed_real = real is not None
        self._real: Tensor | None = real.detach().float().cpu() if real is not None else None
        #: Where each plot went (logger names and PNG paths), for inspection.
        self.history: list[tuple[int, list[str]]] = []

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        require(pl_module, self, "sample", "critic", "generator_steps")

    def on_train_batch_start(self, trainer: Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self._fixed_real or (self._real is not None and len(self._real) >= self.num_samples):
            return
        points, _ = split_batch(batch)
        points = points.detach().float().cpu()
        self._real = points if self._real is None else torch.cat([self._real, points])
        self._real = self._real[: self.num_samples]

    def render(self, pl_module: Any) -> np.ndarray:
        """The current plot as an ``(H, W, 3)`` uint8 array."""
        rng = torch.Generator(device=pl_module.device).manual_seed(self.noise_seed)
        num_classes = getattr(pl_module, "num_classes", None)
        labels = None if not num_classes else torch.arange(self.num_samples, device=pl_module.device) % num_classes
        fake = (
            pl_module.sample(self.num_samples, rng=rng)
            if labels is None
            else pl_module.sample(self.num_samples, labels=labels, rng=rng)
        )
        if fake.dim() != 2 or fake.shape[1] != 2:
            raise ValueError(
                f"ToyPlot needs 2-D samples (N, 2), got {tuple(fake.shape)}; for images use `SampleLogger`."
            )
        real = self._real if self._real is not None else torch.empty(0, 2)
        critic = pl_module.critic if labels is None else _ClassMaxCritic(pl_module)
        return plot_toy(
            real,
            fake,
            critic,
            self.extent,
            self.resolution,
            title=f"generator step {pl_module.generator_steps}",
            fake_labels=labels,
        )

    def _log(self, trainer: Trainer, pl_module: Any) -> None:
        step = pl_module.generator_steps
        if not trainer.is_global_zero:
            return
        image = torch.from_numpy(self.render(pl_module))
        sent = log_image(
            trainer,
            self.key,
            image,
            step=trainer.global_step,
            caption=f"generator step {step}",
            png_name=f"{self.key.replace('/', '_')}_g{step:07d}.png",
            dirpath=self.dirpath,
            save_png=self.save_png,
        )
        self.history.append((step, sent))


class _ClassMaxCritic(nn.Module):
    """A conditional module's critic as one surface: at each point, the largest score over the classes."""

    def __init__(self, pl_module: Any) -> None:
        super().__init__()
        self.critic = pl_module.critic  # a child, so that `critic_surface` finds its device and sets eval mode
        self._discriminate = pl_module.discriminate
        self._num_classes = int(pl_module.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        scores = [
            self._discriminate(x, torch.full((x.shape[0],), k, dtype=torch.long, device=x.device))
            for k in range(self._num_classes)
        ]
        return torch.stack(scores).amax(dim=0)
