from functools import partial

import torch
from lightning.pytorch import Trainer

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.nets import MLPCritic, MLPGenerator

# The WGAN-GP authors' toy settings (gan_toy.py: gp_weight 0.1, Adam betas (0.5, 0.9)) on 3 x 128 nets with
# lr 1e-3 and averaged weights: 8/8 modes in 1,000 generator steps (~25 s on one CPU core). The defaults,
# WGANGP(generator=MLPGenerator(latent_dim=2), critic=MLPCritic(), latent_dim=2), are Algorithm 1's
# (lambda 10, Adam 1e-4, betas (0, 0.9), width 512): they cover 0/8 modes at this budget.
adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.9))
model = WGANGP(
    generator=MLPGenerator(latent_dim=2, hidden_dim=128),
    critic=MLPCritic(hidden_dim=128),
    latent_dim=2,
    gp_weight=0.1,
    generator_optimizer=adam,
    critic_optimizer=adam,
)
trainer = Trainer(max_steps=6_000, callbacks=[GeneratorEMA(0.99)])  # 1,000 generator steps x (n_critic 5 + 1)
trainer.fit(model, ToyDataModule("8gaussians"))
samples = model.sample(1000)  # no grad, eval mode, EMA if enabled
