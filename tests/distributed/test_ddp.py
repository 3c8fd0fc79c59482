"""2-process CPU DDP (gloo): the string ``strategy="ddp"`` trains every module with identical ranks.

The DDP runs are subprocesses of tests/distributed/scripts/train_ddp.py (``strategy="ddp"`` re-executes
its script for rank 1, which must not be pytest). One run trains every case in one process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy

from lightning_gans import WGANGP
from lightning_gans._strategies import prepare_strategy
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

SCRIPTS = Path(__file__).resolve().parents[1] / "distributed" / "scripts"
sys.path.insert(0, str(SCRIPTS))
import common  # noqa: E402
import train_ddp  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest

_LAUNCH_VARS = (
    "LOCAL_RANK",
    "RANK",
    "WORLD_SIZE",
    "NODE_RANK",
    "GROUP_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "SLURM_NTASKS",
    "SLURM_JOB_NAME",
    "PL_GLOBAL_SEED",
)


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"  # 2 ranks on 2 cores: one intra-op thread each
    env.update(extra)
    return env


def _run(procs: list[subprocess.Popen], timeout: float = 120) -> None:
    """Wait for all processes; on timeout kill their process groups (rank 1 is rank 0's child)."""
    try:
        for p in procs:
            p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        raise
    for p in procs:
        out = p.stdout.read().decode(errors="replace")
        assert p.returncode == 0, out[-4000:]


def _load(out: Path, case: str, rank: int) -> dict:
    return torch.load(out / f"{case}_rank{rank}.pt", weights_only=True)


TRAIN_CASES = ["gan", "wgan", "wgangp"]
PARITY_CASES = ["parity_gan", "parity_gan_reuse", "parity_wgangp"]


@pytest.fixture(scope="module")
def ddp_out(tmp_path_factory) -> Path:
    """One 2-process ``Trainer(strategy="ddp", devices=2)`` run of every case, launched by Lightning."""
    out = tmp_path_factory.mktemp("ddp")
    cmd = [
        sys.executable,
        str(SCRIPTS / "train_ddp.py"),
        str(out),
        *TRAIN_CASES,
        *PARITY_CASES,
        *train_ddp.CALLBACK_CASES,
        "noise",
        "wgangp_compiled",
    ]
    proc = subprocess.Popen(
        cmd, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    _run([proc])
    return out


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_string_ddp_trains_with_identical_ranks(ddp_out, case):
    """strategy="ddp" trains GAN/WGAN/WGAN-GP on 2 ranks, which end with bit-identical parameters."""
    r0, r1 = _load(ddp_out, case, 0), _load(ddp_out, case, 1)
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["find_unused_parameters"] is True  # set by prepare_strategy for the plain "ddp" string
    assert r0["global_step"] == 12 and r0["critic_steps"] + r0["generator_steps"] == 12
    assert r0["state_dict"].keys() == r1["state_dict"].keys()
    for key, value in r0["state_dict"].items():
        assert torch.equal(value, r1["state_dict"][key]), key


def test_ddp_wgan_clipping_holds_on_every_rank(ddp_out):
    """WGAN's weight clipping (brought by configure_callbacks) bounds the critic on both ranks."""
    for rank in (0, 1):
        critic = {k: v for k, v in _load(ddp_out, "wgan", rank)["state_dict"].items() if k.startswith("critic.")}
        assert max(v.abs().max().item() for v in critic.values()) <= 0.01 + 1e-7


@pytest.mark.parametrize("case", PARITY_CASES)
def test_two_ranks_of_half_batch_match_one_process_of_full_batch(ddp_out, case):
    """2 ranks x batch B/2 == 1 process x batch B (same noise and data, no BatchNorm), every weight within 1e-7.

    The noise and penalty weights here are drawn for the global batch and sliced by rank (test code in
    distributed/scripts/common.py), which is what makes the two runs comparable; the module's own per-rank noise
    is checked by test_ddp_ranks_draw_their_own_noise_at_every_update.
    """
    build = {
        "parity_gan": common.ParityGAN,
        "parity_gan_reuse": partial(common.ParityGAN, updates_per_batch="cycle_reuse"),
        "parity_wgangp": common.ParityWGANGP,
    }[case]
    module = build(train_ddp.PARITY_GLOBAL_BATCH)
    start = {k: v.clone() for k, v in module.state_dict().items()}
    trainer = Trainer(**trainer_kwargs(max_steps=train_ddp.PARITY_STEPS, use_distributed_sampler=False))
    trainer.fit(module, datamodule=common.GlobalBatchData(train_ddp.PARITY_STEPS, train_ddp.PARITY_GLOBAL_BATCH))
    ddp = _load(ddp_out, case, 0)["state_dict"]
    moved = max((v - start[k]).abs().max().item() for k, v in module.state_dict().items())
    gap = max((v - ddp[k]).abs().max().item() for k, v in module.state_dict().items())
    assert moved > 1e-4  # training changed the weights, so agreement is not trivial
    assert gap < 1e-7, (
        f"max |DDP - single| = {gap:.2e} (weights moved {moved:.2e})"
    )  # measured 3.0e-8 (GAN), 1.5e-8 (WGAN-GP)
    if case == "parity_gan_reuse":  # a cycle a batch: 2 optimizer steps each, the generator's on the critic's fakes
        assert (module.critic_steps, module.generator_steps) == (train_ddp.PARITY_STEPS // 2,) * 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multinode_launch_environment(tmp_path, ddp_out):
    """2 nodes x 1 device, launched as torchrun does (RANK/GROUP_RANK/LOCAL_RANK...), train identical ranks, and
    bit-identical to 1 node x 2 devices launched by Lightning (the ``ddp_out`` run of the same case)."""
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = _clean_env(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            WORLD_SIZE="2",
            RANK=str(rank),
            GROUP_RANK=str(rank),
            LOCAL_RANK="0",
            LOCAL_WORLD_SIZE="1",
            TORCHELASTIC_RUN_ID="lightning-gans-test",
            LG_DEVICES="1",
            LG_NUM_NODES="2",
        )
        cmd = [sys.executable, str(SCRIPTS / "train_ddp.py"), str(tmp_path), "wgangp"]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        )
    _run(procs)
    r0, r1 = _load(tmp_path, "wgangp", 0), _load(tmp_path, "wgangp", 1)
    assert r0["world_size"] == 2 and r0["global_step"] == 12
    assert (r0["node_rank"], r1["node_rank"]) == (0, 1) and r0["cluster_environment"] == "TorchElasticEnvironment"
    one_node = _load(ddp_out, "wgangp", 0)
    assert one_node["node_rank"] == 0 and one_node["cluster_environment"] == "LightningEnvironment"
    for key, value in r0["state_dict"].items():
        assert torch.equal(value, r1["state_dict"][key]), key
        assert torch.equal(value, one_node["state_dict"][key]), key  # 2 nodes x 1 == 1 node x 2


class _FakeTrainer:
    def __init__(self, strategy) -> None:
        self.strategy = strategy


def test_prepare_strategy_enables_unused_parameters_for_plain_ddp():
    """The plain DDP strategy gets find_unused_parameters=True; an explicit False is rejected naming `strategy`."""
    strategy = DDPStrategy()
    prepare_strategy(_FakeTrainer(strategy))
    assert strategy._ddp_kwargs["find_unused_parameters"] is True
    with pytest.raises(ValueError, match=r"`strategy`.*find_unused_parameters=False"):
        prepare_strategy(_FakeTrainer(DDPStrategy(find_unused_parameters=False)))


def test_deepspeed_is_rejected_before_training():
    """DeepSpeed (single optimizer) is rejected with a message naming `strategy` and DeepSpeed."""
    strategy = DeepSpeedStrategy.__new__(DeepSpeedStrategy)  # deepspeed itself is not installed here
    with pytest.raises(ValueError, match="`strategy`: DeepSpeed supports a single optimizer"):
        prepare_strategy(_FakeTrainer(strategy))


def test_module_pickles_for_ddp_spawn():
    """A WGAN-GP module (named penalty, default optimizers) pickles, as ddp_spawn requires."""
    import pickle

    module = WGANGP(MLPGenerator(latent_dim=2, hidden_dim=16), MLPCritic(hidden_dim=16), latent_dim=2, noise_seed=0)
    clone = pickle.loads(pickle.dumps(module))
    assert clone.penalty is module.penalty
    for a, b in zip(clone.parameters(), module.parameters()):
        assert torch.equal(a, b)


def test_ddp_compiled_forwards_train_like_eager(ddp_out):
    """`compile=` under DDP (aot_eager): both ranks bit-identical, exact step counts, and the eager DDP run's weights.

    The compiled generator and critic are used in the updates and the gradient penalty runs the eager
    critic, inside DDP's wrapper. Measured: the compiled run's weights equal the eager run's exactly.
    Catches: compiled forwards that bypass DDP's gradient all-reduce (ranks would drift apart) or a
    penalty that breaks under DDP + compile.
    """
    c0, c1, eager = (
        _load(ddp_out, "wgangp_compiled", 0),
        _load(ddp_out, "wgangp_compiled", 1),
        _load(ddp_out, "wgangp", 0),
    )
    assert c0["compiled"] == ["critic", "generator"] and eager["compiled"] == []
    assert c0["world_size"] == 2 and c0["global_step"] == 12 and (c0["critic_steps"], c0["generator_steps"]) == (8, 4)
    for key, value in c0["state_dict"].items():
        assert torch.equal(value, c1["state_dict"][key]), key
        torch.testing.assert_close(value, eager["state_dict"][key], rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", train_ddp.CALLBACK_CASES)
def test_ddp_callbacks_stay_rank_consistent(ddp_out, case):
    """SpectralNorm (incl. _u/_v), LSUVInit and GeneratorEMA give bit-identical state on both ranks."""
    r0, r1 = _load(ddp_out, case, 0), _load(ddp_out, case, 1)
    for key, value in r0["state_dict"].items():
        assert torch.equal(value, r1["state_dict"][key]), key
    assert r0["ema"].keys() == r1["ema"].keys() and r0["ema"]
    for key, value in r0["ema"].items():
        assert torch.equal(value, r1["ema"][key]), key
    assert r0["lsuv_results"] == r1["lsuv_results"] and r0["lsuv_results"]["generator"]
    if case == "callbacks":
        assert r0["spectral_normed"] == ["critic.net.0", "critic.net.2", "critic.net.4"]
        assert sum(k.endswith("._u") for k in r0["state_dict"]) == 3  # power-iteration vectors agree too
    else:
        assert r0["lsuv_results"]["critic"]  # the critic was initialised from a real batch on every rank


def test_ddp_ranks_draw_their_own_noise_at_every_update(ddp_out):
    """With the module's real noise and gradient penalty (observed by hooks, nothing replaced), the 2 ranks draw
    different latents and interpolation weights at the same update, and each rank fresh ones at every update."""
    import itertools

    r0, r1 = _load(ddp_out, "noise", 0), _load(ddp_out, "noise", 1)
    assert sorted(r0["latents"]) == sorted(r1["latents"]) == list(range(9))
    assert sorted(r0["alphas"]) == sorted(r1["alphas"]) == [0, 1, 3, 4, 6, 7]  # n_critic=2: every critic update
    for t in range(9):
        assert not torch.isclose(r0["latents"][t], r1["latents"][t]).any(), t  # per-rank seeding
    for t in r0["alphas"]:
        assert (r0["alphas"][t] - r1["alphas"][t]).abs().max() > 0.1, t
    for rank in (r0, r1):
        for s, t in itertools.combinations(range(9), 2):
            assert not torch.isclose(rank["latents"][s], rank["latents"][t]).any(), (s, t)  # per-update seeding
        for s, t in itertools.combinations(rank["alphas"], 2):
            assert (rank["alphas"][s] - rank["alphas"][t]).abs().max() > 0.1, (s, t)
    for key, value in r0["state_dict"].items():  # different noise per rank, yet one model
        assert torch.equal(value, r1["state_dict"][key]), key


def test_non_finite_checkpoint_stops_every_rank_and_writes_nothing(tmp_path):
    """NaN weights when a checkpoint is due under DDP: both ranks exit with the refusal, promptly, and no file is written.

    Only rank 0 writes checkpoints, so a refusal in the writer alone left rank 1 at the checkpoint
    barrier: with gloo it died there with "Connection closed by peer" (measured: one refusal in the
    output, which this test rejects); a backend that does not notice a dead peer waits for its
    timeout (120 s here). Also catches any checkpoint written with the NaN.
    """
    ckpt_dir = tmp_path / "ckpt"
    cmd = [sys.executable, str(SCRIPTS / "nonfinite_save_ddp.py"), str(ckpt_dir)]
    proc = subprocess.Popen(
        cmd, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    text = out.decode(errors="replace")
    assert proc.returncode != 0, text[-4000:]
    assert "fit returned" not in text
    assert text.count("Refused to write") >= 2, text[-4000:]  # rank 0 and rank 1 each refuse
    assert "generator.net.0.bias" in text
    assert not list(ckpt_dir.glob("*.ckpt")) if ckpt_dir.exists() else True
