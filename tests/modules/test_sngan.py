"""SNGAN: the paper's defaults, spectral norm brought along, step counts, the example configs from the CLI."""

import glob
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from lightning_gans import LOSSES, SNGAN
from lightning_gans.callbacks import SpectralNorm
from lightning_gans.nets import ResNetCritic, ResNetGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = Path(sys.executable).with_name("lightning-gans")


def _nets(size: int = 16):
    torch.manual_seed(0)
    g = ResNetGenerator(latent_dim=8, image_size=size, channels=1, base_channels=4, channel_multipliers=(1, 1, 1))
    d = ResNetCritic(image_size=size, channels=1, base_channels=4, channel_multipliers=(1, 1), num_plain_blocks=1)
    return g, d


def test_paper_defaults():
    """Hinge loss, n_critic 5, Adam 2e-4 betas (0, 0.9) for both nets, spectral norm on the critic only."""
    model = SNGAN(*_nets(), latent_dim=8)
    assert model.loss is LOSSES["hinge"] and model.n_critic == 5 and model.penalty is None
    for opt in model.configure_optimizers():
        assert isinstance(opt, torch.optim.Adam)
        group = opt.param_groups[0]
        assert group["lr"] == 2e-4 and group["betas"] == (0.0, 0.9)
    (callback,) = model.configure_callbacks()
    assert isinstance(callback, SpectralNorm) and callback._nets == ["critic"]
    assert SNGAN(*_nets(), latent_dim=8, spectral_norm=False).configure_callbacks() == []
    with pytest.raises(TypeError, match="`spectral_norm`"):
        SNGAN(*_nets(), latent_dim=8, spectral_norm="yes")


def test_fit_wraps_every_critic_layer_and_counts_steps():
    """After 12 batches: 10 critic and 2 generator updates; every critic conv/linear is spectral-normed
    (sigma_max of its weight ~1), no generator layer is; the hinge critic loss is logged."""
    model = SNGAN(*_nets(), latent_dim=8, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=12))
    trainer.fit(model, torch.utils.data.DataLoader(torch.rand(64, 1, 16, 16) * 2 - 1, batch_size=8))
    assert (model.critic_steps, model.generator_steps) == (10, 2)
    layers = [m for m in model.critic.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.generator.modules())
    for m in layers:
        sigma = float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2))
        assert sigma == pytest.approx(1.0, abs=0.05)
    assert torch.isfinite(trainer.callback_metrics["train/critic_loss"])


def test_r1_lazy_with_sngan():
    """R1 every 4th critic update (weighted by 4) runs with the hinge loss and logs train/penalty."""
    model = SNGAN(*_nets(), latent_dim=8, penalty="r1", penalty_weight=5.0, penalty_every=4, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=6, log_every_n_steps=1))
    trainer.fit(model, torch.utils.data.DataLoader(torch.rand(32, 1, 16, 16) * 2 - 1, batch_size=8))
    assert float(trainer.callback_metrics["train/penalty"]) >= 0


@pytest.mark.slow  # two console-script runs of small ResNets: ~20 s each on a busy machine
def test_example_configs_run_from_the_console_script(tmp_path):
    """examples/sngan_digits32.yaml and examples/wgangp_resnet_folder.yaml (on a 3-image folder)
    train 1 generator step through the installed console script, exit 0 and write a checkpoint."""
    from PIL import Image

    folder = tmp_path / "images" / "class0"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray((torch.rand(40, 40, 3) * 255).to(torch.uint8).numpy()).save(folder / f"{i}.png")
    small = [
        "--model.init_args.generator.init_args.base_channels",
        "4",
        "--model.init_args.critic.init_args.base_channels",
        "4",
        "--trainer.max_steps",
        "6",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
    ]
    runs = {
        "sngan_digits32.yaml": ["--trainer.callbacks", "[]", "--data.init_args.batch_size", "8"],
        "wgangp_resnet_folder.yaml": [
            "--data.init_args.root",
            str(tmp_path / "images"),
            "--data.init_args.batch_size",
            "2",
        ],
    }
    for config, extra in runs.items():
        out = tmp_path / config
        proc = subprocess.run(
            [
                str(CONSOLE),
                "fit",
                "--config",
                str(ROOT / "examples" / config),
                "--trainer.default_root_dir",
                str(out),
                *small,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert glob.glob(str(out / "**" / "*.ckpt"), recursive=True)
