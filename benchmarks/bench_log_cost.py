"""What one ``self.log`` call and Lightning's bare per-batch loop cost, in CPU time.

A manual-optimisation module with no computation (its ``training_step`` only calls ``self.log``
``k`` times) runs 2,000 batches of a trivial loader for k = 0 and k = 4, alternating. The k = 0
time is Lightning's per-batch loop cost (fetch, hooks, progress tracking); the difference divided
by 4 is the cost of one ``self.log`` call. This explains most of the gap of the toy throughput
benchmark (WGAN-GP logs 3 values per critic update and 2 per generator update).

    python benchmarks/bench_log_cost.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet

BATCHES, WARMUP = 2000, 100


class _LogOnly(L.LightningModule):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.automatic_optimization = False
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx) -> None:
        for j in range(self.k):
            self.log(f"train/m{j}", 0.5)

    def configure_optimizers(self):
        return torch.optim.SGD(self.layer.parameters(), lr=0.0)


class _CPUWindow(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == WARMUP:
            self.t0 = time.process_time()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = time.process_time() - self.t0


def per_batch_us(k: int) -> float:
    window = _CPUWindow()
    loader = torch.utils.data.DataLoader(torch.zeros(WARMUP + BATCHES, 2), batch_size=1)
    L.Trainer(
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[window],
    ).fit(_LogOnly(k), loader)
    return 1e6 * window.seconds / BATCHES


def main() -> None:
    quiet()
    bare, logged = [], []
    for _ in range(3):
        bare.append(per_batch_us(0))
        logged.append(per_batch_us(4))
    b, lg = statistics.median(bare), statistics.median(logged)
    print(f"# machine: {machine()}")
    print("| Lightning per-batch loop, no work (µs CPU) | one `self.log` call (µs CPU) |")
    print("|---|---|")
    print(f"| {b:.0f} | {(lg - b) / 4:.0f} |")


if __name__ == "__main__":
    main()
