"""Helpers for testing evaluation code offline: an image-tensor dataset and a random-weight Inception file.

No real Inception weights can be fetched on an offline machine. ``save_random_inception_weights``
writes a state dict in torch-fidelity's format with He-normal conv/fc weights and BatchNorm at
identity (torch-fidelity's untouched initial values give degenerate features), so the real loading
path (``feature_extractor_weights_path``) and the real network's cost can be exercised.
"""

from __future__ import annotations

from unittest import mock

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

__all__ = ["ImageTensorDataset", "save_random_inception_weights"]


class ImageTensorDataset(Dataset):
    """Items are the rows of one image tensor ``(N, C, H, W)`` (torch-fidelity takes such datasets)."""

    def __init__(self, images: Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


def save_random_inception_weights(path: str, seed: int = 0) -> str:
    """Write a random-weight Inception-v3 state dict in torch-fidelity's format to ``path`` and return it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        with (
            mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}),
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state_dict: None),
        ):
            net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=0.01)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight), nn.init.zeros_(m.bias), m.reset_running_stats()
    torch.save(net.state_dict(), path)
    return str(path)
