"""GeneratorProgressBar: one bar for the run, in generator steps, resumed at the checkpoint's count, short postfix."""

from __future__ import annotations

import pytest
from lightning.pytorch import Trainer

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorProgressBar
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def _model() -> WGANGP:
    return WGANGP(MLPGenerator(hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)


def _fit(max_steps: int, tmp_path, ckpt_path=None, model=None, **kwargs) -> tuple[GeneratorProgressBar, WGANGP]:
    bar = GeneratorProgressBar()
    model = model or _model()
    trainer = Trainer(
        **trainer_kwargs(enable_progress_bar=True, default_root_dir=str(tmp_path), **kwargs),
        max_steps=max_steps,
        callbacks=[bar],
    )
    trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=5), ckpt_path=ckpt_path)
    if ckpt_path is None:
        trainer.save_checkpoint(tmp_path / "run.ckpt")
    return bar, model


def test_one_bar_for_the_run_in_generator_steps(tmp_path, capsys):
    """max_steps 36 with n_critic 5 over epochs of 5 batches: one bar from 0 to 6 generator steps, not 7 bars of 5 batches."""
    bar, model = _fit(36, tmp_path)
    progress = bar.train_progress_bar
    assert (progress.total, progress.n, model.generator_steps) == (6, 6, 6)
    assert progress.desc.startswith("generator steps")
    out = capsys.readouterr().out
    assert "6/6" in out and "Epoch" not in out
    postfix = progress.postfix
    assert postfix.startswith("D ") and ", G " in postfix and len(postfix) < 40  # short: two losses, 3 digits each


def test_resumed_bar_starts_at_the_checkpoint(tmp_path):
    """Resuming a 2-generator-step checkpoint with max_steps 36: the bar starts at 2 (ETA of the 4 left) and ends at 6."""
    _fit(12, tmp_path)
    bar, _ = _fit(36, tmp_path, ckpt_path=str(tmp_path / "run.ckpt"))
    assert (bar.train_progress_bar.initial, bar.train_progress_bar.n, bar.train_progress_bar.total) == (2, 6, 6)


def test_total_from_epochs_when_no_max_steps(tmp_path):
    """max_epochs 3 of 6 batches, n_critic 5: 18 batches = 3 generator steps."""
    bar = GeneratorProgressBar()
    trainer = Trainer(**trainer_kwargs(enable_progress_bar=True), max_epochs=3, callbacks=[bar])
    trainer.fit(_model(), ToyDataModule(batch_size=16, batches_per_epoch=6))
    assert (bar.train_progress_bar.total, bar.train_progress_bar.n) == (3, 3)


def test_refresh_rate_is_checked():
    """`refresh_rate` must be a positive integer (the error names it)."""
    with pytest.raises(ValueError, match="refresh_rate"):
        GeneratorProgressBar(refresh_rate=0)
