"""A user's own project: bring your networks, instantiate or subclass a module, train with any Trainer.

python examples/user_project.py            # trains two small models on the 8-Gaussians toy (~1 min on CPU)
"""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from lightning.pytorch import Trainer, seed_everything
from torch import Tensor, nn

from lightning_gans import GAN, WGANGP, ToyDataModule
from lightning_gans.data import TOY_DISTRIBUTIONS, mode_coverage


class Generator(nn.Module):
    """Any nn.Module mapping noise (N, latent_dim) to samples (N, *S)."""

    def __init__(self, latent_dim: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Critic(nn.Module):
    """Any nn.Module mapping samples (N, *S) to one logit per sample, (N,) or (N, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class RelativisticGAN(GAN):
    """A variant is one small subclass: here the relativistic average loss (Jolicoeur-Martineau 2018)."""

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # -E[log sigmoid(C(x) - E C(G(z)))] - E[log(1 - sigmoid(C(G(z)) - E C(x)))]
        sp = nn.functional.softplus
        return sp(-(real_scores - fake_scores.mean())).mean() + sp(fake_scores - real_scores.mean()).mean()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss = dataclasses.replace(self.loss, relativistic=True)  # the generator update scores the real batch too

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor) -> Tensor:
        sp = nn.functional.softplus
        return sp(-(fake_scores - real_scores.mean())).mean() + sp(real_scores - fake_scores.mean()).mean()


def main(generator_steps: int = 1000) -> None:
    seed_everything(0)
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    for model in (
        WGANGP(
            Generator(), Critic(), latent_dim=8, critic_optimizer=partial(torch.optim.Adam, lr=3e-4, betas=(0.0, 0.9))
        ),
        RelativisticGAN(Generator(), Critic(), latent_dim=8),
    ):
        trainer = Trainer(
            max_steps=generator_steps * (model.n_critic + 1),
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(model, ToyDataModule(batch_size=256))
        modes, quality = mode_coverage(model.sample(2000), toy.centers, toy.std)
        print(
            f"{type(model).__name__}: {model.generator_steps} generator steps, {modes}/8 modes, {quality:.1%} within 3 sigma"
        )


if __name__ == "__main__":
    main()
