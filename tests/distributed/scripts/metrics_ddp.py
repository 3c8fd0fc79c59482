"""GANMetrics on 1 or 2 CPU processes: ``python metrics_ddp.py DEVICES OUT_DIR CACHE_DIR``.

The module's generator is frozen (no parameter is trained), so a 1-process and a 2-process run
evaluate the same samples. Each rank writes ``OUT_DIR/rank<r>.json`` with the metrics it holds;
only rank 0 has a logger that writes (Lightning's loggers are rank-zero-only).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import DDPStrategy
from torch import nn

from lightning_gans import DigitsDataModule
from lightning_gans.callbacks import GANMetrics
from lightning_gans.nets import DCGANGenerator


class FrozenGenerator(LightningModule):
    """A fixed random DCGAN generator; training only moves an unrelated linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.generator = DCGANGenerator(latent_dim=16, image_size=8, channels=1, base_channels=16).requires_grad_(False)
        self.head = nn.Linear(64, 1)

    def sample_noise(self, n, rng=None):
        return torch.randn(n, 16, generator=rng, device=self.device)

    def sample(self, n, noise=None, rng=None):
        self.generator.eval()
        return self.generator(noise if noise is not None else self.sample_noise(n, rng))

    def training_step(self, batch, batch_idx):
        return self.head(batch[0].flatten(1)).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.head.parameters(), lr=0.01)


def main(devices: int, out_dir: str, cache_dir: str) -> None:
    torch.set_num_threads(1)
    cb = GANMetrics(
        num_samples=300,
        feature_extractor="digits",
        every_n_epochs=None,
        at_train_end=True,
        cache_dir=cache_dir,
        kid_subsets=20,
        kid_subset_size=100,
    )
    strategy = DDPStrategy(timeout=timedelta(seconds=60)) if devices > 1 else "auto"
    trainer = Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        max_steps=2,
        logger=CSVLogger(out_dir),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[cb],
    )
    trainer.fit(FrozenGenerator(), DigitsDataModule(batch_size=32))
    with open(f"{out_dir}/rank{trainer.global_rank}.json", "w") as f:
        json.dump({"metrics": cb.last_metrics, "world_size": trainer.world_size}, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
