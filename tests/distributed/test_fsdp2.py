"""FSDP2 (``fully_shard`` under ``ModelParallelStrategy``) on 2 CPU ranks with gloo: parity with DDP, exact resume,
memory per rank; and the strategies that are refused before training.

The 2-rank runs are one subprocess of tests/distributed/scripts/fsdp2_train.py (20-30 s on 2 shared cores): its first
``strategy="ddp"`` fit re-executes the script for rank 1 and every later fit, FSDP2 ones included, reuses the
process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, ModelParallelStrategy

from lightning_gans import WGANGP
from lightning_gans._checks import InputError
from lightning_gans._strategies import prepare_strategy
from lightning_gans.callbacks import GANMetrics, LSUVInit, SampleLogger
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.sharding import FSDP2Strategy

SCRIPTS = Path(__file__).resolve().parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import fsdp2_train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

PARITY_CASES = ["wgangp", "wgan", "r1"]
# Measured on CPU, gloo, torch 2.14.1: max |w_fsdp - w_ddp| = 0.0 after 12 updates in both cases (FSDP2's
# reduce-scatter averages the gradients exactly as DDP's all-reduce does here). The bound leaves room for
# a backend that sums in another order; the weights move by 9e-4 (WGAN-GP, lr 1e-4) and 1.4e-3 (R1) over the 12 updates.
PARITY_TOLERANCE = 1e-6


_LAUNCH_VARS = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                "MASTER_PORT", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS", "SLURM_JOB_NAME", "PL_GLOBAL_SEED")  # fmt: skip

FAULT_TESTS = (
    "test_lightning_fsdp_strategy_is_refused_naming_the_fsdp2_way",
    "test_deepspeed_message_points_to_ddp_and_fsdp2",
    "test_plain_model_parallel_strategy_is_refused",
    "test_callbacks_that_need_full_networks_are_refused",
    "test_compile_and_parameters_outside_the_networks_are_refused",
    "test_fsdp2_strategy_validates_its_argument",
)  # for scripts/count_fault_tests.py (EXTRA_MODULES)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"  # 2 ranks on 2 cores: one intra-op thread each
    return env


def _run(proc: subprocess.Popen, timeout: float) -> None:
    """Wait for the launch; on timeout kill its process group (rank 1 is rank 0's child)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert proc.returncode == 0, out[-4000:]


@pytest.fixture(scope="module")
def fsdp_out(tmp_path_factory) -> Path:
    """One 2-process run of every case of fsdp2_train.py."""
    out = tmp_path_factory.mktemp("fsdp2")
    cmd = [sys.executable, str(SCRIPTS / "fsdp2_train.py"), str(out)]
    proc = subprocess.Popen(
        cmd, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    _run(proc, timeout=180)
    return out


def _load(out: Path, case: str, rank: int) -> dict:
    return torch.load(out / f"{case}_rank{rank}.pt", weights_only=True)


@pytest.mark.parametrize("case", PARITY_CASES)
def test_fsdp2_weights_match_ddp(fsdp_out, case):
    """After 12 updates (same data and noise) the FSDP2 weights equal the DDP run's within PARITY_TOLERANCE.

    wgangp: n_critic=2 and the gradient penalty (double backward through the sharded critic); wgan: weight
    clipping (a post-step hook on the critic's optimizer); r1: the
    non-saturating loss, R1, a spectral-normed critic (its ``_u``/``_v`` buffers compared too) and GeneratorEMA.
    """
    ddp, fsdp0, fsdp1 = (
        _load(fsdp_out, f"ddp_{case}", 0),
        _load(fsdp_out, f"fsdp_{case}", 0),
        _load(fsdp_out, f"fsdp_{case}", 1),
    )
    assert fsdp0["param_types"] == ["DTensor"]  # both networks were sharded
    assert ddp["param_types"] == ["Parameter"]
    assert fsdp0["world_size"] == 2 and fsdp0["global_step"] == ddp["global_step"] == fsdp2_train.PARITY_STEPS
    assert (fsdp0["critic_steps"], fsdp0["generator_steps"]) == (ddp["critic_steps"], ddp["generator_steps"])
    assert fsdp0["state_dict"].keys() == ddp["state_dict"].keys()
    builders = {"wgangp": fsdp2_train.common.ParityWGANGP, "wgan": fsdp2_train.ParityWGAN, "r1": fsdp2_train.ParityR1}
    start = builders[case](fsdp2_train.PARITY_GLOBAL_BATCH).state_dict()
    moved = max((v - start[k]).abs().max().item() for k, v in ddp["state_dict"].items() if k in start)
    gap = max((v - ddp["state_dict"][k]).abs().max().item() for k, v in fsdp0["state_dict"].items())
    assert moved > 5e-4  # training moved the weights, so agreement is not trivial
    assert gap <= PARITY_TOLERANCE, f"max |FSDP2 - DDP| = {gap:.2e} (weights moved {moved:.2e})"
    for key, value in fsdp0["state_dict"].items():  # the gathered weights and the buffers agree across ranks
        assert torch.equal(value, fsdp1["state_dict"][key]), key
    if case == "wgan":  # the clipping hook ran on the updated shards (WeightClipping after FSDP2Strategy's reshard)
        critic = [v for k, v in fsdp0["state_dict"].items() if k.startswith("critic.")]
        assert max(v.abs().max().item() for v in critic) <= 0.01 + 1e-7
    if case == "r1":
        assert fsdp0["spectral_normed"] == ["critic.net.0", "critic.net.2", "critic.net.4"]
        assert sum(k.endswith("._u") for k in fsdp0["state_dict"]) == 3
        # GeneratorEMA: a sharded average (each rank averages its shard), equal to DDP's full average
        assert fsdp0["ema_param_types"] == ["DTensor"] and fsdp0["ema_is_sampled"]
        assert fsdp0["ema"].keys() == ddp["ema"].keys()
        ema_gap = max((v - ddp["ema"][k]).abs().max().item() for k, v in fsdp0["ema"].items())
        assert ema_gap <= PARITY_TOLERANCE, f"max |EMA FSDP2 - EMA DDP| = {ema_gap:.2e}"
        lag = max((v - fsdp0["state_dict"][f"generator.{k}"]).abs().max().item() for k, v in fsdp0["ema"].items())
        assert lag > 1e-5  # the average trails the generator, so comparing it is not comparing the generator again
        for key, value in fsdp0["ema"].items():
            assert torch.equal(value, fsdp1["ema"][key]), key


def test_fsdp2_batchnorm_nets_match_ddp_and_checkpoints_hold_the_ranks_mean_statistics(fsdp_out):
    """BatchNorm in generator and critic under FSDP2 (+ GeneratorEMA): the weights after 12 updates equal DDP's;
    the running statistics stay per rank (FSDP2 shards parameters, not buffers); the checkpoint holds their mean
    over ranks (generator, critic and the EMA's copy), as under DDP, not rank 0's alone."""
    ddp, f0, f1 = _load(fsdp_out, "ddp_bn", 0), _load(fsdp_out, "fsdp_bn", 0), _load(fsdp_out, "fsdp_bn", 1)
    assert f0["param_types"] == ["DTensor"] and f0["global_step"] == ddp["global_step"] == fsdp2_train.PARITY_STEPS
    stats = [k for k in f0["state_dict"] if k.endswith(("running_mean", "running_var"))]
    assert len(stats) == 4  # generator.1.* and critic.1.*
    weights = [k for k in f0["state_dict"] if k not in stats and not k.endswith("num_batches_tracked")]
    start = fsdp2_train.ParityBatchNorm(fsdp2_train.PARITY_GLOBAL_BATCH).state_dict()
    moved = max((ddp["state_dict"][k] - start[k]).abs().max().item() for k in weights)
    gap = max((f0["state_dict"][k] - ddp["state_dict"][k]).abs().max().item() for k in weights)
    assert moved > 5e-4 and gap <= PARITY_TOLERANCE, f"max |FSDP2 - DDP| = {gap:.2e} (weights moved {moved:.2e})"
    for key in weights:
        assert torch.equal(f0["state_dict"][key], f1["state_dict"][key]), key
    assert all(not torch.equal(f0["state_dict"][k], f1["state_dict"][k]) for k in stats)  # each rank's own batches
    saved = torch.load(fsdp_out / "fsdp_bn_ckpt" / f"step={fsdp2_train.PARITY_STEPS}.ckpt", weights_only=False)
    for key in stats:  # the mean of the two ranks' live statistics at the save (float64 mean, cast back)
        mean = ((f0["state_dict"][key].double() + f1["state_dict"][key].double()) / 2).float()
        assert torch.allclose(saved["state_dict"][key], mean, rtol=0, atol=1e-7), key
    for key in weights:
        assert torch.equal(saved["state_dict"][key], f0["state_dict"][key]), key
    (ema,) = [v["ema"] for k, v in saved["callbacks"].items() if k.startswith("GeneratorEMA")]
    ema_stats = [k for k in ema if k.endswith(("running_mean", "running_var"))]
    assert ema_stats == ["1.running_mean", "1.running_var"]
    for key in ema_stats:  # GeneratorEMA's copy of the statistics: also the ranks' mean
        assert not torch.equal(f0["ema"][key], f1["ema"][key]), key
        mean = ((f0["ema"][key].double() + f1["ema"][key].double()) / 2).float()
        assert torch.allclose(ema[key], mean, rtol=0, atol=1e-7), key


@pytest.mark.parametrize("mode", ["full", "sharded"])
def test_fsdp2_resume_is_exact(fsdp_out, mode):
    """6 updates + checkpoint (one file, or a folder of shards) + 6 == 12 straight, bit for bit on both ranks.

    WGAN-GP with n_critic=2, a spectral-normed critic and GeneratorEMA; the checkpoint is taken mid-epoch and mid-cycle, so
    weights, both optimizers' sharded states, spectral norm's vectors, counters and the data position all count.
    """
    for rank in (0, 1):
        state = _load(fsdp_out, f"resume_{mode}", rank)
        assert state["checkpoint_is_dir"] is (mode == "sharded")
        whole, resumed = state["whole"], state["resumed"]
        assert resumed["global_step"] == whole["global_step"] == 2 * fsdp2_train.RESUME_STEPS
        assert (resumed["critic_steps"], resumed["generator_steps"]) == (8, 4)
        assert resumed["state_dict"].keys() == whole["state_dict"].keys()
        for key, value in whole["state_dict"].items():
            assert torch.equal(value, resumed["state_dict"][key]), (mode, rank, key)
        assert resumed["ema_param_types"] == ["DTensor"] and resumed["ema"].keys() == whole["ema"].keys()
        for key, value in whole["ema"].items():  # GeneratorEMA's sharded average, saved gathered, resumes exactly
            assert torch.equal(value, resumed["ema"][key]), (mode, rank, "ema", key)


def test_full_fsdp2_checkpoint_loads_on_one_device(fsdp_out):
    """The one-file checkpoint (``save_distributed_checkpoint=False``) loads without a Trainer and samples from its
    EMA generator; its weights are the ones training had at that step (the resumed run's start, which resumed
    exactly)."""
    path = fsdp_out / "ckpt_full" / f"step={fsdp2_train.RESUME_STEPS}.ckpt"
    module = WGANGP.load_from_checkpoint(
        path,
        generator=MLPGenerator(latent_dim=2, hidden_dim=32, num_layers=2),
        critic=MLPCritic(hidden_dim=32, num_layers=2),
    )
    assert (module.critic_steps, module.generator_steps) == (4, 2)
    assert module.sample(5).shape == (5, 2)
    checkpoint = torch.load(path, weights_only=False)
    (ema_state,) = [v["ema"] for k, v in checkpoint["callbacks"].items() if k.startswith("GeneratorEMA")]
    assert module.ema_generator is not None  # sample() draws from the saved average, gathered to full tensors
    for key, value in module.ema_generator.state_dict().items():
        assert torch.equal(value, ema_state[key]), key
    saved = checkpoint["state_dict"]
    assert saved.keys() == module.state_dict().keys()
    for key, value in module.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_fsdp2_halves_parameter_and_optimizer_memory_per_rank(fsdp_out):
    """~6.5 M parameters (two 4-layer MLPs of width 1024) with Adam: each rank holds half the bytes DDP holds.

    Measured (bytes per rank, parameters + Adam state): DDP 77,968,140 on each rank; FSDP2 38,992,220 (rank 0)
    and 38,976,220 (rank 1): rows are split by 2 and the odd row counts (the critic's 1-row output layer)
    land on rank 0. The shards add up to DDP's bytes exactly.
    """
    r0, r1 = _load(fsdp_out, "memory", 0), _load(fsdp_out, "memory", 1)
    assert r0["ddp"]["numel"] == r0["fsdp"]["numel"] > 6_000_000

    def total(rank: dict, kind: str) -> int:
        return sum(sum(rank[kind][net].values()) for net in ("generator", "critic"))

    ddp = total(r0, "ddp")
    assert total(r1, "ddp") == ddp
    for rank in (r0, r1):
        assert 0.49 * ddp < total(rank, "fsdp") < 0.51 * ddp
    for net in ("generator", "critic"):
        for part in ("parameters", "optimizer_state"):
            assert r0["fsdp"][net][part] + r1["fsdp"][net][part] == r0["ddp"][net][part], (net, part)


# -- refused before training (no process group needed) ---------------------------------------------------------
class _FakeTrainer:
    def __init__(self, strategy, module=None, callbacks=()) -> None:
        self.strategy, self.lightning_module, self.callbacks = strategy, module, list(callbacks)


def _module(**kw) -> WGANGP:
    return WGANGP(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2, noise_seed=0, **kw)


def test_lightning_fsdp_strategy_is_refused_naming_the_fsdp2_way():
    """Lightning's FSDPStrategy (no manual optimisation, #19685) is refused, pointing to FSDP2Strategy."""
    with pytest.raises(InputError, match=r"`strategy`: Lightning's FSDPStrategy cannot run manual optimisation.*"):
        prepare_strategy(_FakeTrainer(FSDPStrategy(), _module()))
    with pytest.raises(InputError, match=r"FSDP2Strategy\(\)"):
        prepare_strategy(_FakeTrainer(FSDPStrategy(), _module()))


def test_deepspeed_message_points_to_ddp_and_fsdp2():
    """DeepSpeed's refusal names the two strategies that work, not Lightning's FSDP."""
    strategy = DeepSpeedStrategy.__new__(DeepSpeedStrategy)  # deepspeed itself is not installed here
    with pytest.raises(InputError, match=r"strategy='ddp', or lightning_gans.sharding.FSDP2Strategy\(\)") as err:
        prepare_strategy(_FakeTrainer(strategy, _module()))
    assert "'fsdp'" not in str(err.value)


def test_plain_model_parallel_strategy_is_refused():
    """A plain ModelParallelStrategy would reuse stale gathered weights after a penalty step: refused, naming the fix."""
    with pytest.raises(InputError, match=r"`strategy`: ModelParallelStrategy .*Use strategy=.*FSDP2Strategy\(\)"):
        prepare_strategy(_FakeTrainer(ModelParallelStrategy(), _module()))


@pytest.mark.parametrize(
    ("callback", "match"),
    [
        (LSUVInit(), r"`callbacks`: LSUVInit does not work with FSDP2Strategy: .*initialize"),
        (
            GANMetrics.__new__(GANMetrics),
            r"`callbacks`: GANMetrics does not work with FSDP2Strategy: .*`lightning-gans",
        ),
        (SampleLogger(), r"`callbacks`: SampleLogger does not work with FSDP2Strategy: it samples on rank 0 only"),
    ],
)
def test_callbacks_that_need_full_networks_are_refused(callback, match):
    """Callbacks that re-initialise full weights (LSUVInit), sample on rank 0 only (SampleLogger, ToyPlot) or may
    run a different number of generator forwards per rank (GANMetrics) are refused before training, saying why."""
    with pytest.raises(InputError, match=match):
        prepare_strategy(_FakeTrainer(FSDP2Strategy(), _module(), [callback]))


def test_compile_and_parameters_outside_the_networks_are_refused():
    """`compile` and a parameter FSDP2 would not synchronise are refused, each named."""
    with pytest.raises(InputError, match=r"`compile` is set"):
        prepare_strategy(_FakeTrainer(FSDP2Strategy(), _module(compile=True)))
    module = _module()
    module.temperature = torch.nn.Parameter(torch.ones(()))
    with pytest.raises(InputError, match=r"parameters outside `generator` and `critic` \(temperature\)"):
        prepare_strategy(_FakeTrainer(FSDP2Strategy(), module))
    prepare_strategy(_FakeTrainer(FSDP2Strategy(), _module()))  # a plain module passes


def test_fsdp2_strategy_validates_its_argument():
    """`save_distributed_checkpoint` must be a bool (named in the error)."""
    with pytest.raises(InputError, match="save_distributed_checkpoint"):
        FSDP2Strategy(save_distributed_checkpoint="yes")  # type: ignore[arg-type]
