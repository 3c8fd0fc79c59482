"""What a user sees: a quiet console, readable image grids and toy plots, the final metrics as a table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_gans.images import MIN_SIDE, image_grid

SCRIPT = str(Path(sys.executable).with_name("lightning-gans"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Lightning's informational lines; anything else on stderr (a warning, a tip) fails the quiet-console test.
ALLOWED_STDERR = (  # Lightning's info lines, "[rank: N] "-prefixed when a launcher's rank variables are set
    r"(\[rank: \d+\] )?Seed set to \d+",
    r"GPU available: \w+, used: \w+",
    r"TPU available: \w+, using: \d+ TPU cores",
    r"`Trainer.fit` stopped: `max_steps=\d+` reached\.",
)


def test_example_run_prints_no_warning_to_stderr(tmp_path):
    """`lightning-gans fit` on the digits-with-metrics example: stderr holds only Lightning's info lines
    (no tips, no dependency deprecations, no logging-interval warning), and stdout ends with the metrics table."""
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch_home"), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run(
        [
            SCRIPT,
            "fit",
            "--config",
            str(EXAMPLES / "wgangp_digits_metrics.yaml"),
            "--trainer.max_steps",
            "12",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    unexpected = [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not any(re.fullmatch(p, line) for p in ALLOWED_STDERR)
    ]
    assert unexpected == []
    assert re.search(r"^FID\s+\d+\.\d+", proc.stdout, re.M), proc.stdout[-2000:]
    assert re.search(r"^KID\s+", proc.stdout, re.M)


@pytest.mark.parametrize("n, size, expected", [(64, 8, 274), (4, 8, 262), (16, 28, 4 * (3 * 28 + 2) + 2), (1, 8, 256)])
def test_grid_is_upscaled_to_at_least_256_pixels(n, size, expected):
    """64 digits of 8x8 give a 274-px grid (x4 per image), not 82 px; each image's pixels are f x f blocks."""
    images = torch.rand(n, 1, size, size) * 2 - 1
    grid = image_grid(images, (-1.0, 1.0))
    assert grid.dtype == torch.uint8 and grid.shape[2] == 3
    assert min(grid.shape[:2]) >= MIN_SIDE and grid.shape[0] == expected
    if n == 64:  # image 0 sits at (2, 2), upscaled x4 by repetition: a 4x4 block per source pixel
        block = grid[2:6, 2:6, 0]
        assert (block == block[0, 0]).all()
        assert int(block[0, 0]) == round(float((images[0, 0, 0, 0] + 1) / 2 * 255))


