"""AdaptiveAugment under ``Trainer(strategy="ddp", devices=2)`` on CPU: every rank must end with the same ``p``.

Run by tests/callbacks/test_augment.py as a subprocess (``strategy="ddp"`` re-executes this script
for rank 1):

    python tests/distributed/scripts/ada_ddp.py OUT_DIR

The critic scores every sample +1 on rank 0 and -1 on rank 1, so the global r_t is 0. With
``target=-0.5`` the all-reduced statistic says "raise p" on both ranks; rank 1 alone (r_t = -1)
would keep p at 0 and rank 0 alone would raise it too, so equal, positive p on both ranks shows
the statistic was summed across ranks. Writes ``OUT_DIR/ada_rank<r>.pt``.
"""

from __future__ import annotations

import os
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from lightning.pytorch import Trainer  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from lightning_gans import GAN  # noqa: E402
from lightning_gans.callbacks import AdaptiveAugment  # noqa: E402

BATCH, INTERVAL, SPEED_KIMG, STEPS = 8, 2, 0.4, 12  # 6 critic updates per rank = 3 adjustments


class RankSignCritic(nn.Module):
    """Scores +1 on global rank 0 and -1 elsewhere, whatever the image (a parameter keeps optimizers happy)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sign = 1.0 if torch.distributed.get_rank() == 0 else -1.0
        return sign * (1.0 + self.w.abs()) + 0.0 * x.flatten(1).sum(1)


def main(out: str) -> None:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    module = GAN(generator, RankSignCritic(), latent_dim=4, noise_seed=0)
    ada = AdaptiveAugment(target=-0.5, interval=INTERVAL, speed_kimg=SPEED_KIMG)
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=STEPS,
        callbacks=[ada],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    data = TensorDataset(torch.rand(64, 1, 8, 8) * 2 - 1)
    trainer.fit(module, DataLoader(data, batch_size=BATCH, drop_last=True))
    torch.save(
        {"p": ada.p, "rt": ada.rt, "critic_steps": module.critic_steps},
        os.path.join(out, f"ada_rank{trainer.global_rank}.pt"),
    )


if __name__ == "__main__":
    main(sys.argv[1])
