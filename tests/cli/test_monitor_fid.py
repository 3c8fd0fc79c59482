"""EarlyStopping and ModelCheckpoint monitoring `eval/fid` act on exactly the evaluations of GANMetrics, the final
one included, through `lightning-gans fit` (console script, subprocess; digits, the digits extractor, tiny nets)."""

from __future__ import annotations

import csv
import glob
from pathlib import Path

import pytest
import torch

from tests.cli.test_checkpoints import counters, fit

TINY_DIGITS = {
    "seed_everything": 0,
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "enable_model_summary": False,
        "enable_progress_bar": False,
        "log_every_n_steps": 2,
    },
    "model": {
        "class_path": "lightning_gans.GAN",
        "init_args": {
            "latent_dim": 8,
            "generator": {
                "class_path": "lightning_gans.nets.DCGANGenerator",
                "init_args": {"latent_dim": 8, "image_size": 8, "channels": 1, "base_channels": 8},
            },
            "critic": {
                "class_path": "lightning_gans.nets.DCGANCritic",
                "init_args": {"image_size": 8, "channels": 1, "base_channels": 8, "norm": "layer"},
            },
        },
    },
    "data": {"class_path": "lightning_gans.DigitsDataModule", "init_args": {"batch_size": 32, "image_size": 8}},
}


def _config(tmp_path: Path, every: int, callbacks: list[dict]) -> dict:
    config = {**TINY_DIGITS, "trainer": {**TINY_DIGITS["trainer"]}}
    metrics = {
        "class_path": "lightning_gans.callbacks.GANMetrics",
        "init_args": {
            "feature_extractor": "digits",
            "metrics": ["fid"],
            "num_samples": 128,
            "every_n_epochs": None,
            "every_n_generator_steps": every,
            "data_range": [-1.0, 1.0],
            "cache": False,
        },
    }
    config["trainer"]["callbacks"] = [metrics, *callbacks]
    config["trainer"]["logger"] = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(tmp_path / "logs")},
    }
    return config


def _checkpoint(tmp_path: Path, **init_args) -> dict:
    init_args = {
        "dirpath": str(tmp_path / "ckpts"),
        "monitor": "eval/fid",
        "mode": "min",
        "save_top_k": -1,
        "filename": "step{step}",
        "auto_insert_metric_name": False,
        "save_on_train_epoch_end": False,
        **init_args,
    }
    return {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": init_args}


def _logged_fids(tmp_path: Path) -> dict[int, float]:
    (path,) = glob.glob(str(tmp_path / "logs" / "**" / "metrics.csv"), recursive=True)
    with open(path, newline="") as f:
        return {int(r["step"]): float(r["eval/fid"]) for r in csv.DictReader(f) if r.get("eval/fid")}


def test_model_checkpoint_ranks_every_evaluation_and_the_final_one(tmp_path):
    """GAN (2 batches a generator step), 10 generator steps, FID every 3: checkpoints at global steps 6, 12, 18 and 20 (the
    end), each with its own FID as score, and best_model_path is the lowest."""
    config = _config(tmp_path, 3, [_checkpoint(tmp_path)])
    proc = fit(tmp_path, config, "--trainer.max_steps", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    fids = _logged_fids(tmp_path)
    assert sorted(fids) == [6, 12, 18, 20]
    ckpts = tmp_path / "ckpts"
    assert sorted(p.name for p in ckpts.iterdir()) == ["step12.ckpt", "step18.ckpt", "step20.ckpt", "step6.ckpt"]
    last = torch.load(ckpts / "step20.ckpt", weights_only=False)
    (state,) = [v for k, v in last["callbacks"].items() if k.startswith("ModelCheckpoint")]
    scores = {Path(path).name: float(score) for path, score in state["best_k_models"].items()}
    assert scores == pytest.approx({f"step{step}.ckpt": fid for step, fid in fids.items()}, rel=1e-6)  # float32 scores
    assert Path(state["best_model_path"]).name == f"step{min(fids, key=fids.get)}.ckpt"
    for step in fids:
        assert counters(ckpts / f"step{step}.ckpt") == (step, step // 2)
    assert proc.stdout.count("GANMetrics at ") == 4  # one line per evaluation


def test_early_stopping_acts_on_evaluations_only(tmp_path):
    """EarlyStopping(patience=2) that sees no improvement after the first FID: stops right after the third evaluation
    (generator step 6 of 10), never at the epoch ends (digits: 56 batches an epoch) in between."""
    early_stopping = {
        "class_path": "lightning.pytorch.callbacks.EarlyStopping",
        "init_args": {
            "monitor": "eval/fid",
            "mode": "min",
            "patience": 2,
            "min_delta": 1.0e6,  # no later FID counts as an improvement
            "check_on_train_epoch_end": False,
        },
    }
    config = _config(tmp_path, 2, [early_stopping, _checkpoint(tmp_path)])
    proc = fit(tmp_path, config, "--trainer.max_steps", "200")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(_logged_fids(tmp_path)) == [4, 8, 12]
    assert sorted(p.name for p in (tmp_path / "ckpts").iterdir()) == ["step12.ckpt", "step4.ckpt", "step8.ckpt"]
