"""docs/your-images.md end to end: examples/wgangp_folder_cpu.yaml trains on a flat folder of images, then
`lightning-gans evaluate --real FOLDER` scores its last.ckpt against that folder (console script, subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from tests.cli.test_checkpoints import console_script, counters, fit

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "wgangp_folder_cpu.yaml"


def _flat_folder(root: Path, n: int = 40) -> Path:
    """``n`` RGB PNGs of 40x48 pixels (not square, not 32: resized and cropped), straight in ``root``."""
    from torchvision.io import write_png

    root.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        image = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8, generator=g)
        write_png(image, str(root / f"img_{i:03d}.png"))
    return root


def test_the_cpu_folder_config_is_a_cpu_config():
    """The config trains DCGAN nets at 32 px on the CPU from a folder of images (not the ResNet GPU job)."""
    config = yaml.safe_load(CONFIG.read_text())
    assert config["trainer"]["accelerator"] == "cpu"
    assert config["data"]["class_path"] == "lightning_gans.ImageDataModule"
    assert config["data"]["init_args"]["dataset"] == "folder" and config["data"]["init_args"]["image_size"] == 32
    for net in ("generator", "critic"):
        assert config["model"]["init_args"][net]["class_path"].startswith("lightning_gans.nets.DCGAN")


def test_flat_folder_trains_then_evaluates(tmp_path):
    """fit (12 batches = 2 generator steps) on a flat folder exits 0 with a last.ckpt; evaluate --real FOLDER exits 0
    with a finite FID of 40 generated against the 40 real images."""
    import os
    import subprocess

    images = _flat_folder(tmp_path / "my_images")
    config = yaml.safe_load(CONFIG.read_text())
    proc = fit(
        tmp_path,
        config,
        "--data.init_args.root",
        str(images),
        "--data.init_args.batch_size",
        "8",
        "--trainer.max_steps",
        "12",
        "--trainer.enable_progress_bar",
        "false",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (last,) = (tmp_path / "run").glob("**/last.ckpt")
    assert counters(last) == (12, 2)

    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [console_script(), "evaluate", "--ckpt_path", str(last), "--real", str(images)]
    cmd += ["--feature_extractor", "digits", "--num_samples", "40", "--json", "-", "--no_cache"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert result["settings"]["n_real"] == 40 and result["settings"]["n_fake"] == 40
    assert 0.0 < result["metrics"]["fid"] < float("inf")
