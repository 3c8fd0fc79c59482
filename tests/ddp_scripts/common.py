"""Small models and data shared by the DDP scripts and the tests that compare against them.

Everything here is deterministic given ``(seed, world_size, rank)`` so that a 2-process run and a
1-process run can be made to see exactly the same noise and data.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_gans import GAN, WGANGP
from lightning_gans import penalties as P
from lightning_gans.nets import MLPCritic, MLPGenerator


class GlobalBatches(Dataset):
    """Item ``t`` is rank ``r``'s slice of global batch ``t``: ``data[t, r*B/W:(r+1)*B/W]``."""

    def __init__(self, steps: int, global_batch: int, rank: int, world_size: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        data = torch.randn(steps, global_batch, 2, generator=g) * 0.5 + torch.tensor([1.0, -1.0])
        per = global_batch // world_size
        self.data = data[:, rank * per : (rank + 1) * per]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, t: int) -> Tensor:
        return self.data[t]


class GlobalBatchData(LightningDataModule):
    """Rank-sliced global batches in a fixed order (use with ``use_distributed_sampler=False``)."""

    def __init__(self, steps: int, global_batch: int, seed: int = 0) -> None:
        super().__init__()
        self.steps, self.global_batch, self.seed = steps, global_batch, seed

    def train_dataloader(self) -> DataLoader:
        t = self.trainer
        return DataLoader(GlobalBatches(self.steps, self.global_batch, t.global_rank, t.world_size, self.seed), batch_size=None)


class _GlobalNoise:
    """Noise and interpolation weights drawn for the *global* batch and sliced by rank."""

    global_batch: int

    def _slice(self, values: Tensor) -> Tensor:
        per = self.global_batch // self.trainer.world_size
        r = self.trainer.global_rank
        return values[r * per : (r + 1) * per].to(self.device)

    def _global_rng(self) -> torch.Generator:
        step = self.critic_steps + self.generator_steps
        return torch.Generator().manual_seed(1000 + step)

    def sample_noise(self, n, generator=None):
        if generator is None:  # sample() outside training
            return super().sample_noise(n)
        return self._slice(torch.randn(self.global_batch, self.latent_dim, generator=self._global_rng()))


def global_gradient_penalty(critic, real, fake, labels, rng, scale):
    """WGAN-GP penalty whose interpolation weights come from the rank-independent global stream."""
    module = critic.module
    g = module._global_rng()
    torch.randn(module.global_batch, module.latent_dim, generator=g)  # advance past the noise draw
    alpha = module._slice(torch.rand(module.global_batch, 1, generator=g))
    x_hat = alpha * real + (1 - alpha) * fake
    return (P.gradient_norms(P.input_gradients(critic, x_hat, scale)) - 1.0).pow(2).mean()


class ParityGAN(_GlobalNoise, GAN):
    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2), MLPCritic(hidden_dim=32, num_layers=2), latent_dim=4, noise_seed=seed)
        self.global_batch = global_batch


class ParityWGANGP(_GlobalNoise, WGANGP):
    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2), MLPCritic(hidden_dim=32, num_layers=2), latent_dim=4, n_critic=2, noise_seed=seed)
        self.global_batch = global_batch
        self.penalty = global_gradient_penalty
