"""What `lightning-gans fit` adds to a config (checkpoint with last.ckpt, the generator-step bar, an explicit CSV logger
without TensorBoard), and that `import lightning_gans` is as quiet from Python as the console script."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

import lightning_gans.cli
from lightning_gans.callbacks import GeneratorProgressBar
from lightning_gans.cli import run
from tests.cli.test_checkpoints import TINY

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(TINY))
    return run(["fit", "--config", str(config), "--trainer.default_root_dir", str(tmp_path), *args])


def test_defaults_checkpoint_with_last_and_the_generator_step_bar(tmp_path):
    """No callbacks in the config: one ModelCheckpoint(save_last=True) and a GeneratorProgressBar are added."""
    cli = _run(tmp_path, "--trainer.max_steps", "6")
    (checkpoint,) = cli.trainer.checkpoint_callbacks
    assert isinstance(checkpoint, ModelCheckpoint) and checkpoint.save_last is True
    assert isinstance(cli.trainer.progress_bar_callback, GeneratorProgressBar)


def test_config_callbacks_and_switches_win(tmp_path):
    """`enable_progress_bar: false` and `enable_checkpointing: false` are kept: no bar, no checkpoint added."""
    cli = _run(
        tmp_path,
        "--trainer.max_steps",
        "6",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_checkpointing",
        "false",
    )
    assert cli.trainer.progress_bar_callback is None and not cli.trainer.checkpoint_callbacks


def test_csv_logger_chosen_without_tensorboard_and_no_warning(tmp_path, monkeypatch):
    """Without tensorboard/tensorboardX: an explicit CSVLogger in default_root_dir, no Lightning warning; with it: TensorBoard."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        lightning_gans.cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("tensorboard", "tensorboardX") else find_spec(name, *a),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli = _run(tmp_path, "--trainer.max_steps", "6")
    assert isinstance(cli.trainer.logger, CSVLogger) and cli.trainer.logger.save_dir == str(tmp_path)
    assert not [w for w in caught if "tensorboard" in str(w.message).lower()]
    monkeypatch.undo()
    if find_spec("tensorboard") is not None:
        assert isinstance(_run(tmp_path, "--trainer.max_steps", "6").trainer.logger, TensorBoardLogger)


def test_import_from_python_is_quiet(tmp_path):
    """A plain-Python fit (Trainer defaults, ModelCheckpoint(every_n_train_steps)) prints no warning and no tip."""
    code = textwrap.dedent(
        """
        from lightning.pytorch import Trainer
        from lightning.pytorch.callbacks import ModelCheckpoint
        from lightning_gans import WGANGP, ToyDataModule
        from lightning_gans.nets import MLPCritic, MLPGenerator
        model = WGANGP(MLPGenerator(hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)
        trainer = Trainer(max_steps=12, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                          callbacks=[ModelCheckpoint(every_n_train_steps=5)])
        trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=12))
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Warning" not in output and "warn" not in output.lower(), output[-3000:]
    assert "Tip:" not in output, output[-3000:]