def test_sample_logger_grid_through_tensorboard_is_at_least_256_pixels(tmp_path):
    """The grid TensorBoard receives from SampleLogger for 8x8 digits is >= 256 px a side; a real grid is logged once."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lightning_gans import WGANGP, DigitsDataModule
    from lightning_gans.callbacks import SampleLogger
    from lightning_gans.nets import DCGANCritic, DCGANGenerator
    from tests.conftest import trainer_kwargs

    model = WGANGP(
        DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8, norm="layer"), latent_dim=8, n_critic=1, noise_seed=0
    )
    logger = TensorBoardLogger(tmp_path)
    cb = SampleLogger(every_n_generator_steps=1, num_samples=64)
    Trainer(**trainer_kwargs(max_steps=4, logger=logger, callbacks=[cb])).fit(model, DigitsDataModule(batch_size=16))
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert sorted(events.Tags()["images"]) == ["samples", "samples_real"]
    assert len(events.Images("samples")) == 2 and len(events.Images("samples_real")) == 1
    for tag in ("samples", "samples_real"):
        image = events.Images(tag)[-1]
        assert (image.height, image.width) == (274, 274)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_toy_plot_colours_are_distinct_from_each_other_and_the_contours():
    """Real and generated colours are far apart in RGB, and each is far from every shade of the contour colormap."""
    from matplotlib import colormaps

    from lightning_gans.callbacks.toy_plot import CRITIC_CMAP, FAKE_COLOR, REAL_COLOR

    real, fake = _rgb(REAL_COLOR), _rgb(FAKE_COLOR)
    assert np.linalg.norm(real - fake) > 200
    shades = colormaps[CRITIC_CMAP](np.linspace(0, 1, 256))[:, :3] * 255
    for colour in (real, fake):
        assert np.linalg.norm(shades - colour, axis=1).min() > 90


def test_toy_plot_draws_both_colours_and_axis_labels():
    """The rendered plot contains hundreds of pixels of each point colour (neither is hidden by the contours)."""
    from lightning_gans.callbacks.toy_plot import FAKE_COLOR, REAL_COLOR, plot_toy
    from lightning_gans.nets import MLPCritic

    real = torch.randn(200, 2) * 0.05 + torch.tensor([1.0, 0.0])
    fake = torch.randn(200, 2) * 0.05 - torch.tensor([1.0, 0.0])
    image = plot_toy(real, fake, MLPCritic(2, 16, 2), extent=2.0).astype(float)
    for colour in (REAL_COLOR, FAKE_COLOR):
        close = np.linalg.norm(image - _rgb(colour), axis=2) < 30
        assert close.sum() > 100  # hundreds of pixels of each colour


def test_version_has_one_source_and_types_ship():
    """pyproject takes the version from lightning_gans.__version__ (no second copy), the installed metadata
    agrees, and py.typed is in the package and its package data (PEP 561)."""
    import importlib.metadata

    import tomllib

    import lightning_gans

    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lightning_gans.__version__"}
    assert importlib.metadata.version("lightning-gans") == lightning_gans.__version__
    assert (Path(lightning_gans.__file__).parent / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["lightning_gans"]
    assert f"## [{lightning_gans.__version__}]" in (root / "CHANGELOG.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("num_classes", [None, 10])
def test_wandb_table_of_samples_by_step_and_class(tmp_path, monkeypatch, num_classes):
    """With an offline WandbLogger, SampleLogger logs a Table `samples_table` whose last version holds one row per
    logged generator step (x class when conditional), columns generator_step / class / samples."""
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import WandbLogger

    from lightning_gans import GAN, DigitsDataModule
    from lightning_gans.callbacks import SampleLogger
    from lightning_gans.callbacks.sample_logger import TABLE_COLUMNS
    from lightning_gans.nets import DCGANCritic, DCGANGenerator
    from tests.conftest import trainer_kwargs

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb.finish()  # a run an earlier test left open would be reused by WandbLogger, writing elsewhere
    kw = {} if num_classes is None else {"num_classes": num_classes}
    model = GAN(DCGANGenerator(8, 8, 1, 8, **kw), DCGANCritic(8, 1, 8, **kw), latent_dim=8, noise_seed=0, **kw)
    data = DigitsDataModule(batch_size=16, **({} if num_classes is None else {"conditional": True}))
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="tests")
    cb = SampleLogger(every_n_generator_steps=1, num_samples=8, nrow=4)
    try:
        Trainer(**trainer_kwargs(max_steps=4, logger=logger, callbacks=[cb])).fit(model, data)
    finally:
        wandb.finish()
    tables = sorted(
        (tmp_path / "wandb").glob("offline-run-*/files/media/table/samples_table_*.table.json"), key=os.path.getmtime
    )
    assert tables, "no table file written"
    last = json.loads(tables[-1].read_text())
    assert last["columns"] == list(TABLE_COLUMNS)
    steps = [row[0] for row in last["data"]]
    classes = [row[1] for row in last["data"]]
    if num_classes is None:
        assert steps == [1, 2] and classes == ["all", "all"]  # 4 batches, n_critic 1: generator steps 1, 2
    else:
        assert steps == [1] * 10 + [2] * 10 and classes == list(range(10)) * 2


def test_progress_bar_shows_the_generator_step():
    """The progress bar's metrics hold train/generator_step = generator updates done (2 after 6 batches at n_critic 2)."""
    from lightning.pytorch import Trainer

    from lightning_gans import WGANGP, ToyDataModule
    from lightning_gans.nets import MLPCritic, MLPGenerator
    from lightning_gans.protocol import GENERATOR_STEP
    from tests.conftest import trainer_kwargs

    model = WGANGP(MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2), latent_dim=2, n_critic=2, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=6, log_every_n_steps=3))
    trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=10))
    assert trainer.progress_bar_metrics[GENERATOR_STEP] == 2.0


def test_wandb_checkpoint_artifacts_carry_the_ema(tmp_path, monkeypatch):
    """WandbLogger(log_model="all") uploads each checkpoint as a `model` artifact (staged offline); the staged file
    reloads with load_from_checkpoint into a module that samples from the saved EMA generator."""
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import WandbLogger

    from lightning_gans import GAN, ToyDataModule
    from lightning_gans.callbacks import GeneratorEMA
    from lightning_gans.nets import MLPCritic, MLPGenerator
    from tests.loggers.test_wandb_offline import _finished_records, _run_dir

    monkeypatch.setenv(
        "WANDB_MODE", "offline"
    )  # offline through the environment: Lightning refuses offline=True with log_model
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))  # artifact staging
    model = GAN(MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2), latent_dim=2, noise_seed=0)
    ema = GeneratorEMA(decay=0.5)
    logger = WandbLogger(save_dir=str(tmp_path), project="tests", log_model="all")
    try:
        Trainer(
            accelerator="cpu",
            devices=1,
            max_steps=4,
            logger=logger,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=2,
            callbacks=[ema, ModelCheckpoint(dirpath=tmp_path / "ckpt")],
        ).fit(model, ToyDataModule(batch_size=16, batches_per_epoch=4))
    finally:
        wandb.finish()
    records = _finished_records(_run_dir(tmp_path))
    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifacts and all(a.type == "model" for a in artifacts)
    (entry,) = [e for e in artifacts[-1].manifest.contents if e.path == "model.ckpt"]
    loaded = GAN.load_from_checkpoint(entry.local_path, generator=MLPGenerator(2, 2, 16, 2), critic=MLPCritic(2, 16, 2))
    z = torch.randn(8, 2)
    with torch.no_grad():
        assert torch.equal(loaded.sample(8, noise=z), ema.ema_generator(z))
