"""DDP's known GAN traps, on 2 CPU processes (gloo): BatchNorm and spectral-norm nets, ddp_spawn, resume with workers.

The 2-process cases run in one subprocess of tests/distributed/scripts/traps_ddp.py (see its docstring).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import GAN, DigitsDataModule
from lightning_gans._checks import InputError
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.distributed import average_checkpoint_statistics, sync_running_statistics
from tests.conftest import trainer_kwargs
from tests.distributed.test_ddp import SCRIPTS, _clean_env, _run

sys.path.insert(0, str(SCRIPTS))
import traps_ddp

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def traps_out(tmp_path_factory) -> Path:
    """One 2-process ``strategy="ddp"`` run of every case in traps_ddp.py (~35 s on 2 shared cores)."""
    out = tmp_path_factory.mktemp("traps")
    cmd = [sys.executable, str(SCRIPTS / "traps_ddp.py"), str(out), *traps_ddp.CASES]
    proc = subprocess.Popen(
        cmd, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    _run([proc], timeout=180)
    return out


def _load(out: Path, case: str, rank: int) -> dict:
    return torch.load(out / f"{case}_rank{rank}.pt", weights_only=True)


def _mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a.double() + b.double()) / 2).to(a.dtype)


def test_batchnorm_nets_keep_parameters_but_not_statistics_in_step(traps_out):
    """BatchNorm generator + critic under DDP: two critic forwards train without error and the parameters agree
    bit for bit, but the running statistics differ by rank, and so do eval-mode samples from the same noise."""
    r0, r1 = _load(traps_out, "bn", 0), _load(traps_out, "bn", 1)
    for key, value in r0["params"].items():
        assert torch.equal(value, r1["params"][key]), key
    for net in ("generator", "critic", "ema"):
        assert r0["before"][net]
        for key, value in r0["before"][net].items():
            assert (value - r1["before"][net][key]).abs().max() > 1e-4, (net, key)  # the trap (measured ~0.01-0.06)
    assert (r0["before"]["samples"] - r1["before"]["samples"]).abs().max() > 1e-3  # measured 0.056


def test_sync_sampling_statistics_makes_ranks_sample_alike(traps_out):
    """sync_sampling_statistics: the generator's and the EMA's statistics become the ranks' mean (exactly), and eval
    samples from the same noise are bit-identical on both ranks."""
    r0, r1 = _load(traps_out, "bn", 0), _load(traps_out, "bn", 1)
    assert r0["synced_names"] == [
        "generator.1.running_mean",
        "generator.1.running_var",
        "ema_generator.1.running_mean",
        "ema_generator.1.running_var",
    ]
    for net in ("generator", "ema"):
        for key, value in r0["after"][net].items():
            assert torch.equal(value, r1["after"][net][key]), (net, key)
            assert torch.equal(value, _mean(r0["before"][net][key], r1["before"][net][key])), (net, key)
    assert torch.equal(r0["after"]["samples"], r1["after"]["samples"])


def test_checkpoint_holds_the_ranks_mean_statistics(traps_out):
    """A checkpoint written under DDP (by rank 0) holds the mean of both ranks' running statistics, for the
    generator, the critic and the EMA generator, not rank 0's alone."""
    r0, r1 = _load(traps_out, "bn", 0), _load(traps_out, "bn", 1)
    ckpt = torch.load(r0["ckpt_path"], weights_only=True)
    stats = {k: v for k, v in ckpt["state_dict"].items() if k.endswith(("running_mean", "running_var"))}
    assert len(stats) == 4
    for key, value in stats.items():
        net, name = key.split(".", 1)
        expected = _mean(r0["before"][net][name], r1["before"][net][name])
        assert torch.equal(value, expected), key
        assert not torch.equal(value, r0["before"][net][name]), key
    (ema,) = [s["ema"] for k, s in ckpt["callbacks"].items() if k.startswith("GeneratorEMA")]
    for name in r0["before"]["ema"]:
        assert torch.equal(ema[name], _mean(r0["before"]["ema"][name], r1["before"]["ema"][name])), name


