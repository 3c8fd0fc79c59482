"""SampleLogger: fixed-noise image grids every N generator steps, through a logger or as PNGs."""

from __future__ import annotations

import os

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.io import read_image

from lightning_gans import GAN
from lightning_gans.callbacks import SampleLogger
from lightning_gans.data import DigitsDataModule, ToyDataModule
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest


def _digits_gan(seed: int = 0) -> GAN:
    torch.manual_seed(seed)
    return GAN(
        DCGANGenerator(latent_dim=8, image_size=8, channels=1, base_channels=8),
        DCGANCritic(image_size=8, channels=1, base_channels=8),
        latent_dim=8,
        noise_seed=seed,
    )


def _fit(model, callbacks, max_steps: int, **kw) -> Trainer:
    trainer = Trainer(**trainer_kwargs(max_steps=max_steps, callbacks=callbacks, **kw))
    trainer.fit(model, DigitsDataModule(batch_size=16))
    return trainer


def test_pngs_at_exact_generator_steps_and_equal_to_grid(tmp_path):
    """Without a logger: one lossless PNG per N generator steps (no duplicate at the end), equal to the fixed-noise grid."""
    cb = SampleLogger(every_n_generator_steps=2, num_samples=4, nrow=2, dirpath=str(tmp_path))
    model = _digits_gan()
    _fit(model, [cb], max_steps=12)  # n_critic=1: 6 generator steps
    assert model.generator_steps == 6
    assert sorted(os.listdir(tmp_path)) == [f"samples_g{g:07d}.png" for g in (2, 4, 6)] + ["samples_real.png"]
    assert [step for step, _ in cb.history] == [2, 4, 6]
    png = read_image(str(tmp_path / "samples_g0000006.png"))  # (3, H, W) uint8
    # 2x2 images of 8x8 upscaled x16 (the smallest factor reaching 256 px) with make_grid's 2-px padding
    assert png.shape == (3, 2 * (16 * 8 + 2) + 2, 2 * (16 * 8 + 2) + 2)
    assert read_image(str(tmp_path / "samples_real.png")).shape == png.shape
    assert torch.equal(png.permute(1, 2, 0), cb.grid(model))


def test_log_on_train_end_adds_the_final_step(tmp_path):
    """A run that stops between logging points gets a final grid at its last generator step."""
    cb = SampleLogger(every_n_generator_steps=4, num_samples=4, dirpath=str(tmp_path))
    _fit(_digits_gan(), [cb], max_steps=10)  # 5 generator steps
    assert sorted(os.listdir(tmp_path)) == ["samples_g0000004.png", "samples_g0000005.png", "samples_real.png"]


def test_callback_does_not_change_training():
    """Logging samples draws no training noise and leaves BatchNorm statistics alone: weights match a run without it."""
    runs = []
    for callbacks in ([], [SampleLogger(every_n_generator_steps=1, num_samples=8, save_png=False)]):
        model = _digits_gan(seed=3)
        _fit(model, callbacks, max_steps=8)
        runs.append(model.state_dict())
    assert runs[0].keys() == runs[1].keys()
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key]), key


def test_tensorboard_receives_images_and_no_png(tmp_path):
    """With TensorBoard the grids go through add_image at the logger step, and no PNG fallback is written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(str(tmp_path), name="tb")
    cb = SampleLogger(every_n_generator_steps=3, num_samples=4, key="train/samples")
    model = _digits_gan()
    trainer = _fit(model, [cb], max_steps=12, logger=logger)
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0}).Reload()
    images = events.Images("train/samples")
    assert [im.step for im in images] == [6, 12]  # generator steps 3 and 6 = batches 6 and 12
    assert all(sent == ["TensorBoardLogger"] for _, sent in cb.history)
    assert not any(name.endswith(".png") for _, _, files in os.walk(tmp_path) for name in files)
    assert trainer.global_step == 12


def test_non_image_samples_raise(tmp_path):
    """2-D toy samples are rejected with a pointer to ToyPlot."""
    model = GAN(MLPGenerator(2, 2, 16, 1), MLPCritic(2, 16, 1), latent_dim=2)
    trainer = Trainer(
        **trainer_kwargs(max_steps=4, callbacks=[SampleLogger(every_n_generator_steps=1, dirpath=str(tmp_path))])
    )
    with pytest.raises(ValueError, match="ToyPlot"):
        trainer.fit(model, ToyDataModule(batch_size=8, batches_per_epoch=4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_n_generator_steps": 0}, "`every_n_generator_steps`"),
        ({"num_samples": 2.5}, "`num_samples`"),
        ({"value_range": (1.0, -1.0)}, "`value_range`"),
        ({"key": ""}, "`key`"),
    ],
)
def test_invalid_arguments(kwargs, match):
    """Bad arguments fail in __init__ with the argument's name."""
    with pytest.raises(ValueError, match=match):
        SampleLogger(**kwargs)


def test_resume_from_checkpoint_writes_no_grid_twice(tmp_path):
    """A run resumed from its checkpoint continues the schedule: no grid for a generator step already logged."""
    pngs = tmp_path / "png"
    first = SampleLogger(every_n_generator_steps=2, num_samples=4, dirpath=str(pngs))
    trainer = _fit(_digits_gan(), [first], max_steps=8)  # 4 generator steps: grids 2 and 4
    trainer.save_checkpoint(tmp_path / "g4.ckpt")
    assert [step for step, _ in first.history] == [2, 4]
    assert torch.load(tmp_path / "g4.ckpt", weights_only=True)["callbacks"]  # the schedule is in the checkpoint

    resumed = SampleLogger(every_n_generator_steps=2, num_samples=4, dirpath=str(pngs))
    trainer = Trainer(**trainer_kwargs(max_steps=14, callbacks=[resumed]))
    trainer.fit(_digits_gan(), DigitsDataModule(batch_size=16), ckpt_path=tmp_path / "g4.ckpt")
    assert [step for step, _ in resumed.history] == [
        6,
        7,
    ]  # 7 generator steps: 6, and 7 at the end; 4 (logged before) not again
    # the real grid was logged once, by the first run
    assert sorted(os.listdir(pngs)) == [f"samples_g{g:07d}.png" for g in (2, 4, 6, 7)] + ["samples_real.png"]
    assert resumed._real is None  # restored as already logged: no real batch collected, no second real grid
