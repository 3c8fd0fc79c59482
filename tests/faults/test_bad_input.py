"""Bad configurations are rejected with an error naming the argument, and none starts training.

One parametrized matrix: wrong shapes, out-of-range values, bad hyper-parameters, incompatible
callbacks, unsupported strategies, missing data and corrupt or missing checkpoints. Cases that go
through ``Trainer.fit`` also check that no optimizer update happened and no weight changed. Each
case is listed once (tests/faults/test_bad_input.py, which repeated half of them, was merged into this file).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy
from torch import nn
from torch.utils.data import DataLoader

from lightning_gans import GAN, WGAN, WGANGP, DigitsDataModule, ImageDataModule, ToyDataModule
from lightning_gans.callbacks import DivergenceGuard, GeneratorEMA, SpectralNorm
from lightning_gans.nets import DCGANCritic, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest


def _nets(latent_dim: int = 2, out_dim: int = 2):
    return MLPGenerator(latent_dim=latent_dim, out_dim=out_dim, hidden_dim=8, num_layers=1), MLPCritic(
        hidden_dim=8, num_layers=1
    )


def _gan(**kw):
    return GAN(*_nets(), latent_dim=2, noise_seed=0, **kw)


def _toy():
    return ToyDataModule(batch_size=8, batches_per_epoch=4)


def _fit(module=None, datamodule=None, callbacks=(), loader=None, ckpt_path=None, **trainer_overrides):
    """Fit, and on error assert that no optimizer update had happened before re-raising."""
    module = module if module is not None else _gan()
    before = {k: v.detach().clone() for k, v in module.named_parameters()}
    trainer = Trainer(**trainer_kwargs(max_steps=4, callbacks=list(callbacks), **trainer_overrides))
    try:
        if loader is not None:
            trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path)
        else:
            trainer.fit(module, datamodule=datamodule or _toy(), ckpt_path=ckpt_path)
    finally:
        assert module.critic_steps + module.generator_steps == 0, "training started before the error"
        after = dict(module.named_parameters())  # (a callback may have re-parametrised some: compare the others)
        assert all(torch.equal(v, after[k]) for k, v in before.items() if k in after), (
            "a weight changed before the error"
        )


class _TwoScoreCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 2)

    def forward(self, x):
        return self.net(x)  # (N, 2): not one score per sample


def _corrupt_ckpt(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.ckpt"
    path.write_bytes(b"PK\x03\x04 truncated checkpoint")
    return str(path)


CASES = {
    # hyper-parameters and ranges
    "latent_dim=0": (lambda tmp: GAN(*_nets(), latent_dim=0), ValueError, "`latent_dim`"),
    "n_critic=0": (
        lambda tmp: WGANGP(*_nets(), latent_dim=2, n_critic=0),
        ValueError,
        "`n_critic` must be an integer >= 1",
    ),
    "n_critic=2.5": (lambda tmp: WGANGP(*_nets(), latent_dim=2, n_critic=2.5), ValueError, "`n_critic`"),
    "penalty_weight<0": (
        lambda tmp: GAN(*_nets(), latent_dim=2, penalty="r1", penalty_weight=-1.0),
        ValueError,
        "`penalty_weight` must be >= 0",
    ),
    "gp_weight<0": (lambda tmp: WGANGP(*_nets(), latent_dim=2, gp_weight=-1.0), ValueError, "`gp_weight` must be > 0"),
    "gp_weight=nan": (lambda tmp: WGANGP(*_nets(), latent_dim=2, gp_weight=math.nan), ValueError, "`gp_weight`"),
    "clip_value=0": (lambda tmp: WGAN(*_nets(), latent_dim=2, clip_value=0.0), ValueError, "`clip_value` must be > 0"),
    "unknown loss": (
        lambda tmp: GAN(*_nets(), latent_dim=2, loss="wasserstien"),
        ValueError,
        "Unknown `loss` 'wasserstien'",
    ),
    "unknown penalty": (lambda tmp: GAN(*_nets(), latent_dim=2, penalty="gp"), ValueError, "Unknown `penalty` 'gp'"),
    "generator not a module": (
        lambda tmp: GAN(lambda z: z, MLPCritic(), latent_dim=2),
        TypeError,
        "`generator` must be a torch.nn.Module",
    ),
    "critic not a module": (
        lambda tmp: GAN(_nets()[0], "critic", latent_dim=2),
        TypeError,
        "`critic` must be a torch.nn.Module",
    ),
    "dcgan image_size=12": (lambda tmp: DCGANCritic(image_size=12), ValueError, "`image_size` must be a power of two"),
    "dcgan norm": (lambda tmp: DCGANCritic(norm="spectral"), ValueError, "Unknown `norm`"),
    "guard action": (lambda tmp: DivergenceGuard(action="ignore"), ValueError, "`action`"),
    "ema decay=1": (lambda tmp: GeneratorEMA(decay=1.0), ValueError, "`decay`"),
    # shapes
    "generator output shape": (
        lambda tmp: _fit(GAN(*_nets(out_dim=3), latent_dim=2)),
        ValueError,
        r"`generator` output shape \(8, 3\) does not match the data's shape \(8, 2\)",
    ),
    "critic output shape": (
        lambda tmp: _fit(WGANGP(_nets()[0], _TwoScoreCritic(), latent_dim=2)),
        ValueError,
        r"`critic` must return one score per sample.*\(8, 2\)",
    ),
    "latent_dim mismatch": (
        lambda tmp: _fit(GAN(MLPGenerator(latent_dim=4, hidden_dim=8, num_layers=1), _nets()[1], latent_dim=2)),
        ValueError,
        r"`generator` failed on noise of shape \(8, 2\) \(`latent_dim`=2\)",
    ),  # at the first batch
    "batch type": (
        lambda tmp: _fit(loader=DataLoader([{"x": torch.zeros(8, 2)}] * 4, batch_size=None)),
        TypeError,
        "`batch` must be a Tensor",
    ),
    # data
    "unknown toy dataset": (lambda tmp: ToyDataModule(dataset="moons"), ValueError, "`dataset`"),
    "batch_size=0": (lambda tmp: ToyDataModule(batch_size=0), ValueError, "`batch_size`"),
    "digits image_size=4": (lambda tmp: _fit(datamodule=DigitsDataModule(image_size=4)), ValueError, "`image_size`"),
    "image channels=2": (lambda tmp: ImageDataModule(root=str(tmp), channels=2), ValueError, "`channels`"),
    "missing image folder": (
        lambda tmp: _fit(datamodule=ImageDataModule(root=str(tmp / "absent"), image_size=8, channels=1)),
        FileNotFoundError,
        "`root`",
    ),
    # incompatible callbacks
    "clipping + spectral norm": (
        lambda tmp: _fit(WGAN(*_nets(), latent_dim=2), callbacks=[SpectralNorm()]),
        ValueError,
        "WeightClipping would clip spectral-normed",
    ),
    "spectral norm without layers": (
        lambda tmp: _fit(GAN(_nets()[0], nn.Flatten(0), latent_dim=2), callbacks=[SpectralNorm()]),
        ValueError,
        "SpectralNorm: `critic`",
    ),
    # strategies
    "ddp without unused parameters": (
        lambda tmp: _fit(strategy=DDPStrategy(find_unused_parameters=False, process_group_backend="gloo")),
        ValueError,
        "`strategy`: DDP with find_unused_parameters=False",
    ),
    # checkpoints
    "corrupt checkpoint": (
        lambda tmp: _fit(ckpt_path=_corrupt_ckpt(tmp)),
        ValueError,
        "`ckpt_path` .* is not a readable checkpoint",
    ),
    "missing checkpoint": (
        lambda tmp: _fit(ckpt_path=str(tmp / "nope.ckpt")),
        FileNotFoundError,
        "`ckpt_path` .* does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_configuration_is_rejected(tmp_path, case):
    """Each bad configuration raises an error naming the argument (fit cases: before any update)."""
    build, error, match = CASES[case]
    with pytest.raises(error, match=match):
        build(tmp_path)


def _package_files():
    return sorted((Path(__file__).resolve().parents[2] / "lightning_gans").rglob("*.py"))


def test_package_loads_files_with_weights_only():
    """Every torch.load in the package passes weights_only=True, and nothing imports pickle/dill/joblib."""
    for path in _package_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "load":
                owner = getattr(node.func, "value", None)
                if isinstance(owner, ast.Name) and owner.id == "torch":
                    flags = {kw.arg: kw.value for kw in node.keywords}
                    assert (
                        isinstance(flags.get("weights_only"), ast.Constant) and flags["weights_only"].value is True
                    ), f"{path}:{node.lineno}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                )
                assert not {"pickle", "dill", "joblib", "cloudpickle"} & {n.split(".")[0] for n in names}, (
                    f"{path}:{node.lineno}"
                )
