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
        return DataLoader(
            GlobalBatches(self.steps, self.global_batch, t.global_rank, t.world_size, self.seed), batch_size=None
        )


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

    def sample_noise(self, n, rng=None):
        if rng is None:  # sample() outside training
            return super().sample_noise(n)
        return self._slice(torch.randn(self.global_batch, self.latent_dim, generator=self._global_rng()))


def global_gradient_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
    """WGAN-GP penalty whose interpolation weights come from the rank-independent global stream."""
    module = critic.module
    g = module._global_rng()
    torch.randn(module.global_batch, module.latent_dim, generator=g)  # advance past the noise draw
    alpha = module._slice(torch.rand(module.global_batch, 1, generator=g))
    x_hat = alpha * real + (1 - alpha) * fake
    return (P.gradient_norms(P.input_gradients(critic, x_hat, grad_scale)) - 1.0).pow(2).mean()


class ParityGAN(_GlobalNoise, GAN):
    def __init__(self, global_batch: int, seed: int = 0, updates_per_batch: str = "one") -> None:
        torch.manual_seed(seed)
        super().__init__(
            MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2),
            MLPCritic(hidden_dim=32, num_layers=2),
            latent_dim=4,
            noise_seed=seed,
            updates_per_batch=updates_per_batch,
        )
        self.global_batch = global_batch


class ParityWGANGP(_GlobalNoise, WGANGP):
    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(
            MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2),
            MLPCritic(hidden_dim=32, num_layers=2),
            latent_dim=4,
            n_critic=2,
            noise_seed=seed,
        )
        self.global_batch = global_batch
        self.penalty = global_gradient_penalty


class NoiseRecorder:
    """Records what a module's real noise and penalty feed the networks, without replacing anything.

    Forward pre-hooks on ``module.generator`` and ``module.critic`` keep, per update index
    ``t = critic_steps + generator_steps`` (the counters advance after each update), the latents the
    generator got and every input the critic got. In a gradient-penalty critic update the critic sees
    the real batch, the fake batch and then the interpolates, from which the interpolation weights are
    recovered as ``alpha = (xhat - fake) / (real - fake)``.
    """

    def __init__(self, module) -> None:
        self.module = module
        self.latents: dict[int, Tensor] = {}
        self.critic_inputs: dict[int, list[Tensor]] = {}
        module.generator.register_forward_pre_hook(self._on_generator)
        module.critic.register_forward_pre_hook(self._on_critic)

    def _update(self) -> int:
        return self.module.critic_steps + self.module.generator_steps

    def _on_generator(self, net, args) -> None:
        if self.module.training and self._update() not in self.latents:  # the training call, not sample()
            self.latents[self._update()] = args[0].detach().cpu().clone()

    def _on_critic(self, net, args) -> None:
        if not self.module.training:
            return
        x, inputs = args[0].detach().cpu().clone(), self.critic_inputs.setdefault(self._update(), [])
        m = self.module
        fused = m._fuse_critic and m.critic_steps > 0 and m._cycle_position < m.n_critic and not inputs
        inputs.extend(x.chunk(2) if fused else [x])  # a fused critic update scores cat([real, fake]) in one call

    def alphas(self) -> dict[int, Tensor]:
        """Per critic update with a penalty: the interpolation weight of each sample, shape ``(N,)``."""
        out = {}
        for t, inputs in self.critic_inputs.items():
            if len(inputs) == 3:  # real, fake, interpolates
                real, fake, x_hat = inputs
                ratio = ((x_hat - fake) / (real - fake)).flatten(1)
                assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-3), "not on the real-fake segment"
                out[t] = ratio[:, 0]
        return out
