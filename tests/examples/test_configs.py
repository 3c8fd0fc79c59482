"""What users run first: every example config and ``examples/user_project.py``, on a short budget.

The main job (``examples/wgangp_digits_metrics.yaml``, GANMetrics parsed from its YAML) and the user
project run as users run them, as subprocesses (the installed console script; ``python``), and must
exit 0. Every other config runs in-process through the same CLI (``lightning_gans.cli.run``), with
batch 16, 12 batches and nets narrowed to 16 base channels where the config sets a width; configs that
read the user's images get a tiny stand-in folder. This keeps the file to about a minute on two cores
(each subprocess pays ~8 s of imports).
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lightning_gans.cli import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MAIN_JOB = "wgangp_digits_metrics.yaml"
# CLI configs; W&B sweep specs (sweep_*.yaml) are not configs and have their own test (tests/loggers/test_wandb_sweep.py)
CONFIGS = sorted(p.name for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("sweep_"))
STEPS = 12  # divisible by n_critic + 1 for n_critic in {1, 5}


def _console_script() -> str:
    """The installed ``lightning-gans`` beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "lightning-gans"
    return str(beside) if beside.exists() else shutil.which("lightning-gans")


def _env(tmp_path: Path) -> dict:
    env = dict(
        os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true", TORCH_HOME=str(tmp_path / "torch")
    )
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _n_critic(config: str) -> int:
    model = yaml.safe_load((EXAMPLES / config).read_text())["model"]
    default = {
        "lightning_gans.GAN": 1,
        "lightning_gans.WGAN": 5,
        "lightning_gans.WGANGP": 5,
        "lightning_gans.ACGAN": 1,
        "lightning_gans.SNGAN": 5,
        "lightning_gans.R3GAN": 1,
    }[model["class_path"]]
    return int(model.get("init_args", {}).get("n_critic", default))


def _image_folder(root: Path, size: int = 32, n: int = 16) -> str:
    """A tiny ImageFolder (one class sub-folder of random RGB PNGs) for configs that read the user's images."""
    from torchvision.io import write_png

    (root / "class_a").mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        write_png(
            torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g), str(root / "class_a" / f"{i}.png")
        )
    return str(root)


def _generator_steps(ckpt: str) -> int:
    return int(torch.load(ckpt, weights_only=True)["lightning_gans"]["generator_steps"])


def test_every_example_is_covered():
    """The main job, the other configs and the user project are all found (a new example is picked up by the glob)."""
    assert MAIN_JOB in CONFIGS and len(CONFIGS) >= 8
    assert (EXAMPLES / "user_project.py").exists()


@pytest.mark.parametrize("config", [c for c in CONFIGS if c != MAIN_JOB])
def test_example_config_trains(tmp_path, config, one_thread):
    """Each config parses and trains STEPS batches: exactly STEPS / (n_critic + 1) generator steps, in the checkpoint too."""
    extra = []
    if "wandb" in config:  # offline, into tmp: no account or network
        extra = ["--trainer.logger.init_args.offline", "true", "--trainer.logger.init_args.save_dir", str(tmp_path)]
    else:
        extra = ["--trainer.logger", "false"]
    parsed = yaml.safe_load((EXAMPLES / config).read_text())
    for net in ("generator", "critic"):  # narrow nets: seconds instead of a minute for the ResNets
        if "base_channels" in parsed["model"]["init_args"][net].get("init_args", {}):
            extra += [f"--model.init_args.{net}.init_args.base_channels", "16"]
    data = parsed["data"]
    if data["class_path"].endswith("StreamingImageDataModule"):  # the stand-in folder as LitData shards
        from lightning_gans.data import optimize_folder

        optimize_folder(_image_folder(tmp_path / "images", data["init_args"]["image_size"]), str(tmp_path / "shards"))
        extra += ["--data.init_args.input_dir", str(tmp_path / "shards")]
    elif data["class_path"].endswith("ImageDataModule"):  # the user's own images: a tiny stand-in folder
        extra += ["--data.init_args.root", _image_folder(tmp_path / "images", data["init_args"].get("image_size", 32))]
    cli = run(
        [
            "fit",
            "--config",
            str(EXAMPLES / config),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.max_steps",
            str(STEPS),
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.batch_size",
            "16",
            *extra,
        ]
    )
    n_critic = _n_critic(config)
    assert cli.model.n_critic == n_critic
    assert (cli.model.critic_steps, cli.model.generator_steps) == (
        STEPS - STEPS // (n_critic + 1),
        STEPS // (n_critic + 1),
    )
    (ckpt,) = glob.glob(str(tmp_path / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    assert _generator_steps(ckpt) == STEPS // (n_critic + 1)
    if "wandb" in config:
        assert glob.glob(str(tmp_path / "wandb" / "offline-run-*"))


def test_main_job_from_the_console_script(tmp_path):
    """`lightning-gans fit --config examples/wgangp_digits_metrics.yaml` exits 0 and logs eval/fid, is, kid at its end."""
    cmd = [
        _console_script(),
        "fit",
        "--config",
        str(EXAMPLES / MAIN_JOB),
        "--trainer.max_steps",
        str(STEPS),
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (ckpt,) = glob.glob(str(tmp_path / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    assert _generator_steps(ckpt) == STEPS // 6  # WGAN-GP, n_critic 5
    (metrics_csv,) = glob.glob(str(tmp_path / "**" / "metrics.csv"), recursive=True)
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    evaluated = [r for r in rows if r.get("eval/fid")]
    assert len(evaluated) == 1  # every 250 generator steps: none in 2; at_train_end: one
    for key in ("eval/fid", "eval/is", "eval/kid"):
        assert float(evaluated[0][key]) == float(evaluated[0][key])  # present and not NaN
    assert float(evaluated[0]["eval/fid"]) > 0 and 1.0 <= float(evaluated[0]["eval/is"]) <= 10.0


def test_user_project_runs(tmp_path):
    """examples/user_project.py trains both of its models (3 generator steps each) and prints their mode coverage."""
    code = "import runpy; runpy.run_path('examples/user_project.py')['main'](generator_steps=3)"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "WGANGP: 3 generator steps" in proc.stdout and "RelativisticGAN: 3 generator steps" in proc.stdout