def test_gan_metrics_evaluates_with_synced_statistics(traps_out):
    """GANMetrics (at train end) syncs the sampling networks first: afterwards the generator's and the EMA's
    statistics are bit-identical on both ranks (they differ without it, see the first test)."""
    r0, r1 = _load(traps_out, "bn_metrics", 0), _load(traps_out, "bn_metrics", 1)
    assert r0["metrics"] == r1["metrics"] and r0["metrics"]["eval/fid"] > 0
    for net in ("generator", "ema"):
        assert r0[net]
        for key, value in r0[net].items():
            assert torch.equal(value, r1[net][key]), (net, key)


def test_spectral_normed_critic_stays_identical(traps_out):
    """torch's spectral_norm parametrization on the critic (buffers _u/_v, updated by each of the critic's separate
    real and fake forwards): parameters and power-iteration vectors bit-identical on both ranks, 12 steps."""
    r0, r1 = _load(traps_out, "sn", 0), _load(traps_out, "sn", 1)
    assert r0["global_step"] == 12 and r0["fused"] is False  # a critic with buffers scores real and fake apart
    assert sum(k.endswith(("._u", "._v")) for k in r0["state_dict"]) == 4
    for key, value in r0["state_dict"].items():
        assert torch.equal(value, r1["state_dict"][key]), key


@pytest.mark.parametrize("step", traps_ddp.SAVE_AT)
def test_ddp_resume_with_two_workers_is_exact(traps_out, step):
    """DigitsDataModule(num_workers=2) on 2 ranks: resumed at the last batch of an epoch (7) or mid-epoch (10), each
    rank trains on exactly the batches, and ends with exactly the weights, of the uninterrupted run. Without
    EpochDistributedSampler (Lightning's own wrapper around the loader's sampler) the resumed batches differed."""
    for rank in (0, 1):
        run = _load(traps_out, "resume_workers", rank)
        resumed = run["resumed"][step]
        assert sorted(resumed["seen"]) == list(range(step, traps_ddp.RESUME_STEPS))
        for t, labels in resumed["seen"].items():
            assert labels == run["seen"][t], (rank, t)
        for key, value in run["state_dict"].items():
            assert torch.equal(value, resumed["state_dict"][key]), (rank, key)
    r0, r1 = _load(traps_out, "resume_workers", 0), _load(traps_out, "resume_workers", 1)
    assert all(r0["seen"][t] != r1["seen"][t] for t in r0["seen"])  # each rank reads its own part


def test_single_process_resume_with_two_workers_is_exact(tmp_path):
    """One process, DigitsDataModule(num_workers=2): 10 steps + resume (mid-epoch 1) + 6 more == 16 straight, bit for bit."""

    def fit(max_steps, ckpt_path=None, callbacks=()):
        torch.manual_seed(0)
        module = GAN(*traps_ddp._plain_nets(), latent_dim=traps_ddp.LATENT, noise_seed=4)
        trainer = Trainer(
            **trainer_kwargs(max_steps=max_steps, callbacks=list(callbacks), enable_checkpointing=bool(callbacks))
        )
        torch.manual_seed(123)
        trainer.fit(module, datamodule=DigitsDataModule(batch_size=256, num_workers=2), ckpt_path=ckpt_path)
        return module

    straight = fit(16)
    fit(10, callbacks=[ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=10, filename="{step}")])
    resumed = fit(16, ckpt_path=str(tmp_path / "step=10.ckpt"))
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_running_statistics_helpers_are_no_ops_on_one_process():
    """With one process the helpers name the statistics but change nothing (no collective is needed)."""
    from lightning.pytorch.strategies import SingleDeviceStrategy

    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    net(torch.randn(8, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    strategy = SingleDeviceStrategy(torch.device("cpu"))
    assert sync_running_statistics(net, strategy) == ["1.running_mean", "1.running_var"]
    checkpoint = {"state_dict": net.state_dict()}
    assert average_checkpoint_statistics(checkpoint, strategy) == []
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_generator_ema_refuses_ddp_spawn_naming_the_strategy():
    """GeneratorEMA under ddp_spawn (only weights come back to the main process) raises in setup, before any step."""
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False)
    module = GAN(*traps_ddp._plain_nets(), latent_dim=traps_ddp.LATENT)
    with pytest.raises(InputError, match=r"GeneratorEMA cannot run under `strategy`=DDPStrategy.*strategy='ddp'"):
        GeneratorEMA().setup(trainer, module, "fit")
    GeneratorEMA().setup(Trainer(accelerator="cpu", devices=1, logger=False), module, "fit")  # one process: fine
