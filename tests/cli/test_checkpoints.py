"""`lightning-gans fit` keeps a resumable last.ckpt by default, `--ckpt_path last` resumes it, and step-based
checkpointing keeps the final state without Lightning's manual-optimisation warning (console script, subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "seed_everything": 0,
    "trainer": {"accelerator": "cpu", "devices": 1, "enable_model_summary": False, "log_every_n_steps": 6},
    "model": {
        "class_path": "lightning_gans.WGANGP",
        "init_args": {
            "latent_dim": 2,
            "generator": {"class_path": "lightning_gans.nets.MLPGenerator", "init_args": {"hidden_dim": 8}},
            "critic": {"class_path": "lightning_gans.nets.MLPCritic", "init_args": {"hidden_dim": 8}},
        },
    },
    "data": {"class_path": "lightning_gans.ToyDataModule", "init_args": {"batch_size": 16, "batches_per_epoch": 5}},
}


def console_script() -> str:
    """The installed ``lightning-gans`` beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "lightning-gans"
    return str(beside) if beside.exists() else str(shutil.which("lightning-gans"))


def fit(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """``lightning-gans fit --config <config> *args`` in ``tmp_path``, exit status checked by the caller."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [console_script(), "fit", "--config", str(path), "--trainer.default_root_dir", str(tmp_path / "run"), *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def counters(path: Path) -> tuple[int, int]:
    """(global step, generator steps) saved in a checkpoint."""
    checkpoint = torch.load(path, weights_only=True)
    return int(checkpoint["global_step"]), int(checkpoint["lightning_gans"]["generator_steps"])


def test_default_fit_keeps_last_ckpt_and_ckpt_path_last_resumes_it(tmp_path):
    """Default callbacks: <log dir>/checkpoints/last.ckpt holds the final state; `--ckpt_path last` continues it (12 -> 24)."""
    first = fit(tmp_path, TINY, "--trainer.max_steps", "12")
    assert first.returncode == 0, first.stderr[-3000:]
    (last,) = (tmp_path / "run").glob("**/checkpoints/last.ckpt")  # <log dir>/checkpoints, beside epoch=E-step=S.ckpt
    assert counters(last) == (12, 2)  # 2 generator steps x (n_critic 5 + 1)
    assert len(list(last.parent.glob("epoch=*-step=12.ckpt"))) == 1

    second = fit(tmp_path, TINY, "--trainer.max_steps", "24", "--ckpt_path", "last")
    assert second.returncode == 0, second.stderr[-3000:]
    output = second.stdout + second.stderr
    assert "no last checkpoint available" not in output
    assert f"Restored all states from the checkpoint at {last}" in output  # resumed, not restarted
    (resumed,) = [p for p in (tmp_path / "run").glob("**/checkpoints/last.ckpt") if p != last]  # the next log version
    assert counters(resumed) == (24, 4)


def test_every_n_train_steps_keeps_the_final_state_without_warning(tmp_path):
    """ModelCheckpoint(every_n_train_steps=5, save_last=True), max_steps 14: step files 5 and 10, last.ckpt at 14, no warning."""
    config = yaml.safe_load(yaml.safe_dump(TINY))
    dirpath = tmp_path / "ckpts"
    config["trainer"]["callbacks"] = [
        {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {
                "dirpath": str(dirpath),
                "every_n_train_steps": 5,
                "save_top_k": -1,
                "save_last": True,
                "filename": "step{step}",
                "auto_insert_metric_name": False,
            },
        }
    ]
    proc = fit(tmp_path, config, "--trainer.max_steps", "14", "--trainer.enable_progress_bar", "false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "manual optimization" not in proc.stderr, proc.stderr[-3000:]
    assert sorted(p.name for p in dirpath.iterdir()) == ["last.ckpt", "step10.ckpt", "step5.ckpt"]
    assert counters(dirpath / "step10.ckpt")[0] == 10
    assert counters(dirpath / "last.ckpt") == (14, 2)  # 14 // 6 generator steps: the final state, not step 10's
