"""The module's own noise: fresh latents and interpolation weights at every update, a pure function of the seed.

Nothing is replaced: forward pre-hooks on the generator and critic networks
(``tests/distributed/scripts/common.py::NoiseRecorder``) record the latents that ``generate(z, labels)`` passes
to the generator and the interpolates the real gradient penalty passes to the critic, from which the
interpolation weights are recovered. The same recorder runs on 2 DDP ranks in tests/distributed/test_ddp.py.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "distributed" / "scripts"))
from common import NoiseRecorder

pytestmark = pytest.mark.usefixtures("one_thread")

UPDATES = 9  # n_critic=2: critic updates 0, 1, 3, 4, 6, 7; generator updates 2, 5, 8


def _recorded_run(noise_seed: int = 0) -> NoiseRecorder:
    torch.manual_seed(0)
    module = WGANGP(
        MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=1),
        MLPCritic(hidden_dim=16, num_layers=1),
        latent_dim=2,
        n_critic=2,
        noise_seed=noise_seed,
    )
    recorder = NoiseRecorder(module)
    Trainer(**trainer_kwargs(max_steps=UPDATES)).fit(module, ToyDataModule(batch_size=32, batches_per_epoch=20, seed=0))
    return recorder


@pytest.fixture(scope="module")
def recorded() -> NoiseRecorder:
    return _recorded_run()


def test_latents_are_fresh_at_every_update(recorded):
    """Every update (critic and generator) draws its own latents: no update reuses another's, none equal."""
    latents = recorded.latents
    assert sorted(latents) == list(range(UPDATES))
    assert all(z.shape == (32, 2) for z in latents.values())
    for s, t in itertools.combinations(range(UPDATES), 2):
        assert not torch.isclose(latents[s], latents[t]).any(), (s, t)  # not a single value in common
    pooled = torch.cat(list(latents.values()))
    assert abs(pooled.mean().item()) < 0.15 and 0.85 < pooled.std().item() < 1.15  # standard normal prior


def test_interpolation_weights_are_fresh_per_update_and_per_sample(recorded):
    """Each critic update interpolates with its own weights, one U[0, 1] weight per sample."""
    alphas = recorded.alphas()
    assert sorted(alphas) == [0, 1, 3, 4, 6, 7]  # every critic update, no generator update
    for a in alphas.values():
        assert a.shape == (32,) and (a >= -1e-4).all() and (a <= 1 + 1e-4).all() and a.std() > 0.15
    for s, t in itertools.combinations(alphas, 2):
        assert (alphas[s] - alphas[t]).abs().max() > 0.1, (s, t)


def test_noise_is_a_function_of_the_seed(recorded):
    """The same noise_seed draws the same latents and weights; another seed draws others."""
    first, again, other = recorded, _recorded_run(noise_seed=0), _recorded_run(noise_seed=1)
    for t in range(UPDATES):
        assert torch.equal(first.latents[t], again.latents[t])
        assert not torch.isclose(first.latents[t], other.latents[t]).any()
    assert all(torch.equal(a, again.alphas()[t]) for t, a in first.alphas().items())
