"""The LightningCLI entry point: configs, subclass selection, optimizers from the command line, reloading."""

import glob
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_gans import GAN, WGAN, WGANGP, AdversarialModule
from lightning_gans.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def _fit(tmp_path, config, *extra):
    main(["fit", "--config", str(EXAMPLES / config), "--trainer.default_root_dir", str(tmp_path), *QUIET, *extra])
    (ckpt,) = glob.glob(str(tmp_path / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    return ckpt


@pytest.mark.parametrize(
    "config, cls, n_critic",
    [
        ("gan_8gaussians.yaml", GAN, 1),
        ("wgan_8gaussians.yaml", WGAN, 5),
        ("wgangp_8gaussians.yaml", WGANGP, 5),
        ("wgangp_digits.yaml", WGANGP, 5),
    ],
)
def test_example_config_trains_and_reloads_without_trainer(tmp_path, config, cls, n_critic):
    """Each example config trains from the CLI; its checkpoint reloads with load_from_checkpoint(path) alone."""
    ckpt = _fit(tmp_path, config, "--trainer.max_steps", str(2 * (n_critic + 1)), "--data.init_args.batch_size", "16")
    model = cls.load_from_checkpoint(ckpt)
    assert type(model) is cls and model.n_critic == n_critic
    assert (model.critic_steps, model.generator_steps) == (2 * n_critic, 2)
    out = model.sample(3)
    assert out.shape[0] == 3 and torch.isfinite(out).all()


def test_model_subclass_selected_on_the_command_line(tmp_path):
    """`--model WGANGP` on a GAN config switches the class and keeps the networks; WGAN-GP defaults apply.

    Loading it through the base class is refused with a message naming the class to use.
    """
    ckpt = _fit(
        tmp_path,
        "gan_8gaussians.yaml",
        "--model",
        "WGANGP",
        "--trainer.max_steps",
        "6",
        "--data.init_args.batch_size",
        "16",
    )
    model = WGANGP.load_from_checkpoint(ckpt)
    assert model.n_critic == 5 and model.penalty_weight == 10.0 and model.generator.net[0].out_features == 128
    with pytest.raises(
        TypeError,
        match=r"holds a lightning_gans\.WGANGP, but the module is a lightning_gans\.AdversarialModule.*Load it with `WGANGP\.load_from_checkpoint",
    ):
        AdversarialModule.load_from_checkpoint(ckpt)


def test_optimizer_from_the_command_line(tmp_path):
    """`--model.init_args.critic_optimizer SGD --...lr 0.03` replaces the config's Adam; the generator keeps it."""
    ckpt = _fit(
        tmp_path,
        "wgangp_8gaussians.yaml",
        "--model.init_args.critic_optimizer",
        "torch.optim.SGD",
        "--model.init_args.critic_optimizer.lr",
        "0.03",
        "--trainer.max_steps",
        "6",
        "--data.init_args.batch_size",
        "16",
    )
    state = torch.load(ckpt, weights_only=True)
    g_state, c_state = state["optimizer_states"]
    assert c_state["param_groups"][0]["lr"] == 0.03 and "momentum" in c_state["param_groups"][0]
    assert g_state["param_groups"][0]["lr"] == 5e-4 and g_state["param_groups"][0]["betas"] == (0.0, 0.9)


def test_console_entry_points_print_config():
    """`python -m lightning_gans fit --print_config` resolves a config, including the model class."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_gans",
            "fit",
            "--config",
            str(EXAMPLES / "wgangp_8gaussians.yaml"),
            "--print_config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "class_path: lightning_gans.WGANGP" in out and "gp_weight: 10.0" in out


def test_cli_config_reaches_the_logger(tmp_path):
    """The whole CLI config (trainer settings included) is logged as hyper-parameter `cli`, beside the module's."""
    import yaml

    main(
        [
            "fit",
            "--config",
            str(EXAMPLES / "wgangp_8gaussians.yaml"),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.max_steps",
            "3",
            "--data.init_args.batch_size",
            "16",
            "--trainer.logger",
            "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir",
            str(tmp_path),
        ]
    )
    (hparams_file,) = glob.glob(str(tmp_path / "**" / "hparams.yaml"), recursive=True)
    hparams = yaml.safe_load(Path(hparams_file).read_text())
    assert hparams["cli"]["trainer"]["max_steps"] == 3
    assert hparams["cli"]["model"]["class_path"] == "lightning_gans.WGANGP"
    assert hparams["gp_weight"] == 10.0


def test_cli_checkpoint_reloaded_and_saved_again_still_loads_alone(tmp_path):
    """A CLI checkpoint, reloaded and saved by a new Trainer, still reloads without passing the networks."""
    from lightning.pytorch import Trainer

    from lightning_gans import ToyDataModule
    from tests.conftest import trainer_kwargs

    ckpt = _fit(
        tmp_path / "a", "wgangp_8gaussians.yaml", "--trainer.max_steps", "6", "--data.init_args.batch_size", "16"
    )
    model = WGANGP.load_from_checkpoint(ckpt)
    trainer = Trainer(max_steps=6, **trainer_kwargs())  # a new fit of 6 more batches
    trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=4))
    trainer.save_checkpoint(tmp_path / "again.ckpt")
    again = WGANGP.load_from_checkpoint(tmp_path / "again.ckpt")
    assert (again.critic_steps, again.generator_steps) == (10, 2)
    assert again.generator.net[0].out_features == 128
    z = torch.randn(4, 2)
    assert torch.equal(again.sample(4, noise=z), model.sample(4, noise=z))
