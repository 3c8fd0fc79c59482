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
from lightning.pytorch import Callback

from lightning_gans.cli import SIGINT_EXIT_STATUS, SIGTERM_EXIT_STATUS, main
from tests.faults.test_cli import CONSOLE_SCRIPT, write_config

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
    The resumed run and a straight run (in-process, same config and seed) to the first even step at
    least 8 past the preemption end with bit-identical weights and optimizer states.
    """
    _, ckpts, proc, err = _signal_mid_run(tmp_path / "killed", signal.SIGTERM)
    assert proc.returncode == SIGTERM_EXIT_STATUS, err[-3000:]
    preempted = torch.load(ckpts / "last.ckpt", weights_only=True)
    step = preempted["global_step"]
    assert 2 <= step < 100000
    assert f"lightning-gans: SIGTERM at global step {step}; wrote {ckpts / 'last.ckpt'}" in err

    # ModelCheckpoint(every_n_train_steps=2) writes `last.ckpt` at even steps only, and nothing at the
    # end of fit: end on an even step so both files hold the final state. SIGTERM may land on an odd
    # step (mid-cycle, after a critic update), which the resume must handle too.
    final = step + 8 + (step + 8) % 2
    target = str(final)
    (tmp_path / "resumed").mkdir()
    (tmp_path / "straight").mkdir()
    resumed_config = write_config(tmp_path / "resumed" / "gan.yaml", model="lightning_gans.GAN")
    assert (
        main(
            ["fit", "--config", resumed_config, "--trainer.max_steps", target, "--ckpt_path", str(ckpts / "last.ckpt")]
        )
        == 0
    )
    assert (
        main(
            [
                "fit",
                "--config",
                write_config(tmp_path / "straight" / "gan.yaml", model="lightning_gans.GAN"),
                "--trainer.max_steps",
                target,
            ]
        )
        == 0
    )
    resumed = torch.load(tmp_path / "resumed" / "ckpts" / "last.ckpt", weights_only=True)
    straight = torch.load(tmp_path / "straight" / "ckpts" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == straight["global_step"] == final
    for key, value in straight["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key
    for a, b in zip(resumed["optimizer_states"], straight["optimizer_states"]):
        for index, state in b["state"].items():
            for name, value in state.items():
                assert torch.equal(a["state"][index][name], value), (index, name)


class SigtermAt(Callback):
    """Sends this process SIGTERM during the batch that starts at global step ``step`` (a scheduler's preemption)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("checkpointing", [True, False], ids=["ModelCheckpoint", "no checkpoint callback"])
def test_sigterm_at_a_known_step_writes_that_step(tmp_path, checkpointing, capsys):
    """SIGTERM during step 5 (mid-epoch): the batch finishes, `last.ckpt` holds global step 6, `main` returns 143.

    With a ModelCheckpoint the file goes to its directory; without any checkpoint callback, to
    `default_root_dir`. Lightning alone would return normally (status 0) and write nothing.
    """
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    no_checkpoints = [] if checkpointing else ["--trainer.enable_checkpointing", "false", "--trainer.callbacks", "[]"]
    sigterm = ["--trainer.callbacks+=tests.faults.test_signals.SigtermAt", "--trainer.callbacks.step", "5"]
    assert (
        main(["fit", "--config", config, "--trainer.max_steps", "1000", *no_checkpoints, *sigterm])
        == SIGTERM_EXIT_STATUS
    )
    path = (tmp_path / "ckpts" if checkpointing else tmp_path / "run") / "last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["global_step"] == 6
    assert (checkpoint["lightning_gans"]["critic_steps"], checkpoint["lightning_gans"]["generator_steps"]) == (3, 3)
    assert f"SIGTERM at global step 6; wrote {path}" in capsys.readouterr().err


class SigintAt(Callback):
    """Sends this process SIGINT (what Ctrl-C sends) during the batch that starts at global step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_at_a_known_step_writes_that_step_and_resumes_bit_identically(tmp_path, capsys):
    """Ctrl-C (SIGINT) during step 5: the batch finishes, `last.ckpt` holds global step 6 with 3 critic and 3 generator
    updates, `main` returns 130 (128 + SIGINT) naming the file; resuming it to step 12 equals 12 steps straight through.

    Lightning alone prints "attempting graceful shutdown", exits 1 and writes nothing.
    """
    (tmp_path / "cut").mkdir()
    (tmp_path / "straight").mkdir()
    config = write_config(tmp_path / "cut" / "gan.yaml", model="lightning_gans.GAN")
    sigint = ["--trainer.callbacks+=tests.faults.test_signals.SigintAt", "--trainer.callbacks.step", "5"]
    before = signal.getsignal(signal.SIGINT)  # Python's default handler, or SIG_IGN in a background job
    assert main(["fit", "--config", config, "--trainer.max_steps", "1000", *sigint]) == SIGINT_EXIT_STATUS
    path = tmp_path / "cut" / "ckpts" / "last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["global_step"] == 6
    assert (checkpoint["lightning_gans"]["critic_steps"], checkpoint["lightning_gans"]["generator_steps"]) == (3, 3)
    assert f"Ctrl-C (SIGINT) at global step 6; wrote {path}" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # the handler fit installed is gone

    assert main(["fit", "--config", config, "--trainer.max_steps", "12", "--ckpt_path", str(path)]) == 0
    straight = write_config(tmp_path / "straight" / "gan.yaml", model="lightning_gans.GAN")
    assert main(["fit", "--config", straight, "--trainer.max_steps", "12"]) == 0
    resumed = torch.load(path, weights_only=True)
    reference = torch.load(tmp_path / "straight" / "ckpts" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == reference["global_step"] == 12
    assert resumed["lightning_gans"]["generator_steps"] == reference["lightning_gans"]["generator_steps"] == 6
    for key, value in reference["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key


def test_ctrl_c_in_the_console_script_exits_130_with_a_resumable_last_ckpt(tmp_path):
    """The installed script gets a real SIGINT mid-run: exit 130, `last.ckpt` of the step reached (named on stderr),
    and resuming it trains exactly 4 more steps (2 critic + 2 generator updates)."""
    config, ckpts, proc, err = _signal_mid_run(tmp_path / "run", signal.SIGINT)
    assert proc.returncode == SIGINT_EXIT_STATUS, err[-3000:]
    saved = torch.load(ckpts / "last.ckpt", weights_only=True)
    step = saved["global_step"]
    assert 2 <= step < 100000
    assert f"lightning-gans: Ctrl-C (SIGINT) at global step {step}; wrote {ckpts / 'last.ckpt'}" in err
    counts = saved["lightning_gans"]["critic_steps"], saved["lightning_gans"]["generator_steps"]
    assert sum(counts) == step
    final = step + 4 + step % 2  # ModelCheckpoint(every_n_train_steps=2) writes last.ckpt at even steps
    assert (
        main(["fit", "--config", config, "--trainer.max_steps", str(final), "--ckpt_path", str(ckpts / "last.ckpt")])
        == 0
    )
    resumed = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == final
    assert resumed["lightning_gans"]["critic_steps"] + resumed["lightning_gans"]["generator_steps"] == final
    assert resumed["lightning_gans"]["generator_steps"] == final // 2


class TwoSigintsAt(Callback):
    """Sends this process two SIGINTs (Ctrl-C pressed twice) during the batch that starts at global step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_a_second_ctrl_c_stops_at_once_without_a_checkpoint(tmp_path, capsys):
    """Ctrl-C twice during step 5: exit 130 at once, no checkpoint of that step (last.ckpt stays the periodic one of
    step 4), and stderr says none was written."""
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    twice = ["--trainer.callbacks+=tests.faults.test_signals.TwoSigintsAt", "--trainer.callbacks.step", "5"]
    before = signal.getsignal(signal.SIGINT)  # Python's default handler, or SIG_IGN in a background job
    assert main(["fit", "--config", config, "--trainer.max_steps", "1000", *twice]) == SIGINT_EXIT_STATUS
    assert torch.load(tmp_path / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 4
    assert "interrupted again (Ctrl-C); no checkpoint written" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before


def _signal_mid_run(run_dir, signum):
    """Start the console script on a 100,000-step GAN run in ``run_dir``, send ``signum`` once its first periodic
    checkpoint exists, and wait for it; returns (config, checkpoint folder, process, stderr)."""
    run_dir.mkdir()
    config = write_config(run_dir / "gan.yaml", model="lightning_gans.GAN")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [CONSOLE_SCRIPT, "fit", "--config", config, "--trainer.max_steps", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ckpts = run_dir / "ckpts"
    try:
        _wait_for(lambda: any(p.suffix == ".ckpt" for p in ckpts.glob("*.ckpt")), proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return config, ckpts, proc, err
