"""W&B offline: the example config's run writes metrics, images, hyper-parameters and the CLI config.

wandb 0.31 ships no reader for its run files, so ``_read_records`` parses the ``run-*.wandb`` log:
a 7-byte header starting ``:W&B``, then 32 KiB blocks of chunks each with a 7-byte header (crc32,
little-endian length, type full=1/first=2/middle=3/last=4) whose payloads are
``wandb.proto.wandb_internal_pb2.Record`` protobufs.
"""

from __future__ import annotations

import glob
import json
import struct
import time
import zlib
from pathlib import Path

import pytest
import torch

wandb = pytest.importorskip("wandb")

from lightning.pytorch import LightningDataModule  # noqa: E402
from lightning.pytorch.cli import LightningCLI  # noqa: E402
from lightning.pytorch.loggers import WandbLogger  # noqa: E402

from lightning_gans import GAN  # noqa: E402
from lightning_gans.callbacks import LoggerSaveConfigCallback, SampleLogger  # noqa: E402
from lightning_gans.data import DigitsDataModule  # noqa: E402
from lightning_gans.modules import AdversarialModule  # noqa: E402
from lightning_gans.nets import DCGANCritic, DCGANGenerator  # noqa: E402
from tests.conftest import trainer_kwargs  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wgangp_8gaussians_wandb.yaml"
_BLOCK = 32 * 1024


def _read_records(path: str) -> list:
    """All records of a ``.wandb`` file, CRC-checked, as ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if _BLOCK - pos % _BLOCK < 7:  # block trailer too short for a header: padding
            pos += _BLOCK - pos % _BLOCK
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:  # zero padding to the end of the block
            pos += _BLOCK - pos % _BLOCK
            continue
        payload = data[pos + 7 : pos + 7 + length]
        assert zlib.crc32(bytes([kind]) + payload) & 0xFFFFFFFF == crc, f"bad CRC at byte {pos}"
        pos += 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _run_dir(save_dir: Path) -> Path:
    (run,) = glob.glob(str(save_dir / "wandb" / "offline-run-*"))
    return Path(run)


def _finished_records(run: Path, timeout: float = 30.0) -> list:
    """The run's records once its ``exit`` record is on disk (wandb's service process may still be flushing)."""
    (path,) = run.glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        records = _read_records(str(path))
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _history(records) -> list[dict]:
    rows = []
    for r in records:
        if r.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item})
    return rows


def _config(records) -> dict:
    config = {}
    for r in records:
        if r.WhichOneof("record_type") == "config":
            for item in r.config.update:
                config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return config


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield
    wandb.finish()


def test_example_config_logs_metrics_images_and_cli_config(tmp_path, offline, monkeypatch):
    """The W&B example (shortened) logs all train/ metrics with generator_step = (step + 1) // 6, ToyPlot images and the CLI config."""
    monkeypatch.setattr("sys.argv", ["lightning-gans"])
    LightningCLI(
        AdversarialModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=LoggerSaveConfigCallback,
        save_config_kwargs={"overwrite": True},
        args=[
            "fit",
            "--config",
            str(EXAMPLE),
            "--trainer.max_steps=36",
            "--trainer.log_every_n_steps=5",
            "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.logger.init_args.offline=true",
            "--trainer.callbacks.init_args.every_n_generator_steps=3",
            "--trainer.callbacks.init_args.resolution=20",
            "--trainer.callbacks.init_args.num_samples=64",
            "--model.init_args.generator.init_args.hidden_dim=16",
            "--model.init_args.critic.init_args.hidden_dim=16",
            "--data.init_args.batch_size=32",
            "--data.init_args.batches_per_epoch=50",
        ],
    )
    wandb.finish()
    run = _run_dir(tmp_path)
    records = _finished_records(run)
    rows = _history(records)

    metric_rows = [r for r in rows if "train/critic_loss" in r]
    assert [r["trainer/global_step"] for r in metric_rows] == [4, 9, 14, 19, 24, 29, 34]  # every 5th batch
    for row in metric_rows:
        # n_critic=5: 6 batches per generator step; the row of batch index s has seen s + 1 batches.
        # generator_step is logged at generator updates, so it is absent only before the first one.
        expected = (row["trainer/global_step"] + 1) // 6
        assert row.get("train/generator_step") == (expected or None)
        assert {"train/wasserstein_estimate", "train/gradient_penalty"} <= row.keys()
        assert row["train/wasserstein_estimate"] == pytest.approx(-row["train/critic_loss"])
    assert any("train/generator_loss" in r for r in metric_rows)

    image_rows = [r for r in rows if "toy/_type" in r]  # generator steps 3 and 6 = batches 18 and 36
    assert [r["trainer/global_step"] for r in image_rows] == [18, 36]
    assert all(r["toy/_type"] == "images/separated" for r in image_rows)
    assert [r["toy/captions"] for r in image_rows] == [["generator step 3"], ["generator step 6"]]
    for r in image_rows:
        (name,) = r["toy/filenames"]
        assert (run / "files" / name).stat().st_size > 0
    assert len(list((run / "files" / "media" / "images").glob("toy_*.png"))) == 2

    config = _config(records)
    assert config["n_critic"] == 5 and config["gp_weight"] == 0.1  # module hyper-parameters (init args)
    assert config["dataset"] == "8gaussians"  # datamodule hyper-parameters
    cli = config["cli"]  # the whole CLI config, from LoggerSaveConfigCallback
    assert cli["trainer"]["max_steps"] == 36 and cli["seed_everything"] == 0
    assert cli["model"]["class_path"] == "lightning_gans.WGANGP"


def test_sample_grids_reach_wandb(tmp_path, offline):
    """SampleLogger grids land in the offline run as W&B images of the grid's size, captioned with the generator step."""
    torch.manual_seed(0)
    model = GAN(
        DCGANGenerator(latent_dim=8, image_size=8, channels=1, base_channels=8),
        DCGANCritic(image_size=8, channels=1, base_channels=8),
        latent_dim=8,
        noise_seed=0,
    )
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="tests")
    cb = SampleLogger(every_n_generator_steps=2, num_samples=16, nrow=4)
    from lightning.pytorch import Trainer

    Trainer(**trainer_kwargs(max_steps=8, logger=logger, log_every_n_steps=2, callbacks=[cb])).fit(
        model, DigitsDataModule(batch_size=16)
    )
    wandb.finish()
    run = _run_dir(tmp_path)
    rows = _history(_finished_records(run))
    image_rows = [r for r in rows if "samples/_type" in r]
    assert [r["trainer/global_step"] for r in image_rows] == [4, 8]
    assert all(
        r["samples/width"] == r["samples/height"] == 4 * (8 * 8 + 2) + 2 for r in image_rows
    )  # 8x8 images upscaled x8 to >= 256 px
    assert [r["samples/captions"] for r in image_rows] == [["generator step 2"], ["generator step 4"]]
    for r in image_rows:
        (name,) = r["samples/filenames"]
        assert (run / "files" / name).is_file()
    assert all(sent == ["WandbLogger"] for _, sent in cb.history)
    assert not glob.glob(str(tmp_path / "**" / "samples_g*.png"), recursive=True)  # no PNG fallback
