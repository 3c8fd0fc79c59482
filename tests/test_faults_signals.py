"""Signals: SIGTERM (cluster preemption) writes a resumable checkpoint and exits non-zero; the resume is exact.

The console script runs as a subprocess and gets a real SIGTERM mid-run. Lightning on its own ends
``fit`` with status 0 there and writes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch

from lightning_gans.cli import SIGTERM_EXIT_STATUS, main
from tests.test_faults_cli import CONSOLE_SCRIPT, write_config

pytestmark = pytest.mark.usefixtures("one_thread")


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "training did not start in time"
        time.sleep(0.2)


def test_sigterm_writes_last_ckpt_exits_143_and_resumes_exactly(tmp_path):
    """SIGTERM mid-fit: exit 143, a `last.ckpt` of the step reached, and resuming it equals training straight through.

    The run would take 100,000 steps; SIGTERM is sent once the first periodic checkpoint exists.
    The resumed run and a straight run (in-process, same config and seed) to 8 steps past the
    preemption end with bit-identical weights and optimizer states.
    """
    (tmp_path / "killed").mkdir()
    config = write_config(tmp_path / "killed" / "gan.yaml", model="lightning_gans.GAN")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [CONSOLE_SCRIPT, "fit", "--config", config, "--trainer.max_steps", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    ckpts = tmp_path / "killed" / "ckpts"
    try:
        _wait_for(lambda: any(p.suffix == ".ckpt" for p in ckpts.glob("*.ckpt")), proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == SIGTERM_EXIT_STATUS, err[-3000:]
    preempted = torch.load(ckpts / "last.ckpt", weights_only=True)
    step = preempted["global_step"]
    assert 2 <= step < 100000
    assert f"lightning-gans: SIGTERM at global step {step}; wrote {ckpts / 'last.ckpt'}" in err

    target = str(step + 8)
    (tmp_path / "resumed").mkdir()
    (tmp_path / "straight").mkdir()
    resumed_config = write_config(tmp_path / "resumed" / "gan.yaml", model="lightning_gans.GAN")
    assert main(["fit", "--config", resumed_config, "--trainer.max_steps", target, "--ckpt_path", str(ckpts / "last.ckpt")]) == 0
    assert main(["fit", "--config", write_config(tmp_path / "straight" / "gan.yaml", model="lightning_gans.GAN"), "--trainer.max_steps", target]) == 0
    resumed = torch.load(tmp_path / "resumed" / "ckpts" / "last.ckpt", weights_only=True)
    straight = torch.load(tmp_path / "straight" / "ckpts" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == straight["global_step"] == step + 8
    for key, value in straight["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key
    for a, b in zip(resumed["optimizer_states"], straight["optimizer_states"]):
        for index, state in b["state"].items():
            for name, value in state.items():
                assert torch.equal(a["state"][index][name], value), (index, name)
