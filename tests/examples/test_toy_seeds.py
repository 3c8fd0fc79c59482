"""The WGAN-GP authors' toy preset: configs that say what the benchmark trains, and seed robustness at a CI budget."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import paper_toy_figure as paper  # noqa: E402

from lightning_gans.data import TOY_DISTRIBUTIONS, mode_coverage  # noqa: E402

CONFIGS = {"WGAN-GP": "paper_toy_wgangp.yaml", "WGAN": "paper_toy_wgan.yaml", "GAN": "paper_toy_gan.yaml"}


def _init_args(config: dict, key: str) -> dict:
    return config["model"]["init_args"][key]["init_args"]


def _assert_config_builds(config: dict, module, width: int) -> None:
    """``config``'s model and data are ``module`` (class, n_critic, penalty, clip, optimizers and settings, 3 x ``width`` nets, batch 256)."""
    args = config["model"]["init_args"]
    assert config["model"]["class_path"].rpartition(".")[2] == type(module).__name__
    assert args["n_critic"] == module.n_critic
    assert args.get("gp_weight", 0.0) == module.penalty_weight
    assert args.get("clip_value") == getattr(module, "clip_value", None)
    assert config["data"]["init_args"]["batch_size"] == paper.BATCH_SIZE == 256
    for key, opt in zip(("generator_optimizer", "critic_optimizer"), module.configure_optimizers()):
        assert config["model"]["init_args"][key]["class_path"].rpartition(".")[2] == type(opt).__name__
        group = opt.param_groups[0]
        for name, value in _init_args(config, key).items():
            assert (list(group[name]) if isinstance(group[name], tuple) else group[name]) == value, (key, name)
    for key, net in (("generator", module.generator), ("critic", module.critic)):
        widths = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)][:-1]
        assert widths == [_init_args(config, key)["hidden_dim"]] * _init_args(config, key)["num_layers"] == [width] * 3


@pytest.mark.parametrize("model", list(CONFIGS))
def test_configs_match_the_benchmark_presets(model):
    """examples/paper_toy_*.yaml build what benchmarks/paper_toy_figure.py trains: class, n_critic, penalty, optimizers, nets, batch."""
    _assert_config_builds(
        yaml.safe_load((ROOT / "examples" / CONFIGS[model]).read_text()), paper.build(model, seed=0), 512
    )


def test_cpu_config_is_the_measured_25_gaussians_budget():
    """examples/paper_toy_wgangp_cpu.yaml is the README's 25-Gaussians setting: 3 x 128 nets, lr 1e-3, EMA 0.99, 2,500 G steps.

    Catches: the config drifting from the settings its comment quotes measured numbers for.
    """
    config = yaml.safe_load((ROOT / "examples" / "paper_toy_wgangp_cpu.yaml").read_text())
    _assert_config_builds(config, paper.build("WGAN-GP", seed=0, hidden_dim=128, lr=1e-3), 128)
    assert config["trainer"]["callbacks"] == [
        {"class_path": "lightning_gans.callbacks.GeneratorEMA", "init_args": {"decay": 0.99}}
    ]
    assert config["trainer"]["max_steps"] == 2500 * (5 + 1)
    assert config["data"]["init_args"]["dataset"] == "25gaussians"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_preset_covers_all_eight_modes(seed, one_thread):
    """The preset at a CI budget (nets 3 x 128, lr 1e-3, GeneratorEMA(0.99), 600 generator steps) covers 8/8 modes.

    The authors' lambda 0.1, betas (0.5, 0.9), 5 critic iterations and batch 256 are kept; the width is 4x
    smaller and the learning rate 10x larger so that a seed trains in ~20 s of CPU (measured: 8/8 from
    500 generator steps for seeds 0-4, benchmarks/paper_toy_figure.py --hidden-dim 128 --lr 1e-3 --ema 0.99).
    """
    module = paper.train("WGAN-GP", "8gaussians", generator_steps=600, seed=seed, hidden_dim=128, lr=1e-3, ema=0.99)
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    samples = module.sample(2500, noise=torch.randn(2500, 2, generator=torch.Generator().manual_seed(1)))
    modes, high_quality = mode_coverage(samples, toy.centers, toy.std)
    assert modes == 8
    assert high_quality > 0.2
