"""``Trainer(strategy="ddp", devices=2)`` on CPU from LitData shards: straight, then checkpoint + resume.

    python stream_ddp.py OUT SHARDS

Lightning re-executes this script for rank 1. Three fits in one process group: 8 batches straight; 3 batches
with a checkpoint; a resume from it to 8. Each rank saves the batches it saw and its weights per phase to
``OUT/<phase>_rank<r>.pt``. 40 images, 2 ranks, batch 4: 5 batches per rank per epoch, so the resume at batch 3
is mid-epoch and crosses into epoch 2. Two loader workers per rank: LitData splits each rank's chunks over them.
"""

from __future__ import annotations

import sys

import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import WGANGP
from lightning_gans.data import StreamingImageDataModule
from lightning_gans.nets import DCGANCritic, DCGANGenerator


class _Record(Callback):
    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []
        self.epochs: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(batch[0].clone())
        self.epochs.append(trainer.current_epoch)


def _fit(out: str, shards: str, phase: str, max_steps: int, checkpoint=None, ckpt_path=None) -> None:
    torch.manual_seed(0)
    module = WGANGP(
        DCGANGenerator(latent_dim=4, image_size=8, channels=3, base_channels=4),
        DCGANCritic(image_size=8, channels=3, base_channels=4, norm="layer"),
        latent_dim=4,
        n_critic=2,
        noise_seed=5,
    )
    record = _Record()
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=checkpoint is not None,
        callbacks=[record, *([checkpoint] if checkpoint is not None else [])],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    dm = StreamingImageDataModule(shards, image_size=8, batch_size=4, seed=3, num_workers=2)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    torch.save(
        {
            "seen": record.seen,
            "epochs": record.epochs,
            "state_dict": module.state_dict(),
            "world_size": trainer.world_size,
        },
        f"{out}/{phase}_rank{trainer.global_rank}.pt",
    )


def main(out: str, shards: str) -> None:
    torch.set_num_threads(1)
    _fit(out, shards, "straight", 8)
    ckpt = ModelCheckpoint(dirpath=out, every_n_train_steps=3, save_top_k=-1, filename="{step}")
    _fit(out, shards, "first", 3, checkpoint=ckpt)
    _fit(out, shards, "resumed", 8, ckpt_path=f"{out}/step=3.ckpt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
