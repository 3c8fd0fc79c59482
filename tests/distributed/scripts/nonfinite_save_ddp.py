"""Two DDP ranks whose weights turn NaN, then a checkpoint is due: ``python nonfinite_save_ddp.py CKPT_DIR``.

Run by tests/distributed/test_ddp.py. Without DivergenceGuard, a callback writes NaN into a generator bias on
every rank after global step 3 (as a diverged update would: DDP keeps the ranks' weights
equal), and ``ModelCheckpoint(every_n_train_steps=4)`` is then due. Every rank must stop with the
refusal; none may wait at the checkpoint barrier for a rank that stopped.
"""

from __future__ import annotations

import math
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from lightning.pytorch import Callback, Trainer, seed_everything  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402

from lightning_gans import GAN, ToyDataModule  # noqa: E402
from lightning_gans.nets import MLPCritic, MLPGenerator  # noqa: E402


class PoisonAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.generator.net[0].bias[0] = math.nan


if __name__ == "__main__":
    seed_everything(0)
    module = GAN(
        MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2),
        MLPCritic(hidden_dim=16, num_layers=2),
        latent_dim=2,
        noise_seed=0,
    )
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=20,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[PoisonAt(3), ModelCheckpoint(dirpath=sys.argv[1], every_n_train_steps=4)],
    )
    trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=8, seed=0))
    print(f"rank {trainer.global_rank}: fit returned", flush=True)
