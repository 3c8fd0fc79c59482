"""lightning_gans.protocol: the helpers callbacks use to talk to a module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_gans import WGANGP
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.protocol import AdversarialProtocol, require, scores_per_sample, split_batch


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


def test_protocol_helpers():
    x, y = torch.zeros(3, 2), torch.arange(3)
    assert split_batch(x) == (x, None)
    assert split_batch([x])[1] is None and split_batch((x, y))[1] is y
    with pytest.raises(TypeError, match="`batch`"):
        split_batch({"x": x})
    assert scores_per_sample(torch.zeros(3, 1), 3).shape == (3,)
    with pytest.raises(ValueError, match="`critic` must return one score per sample"):
        scores_per_sample(torch.zeros(3, 2), 3)
    members = [n for n in dir(AdversarialProtocol) if not n.startswith("_")] + list(AdversarialProtocol.__annotations__)
    model = WGANGP(*_nets(), latent_dim=2)
    assert [
        n for n in members if not (hasattr(WGANGP, n) or n in vars(model) or n in dict(model.named_children()))
    ] == []
    with pytest.raises(TypeError, match="`SampleLogger` needs a module with `sample`, `generator_steps`"):
        require(nn.Linear(1, 1), "SampleLogger", "sample", "generator_steps")
