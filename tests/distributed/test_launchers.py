"""The multi-node recipes of docs/scaling.md, run as written on localhost: torchrun and SLURM (srun simulated).

Each launches ``python -m lightning_gans fit`` (the console script's module) on 2 "nodes" x 1 process with gloo;
the two runs must end with bit-identical checkpoints. ``srun`` is simulated by starting one process per task with
the variables srun sets (Lightning's ``SLURMEnvironment`` reads them); torchrun is the real one, one agent a node.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.distributed.test_ddp import _clean_env

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]
STEPS = 12  # 2 generator updates x (n_critic 5 + 1)


def _fit_args(out: Path) -> list[str]:
    """The docs' multi-node command, on CPU with tiny nets and 12 updates."""
    return [
        "-m",
        "lightning_gans",
        "fit",
        "--config",
        str(ROOT / "examples" / "wgangp_8gaussians.yaml"),
        "--trainer.strategy",
        "ddp",
        "--trainer.devices",
        "1",
        "--trainer.num_nodes",
        "2",
        "--trainer.max_steps",
        str(STEPS),
        "--trainer.default_root_dir",
        str(out),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--data.init_args.batch_size",
        "32",
        "--data.init_args.batches_per_epoch",
        "8",
        "--model.init_args.generator.init_args.hidden_dim",
        "16",
        "--model.init_args.critic.init_args.hidden_dim",
        "16",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in _clean_env().items() if not k.startswith("SLURM_")}  # also when tests run in a SLURM job
    env.update(extra)
    return env


def _wait(procs: list[subprocess.Popen], timeout: float = 150) -> str:
    try:
        outs = [p.communicate(timeout=timeout)[0].decode(errors="replace") for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        raise
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
    return "\n".join(outs)


def _start(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _torchrun(out: Path) -> str:
    """`torchrun --nnodes 2 --nproc_per_node 1 --node_rank R --master_addr ... --master_port ...`, once per node."""
    port = str(_free_port())
    procs = []
    for node in (0, 1):
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--nproc_per_node",
            "1",
            "--node_rank",
            str(node),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            port,
            *_fit_args(out),
        ]
        procs.append(_start(cmd, _env()))
    return _wait(procs)


def _srun(out: Path) -> str:
    """What `srun` starts for `sbatch --nodes=2 --ntasks-per-node=1`: one task a node, with SLURM's variables."""
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = _env(
            SLURM_JOB_ID="4242",
            SLURM_JOB_NAME="lightning-gans-test",  # not "bash"/"interactive": Lightning then reads SLURM's ranks
            SLURM_NTASKS="2",
            SLURM_NTASKS_PER_NODE="1",
            SLURM_TASKS_PER_NODE="1(x2)",
            SLURM_NNODES="2",
            SLURM_NODELIST="localhost",  # rank 0's address is resolved from the node list
            SLURM_PROCID=str(rank),
            SLURM_LOCALID="0",
            SLURM_NODEID=str(rank),
            MASTER_PORT=port,  # else 15000 + the job id's last 4 digits
        )
        procs.append(_start([sys.executable, *_fit_args(out)], env))
    return _wait(procs)


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    runs = {}
    for name, launch in (("torchrun", _torchrun), ("srun", _srun)):
        out = tmp_path_factory.mktemp(name)
        runs[name] = (out, launch(out))
    return runs


def _checkpoint(out: Path) -> dict:
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.mark.parametrize("launcher", ["torchrun", "srun"])
def test_recipe_trains_two_ranks_across_two_nodes(launched, launcher):
    """Each recipe trains 2 ranks on 2 nodes (node ranks 0 and 1) for exactly 12 updates and writes last.ckpt."""
    out, log = launched[launcher]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    ckpt = _checkpoint(out)
    assert ckpt["global_step"] == STEPS


def test_torchrun_and_srun_end_with_identical_weights(launched):
    """torchrun's and SLURM's launch of the same config end with bit-identical checkpoints (weights and EMA)."""
    a, b = _checkpoint(launched["torchrun"][0]), _checkpoint(launched["srun"][0])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    (ema_a,) = [s["ema"] for k, s in a["callbacks"].items() if k.startswith("GeneratorEMA")]
    (ema_b,) = [s["ema"] for k, s in b["callbacks"].items() if k.startswith("GeneratorEMA")]
    for key, value in ema_a.items():
        assert torch.equal(value, ema_b[key]), key
