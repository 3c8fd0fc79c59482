"""Labels of conditional modules: they reach both networks unchanged, are checked, and are refused when missing."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import WGANGP
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def _toy_loader(n=64, batch_size=8, labels=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    tensors = (x, torch.randint(3, (n,), generator=g)) if labels else (x,)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=False, drop_last=True)


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


class _LabelledGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.seen = []

    def forward(self, z, labels):
        self.seen.append(labels.clone())
        return self.lin(z) + labels[:, None].float()


class _LabelledCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.seen = []

    def forward(self, x, labels):
        self.seen.append(labels.clone())
        return self.lin(x).squeeze(1) + 0.1 * labels.float()


def test_conditional_labels_reach_both_networks_unchanged(one_thread):
    """Each batch's labels go to the generator (fakes paired with them) and to the critic for real, fake and penalty."""
    loader = _toy_loader(labels=True)
    batches = [y for _, y in loader]
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, n_critic=1, num_classes=3, noise_seed=0)
    Trainer(max_steps=4, **trainer_kwargs()).fit(model, loader)
    # critic update (batch 0): G once, D real + fake + penalty; generator update (batch 1): G once, D once
    assert [t.tolist() for t in g.seen] == [batches[i].tolist() for i in range(4)]
    expected_critic = [batches[0]] * 3 + [batches[1]] + [batches[2]] * 3 + [batches[3]]
    assert [t.tolist() for t in d.seen] == [t.tolist() for t in expected_critic]


def test_conditional_sample_takes_labels_and_rejects_bad_ones():
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, num_classes=3)
    model.sample(4, labels=2)
    assert g.seen[-1].tolist() == [2, 2, 2, 2]
    model.sample(3, labels=torch.tensor([0, 1, 2]))
    assert g.seen[-1].tolist() == [0, 1, 2]
    drawn = model.sample(500, rng=torch.Generator().manual_seed(0))
    assert drawn.shape == (500, 2) and set(g.seen[-1].tolist()) == {0, 1, 2}  # uniform by default
    for bad, match in (
        (3, r"\[0, 3\)"),
        (-1, r"\[0, 3\)"),
        (torch.tensor([0.5, 1.0]), "integer"),
        (torch.tensor([0, 1, 2]), r"shape \(2,\)"),
    ):
        with pytest.raises(
            ValueError,
            match="`labels`.*" + match if isinstance(bad, torch.Tensor) and bad.dtype.is_floating_point else "`labels`",
        ):
            model.sample(2, labels=bad)
    unconditional = WGANGP(*_nets(), latent_dim=2)
    with pytest.raises(ValueError, match="`labels` given, but this module is unconditional"):
        unconditional.sample(2, labels=1)


def test_conditional_module_refuses_unlabelled_batches_before_any_update(one_thread):
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, num_classes=3)
    with pytest.raises(ValueError, match="`labels` are required: this module is conditional"):
        Trainer(max_steps=2, **trainer_kwargs()).fit(model, _toy_loader())
    assert model.critic_steps == 0 and g.seen == []


def test_unconditional_module_ignores_labels_in_batches(one_thread):
    """A labelled dataset trains an unconditional module exactly as the same data without labels."""
    runs = []
    for labels in (False, True):
        torch.manual_seed(0)
        model = WGANGP(*_nets(), latent_dim=2, noise_seed=0)
        Trainer(max_steps=6, **trainer_kwargs()).fit(model, _toy_loader(labels=labels))
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])
