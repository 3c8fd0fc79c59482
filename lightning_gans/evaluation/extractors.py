"""Feature extractors: torch-fidelity's Inception-v3 (offline) and the embedded digits and MNIST classifiers.

Contract for any extractor (an ``nn.Module`` can replace Inception):

- ``forward(x)`` takes float32 images ``(N, in_channels, H, W)`` in [0, 1] and returns either
  ``features`` ``(N, D)`` or a tuple ``(features (N, D), logits (N, K))``. Features give FID and
  KID; logits (pre-softmax class scores) give IS, which is skipped when there are none.
- Optional attributes: ``in_channels`` (1 or 3; images are converted, default: passed as they are),
  ``num_features`` (D, so too-small sample counts are reported before training), ``name`` (a
  readable id recorded in the logged config and cache key; the weights' digest is always added),
  ``resize`` (how it resizes inputs, recorded in the logged config).
- It runs in eval mode under ``torch.no_grad``; it is kept by the callback, never by the module, so
  its weights stay out of checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from importlib import resources
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans.evaluation.mnist_classifier import MNISTClassifier

__all__ = [
    "EXTRACTORS",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "DigitsClassifier",
    "InceptionV3Extractor",
    "extractor_id",
    "resolve_inception_weights",
    "run_extractor",
]

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_WEIGHTS_FILE}"
DIGITS_WEIGHTS = "digits_classifier.pt"


def resolve_inception_weights(path: str | None = None) -> str:
    """Path of the Inception-v3 weights file, from ``path`` or the torch hub cache; never downloads.

    Raises:
        FileNotFoundError: naming the file, where to get it and the argument to set.
    """
    hub_path = os.path.join(torch.hub.get_dir(), "checkpoints", INCEPTION_WEIGHTS_FILE)
    candidate = path if path is not None else hub_path
    if os.path.isfile(candidate):
        return candidate
    where = (
        f"`feature_extractor_weights_path`={path!r} does not exist"
        if path is not None
        else f"{hub_path} does not exist"
    )
    raise FileNotFoundError(
        f"Inception-v3 weights for FID/IS/KID not found: {where}. Nothing is downloaded at run time. Get "
        f"{INCEPTION_WEIGHTS_FILE} from {INCEPTION_WEIGHTS_URL} (on a machine with internet) and either put it in "
        f"{os.path.dirname(hub_path)} or pass its path as `feature_extractor_weights_path`. "
        "Without Inception, use `feature_extractor='digits'` (8x8 digits), `'mnist'` (MNIST) or your own nn.Module."
    )


def _tf1_resize(x: Tensor, size: int) -> Tensor:
    """torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` (``align_corners=False``), bit for bit.

    The same lerps in the same order, but the horizontal pass runs on the input rows, before they are
    gathered: two full-size gathers and one full-size lerp instead of four and three (3x less work).
    """
    h, w = x.shape[-2:]

    def taps(n_in: int) -> tuple[Tensor, Tensor, Tensor]:
        grid = torch.arange(0, size, 1, dtype=x.dtype, device=x.device) * torch.tensor(n_in / size, dtype=torch.float32)
        lo = grid.long()
        return lo, (lo + 1).clamp_max(n_in - 1), grid - lo.float()

    x_lo, x_hi, dx = taps(w)
    y_lo, y_hi, dy = taps(h)
    left = x[..., x_lo]  # (N, C, H, size)
    rows = left + (x[..., x_hi] - left) * dx  # torch-fidelity's in_0/in_1, computed once per input row
    top = rows[..., y_lo, :]  # (N, C, size, size)
    return top + (rows[..., y_hi, :] - top) * dy.view(-1, 1)


# torch-fidelity's FeatureExtractorInceptionV3, as (attribute, block): the same names, so the weights
# file loads strictly and the state dict (hence the extractor's digest) is unchanged.
_INCEPTION_BLOCKS: tuple[tuple[str, Callable[[], nn.Module]], ...] = (
    ("Conv2d_1a_3x3", lambda: _tfi().BasicConv2d(3, 32, kernel_size=3, stride=2)),
    ("Conv2d_2a_3x3", lambda: _tfi().BasicConv2d(32, 32, kernel_size=3)),
    ("Conv2d_2b_3x3", lambda: _tfi().BasicConv2d(32, 64, kernel_size=3, padding=1)),
    ("MaxPool_1", lambda: nn.MaxPool2d(kernel_size=3, stride=2)),  # (N, 64, 73, 73): the "64" features
    ("Conv2d_3b_1x1", lambda: _tfi().BasicConv2d(64, 80, kernel_size=1)),
    ("Conv2d_4a_3x3", lambda: _tfi().BasicConv2d(80, 192, kernel_size=3)),
    ("MaxPool_2", lambda: nn.MaxPool2d(kernel_size=3, stride=2)),  # (N, 192, 35, 35): "192"
    ("Mixed_5b", lambda: _tfi().InceptionA(192, pool_features=32)),
    ("Mixed_5c", lambda: _tfi().InceptionA(256, pool_features=64)),
    ("Mixed_5d", lambda: _tfi().InceptionA(288, pool_features=64)),
    ("Mixed_6a", lambda: _tfi().InceptionB(288)),
    ("Mixed_6b", lambda: _tfi().InceptionC(768, channels_7x7=128)),
    ("Mixed_6c", lambda: _tfi().InceptionC(768, channels_7x7=160)),
    ("Mixed_6d", lambda: _tfi().InceptionC(768, channels_7x7=160)),
    ("Mixed_6e", lambda: _tfi().InceptionC(768, channels_7x7=192)),  # (N, 768, 17, 17): "768"
    ("Mixed_7a", lambda: _tfi().InceptionD(768)),
    ("Mixed_7b", lambda: _tfi().InceptionE_1(1280)),
    ("Mixed_7c", lambda: _tfi().InceptionE_2(2048)),  # (N, 2048, 8, 8): "2048" after average pooling
    ("AvgPool", lambda: nn.AdaptiveAvgPool2d(output_size=(1, 1))),
    ("fc", lambda: nn.Linear(2048, 1008)),
)
_FEATURE_TAPS = {"64": "MaxPool_1", "192": "MaxPool_2", "768": "Mixed_6e", "2048": "Mixed_7c"}


def _tfi() -> Any:
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    return tfi


def _load_inception(path: str) -> nn.Module:
    """torch-fidelity's Inception-v3 with the weights of ``path``: built on the meta device (no random
    init), weights read with ``torch.load(weights_only=True, mmap=True)`` and assigned, convolutions
    made channels-last (the copy that takes them off the mapped file). Every tensor then owns its
    memory, so rewriting the file later cannot change (or crash) a built extractor."""
    with torch.device("meta"):
        net = nn.Module()
        for name, block in _INCEPTION_BLOCKS:
            net.add_module(name, block())
    mmap = zipfile.is_zipfile(path)  # the legacy (pre-1.6) format cannot be memory-mapped
    # weights_only: no pickle code runs (a file holding other objects is refused, named by the caller)
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    net.load_state_dict(state, strict=True, assign=True)
    for module in net.modules():
        for key, t in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            owned = t.to(memory_format=torch.channels_last, copy=True) if t.dim() == 4 else t.clone()
            setattr(module, key, nn.Parameter(owned, requires_grad=False) if isinstance(t, nn.Parameter) else owned)
    return net.eval().requires_grad_(False)


class InceptionV3Extractor(nn.Module):
    """torch-fidelity's Inception-v3 (the TF FID network), with the features and logits torch-fidelity uses.

    Images in [0, 1] are rounded to the uint8 values torch-fidelity sees (as
    ``torchvision.utils.save_image`` does), resized to 299x299 and passed through the network;
    returns (pool features, unbiased logits) as torch-fidelity uses them for FID/KID and IS.

    Faster than torch-fidelity's own forward on CPU, with the same weights and numbers: the network
    runs channels-last (oneDNN's layout), on chunks of ``chunk_size`` images (the 299x299
    activations of a few images stay in cache), under ``torch.inference_mode``; the TF1 resize does
    the same arithmetic in a third of the work; construction skips random initialisation and loads
    the weights memory-mapped with ``weights_only=True`` (no pickle code runs).

    Args:
        weights_path: the weights file (default: the torch hub cache); see :func:`resolve_inception_weights`.
        feature_layer: ``"2048"`` (standard FID) or ``"64"``, ``"192"``, ``"768"``.
        antialias: ``False`` resizes like TF1 / torch-fidelity (comparable to published FIDs);
            ``True`` uses torchmetrics' antialiased bilinear resize (its default since 1.8).
        chunk_size: images per pass through the network (features do not depend on it).

    Raises:
        ValueError: an unknown ``feature_layer``, ``chunk_size`` < 1, or a weights file that cannot be loaded.
        FileNotFoundError: the weights file is missing (see :func:`resolve_inception_weights`).
    """

    in_channels = 3
    image_size = 299

    def __init__(
        self,
        weights_path: str | None = None,
        feature_layer: str = "2048",
        antialias: bool = False,
        chunk_size: int = 16,
    ) -> None:
        super().__init__()
        feature_layer = str(feature_layer)
        if feature_layer not in _FEATURE_TAPS:
            raise ValueError(f"`feature_layer` must be one of '64', '192', '768', '2048', got {feature_layer!r}.")
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"`chunk_size` must be a positive integer, got {chunk_size!r}.")
        path = resolve_inception_weights(weights_path)
        try:
            self.net = _load_inception(path)
        except Exception as err:  # torch.load of a truncated or foreign file: torch's message does not name it
            raise ValueError(
                f"`feature_extractor_weights_path`: the Inception-v3 weights file {path!r} cannot be loaded (corrupt, "
                f"truncated or another network's weights; {type(err).__name__}: {err}). Download "
                f"{INCEPTION_WEIGHTS_FILE} again from {INCEPTION_WEIGHTS_URL}."
            ) from err
        self.feature_layer = feature_layer
        self.chunk_size = chunk_size
        self.num_features = int(feature_layer)
        self.antialias = antialias
        self.name = f"inception-v3-compat-{feature_layer}-{'antialias' if antialias else 'tf1'}"
        self.resize = (
            f"bilinear to 299x299, {'antialias (torchmetrics)' if antialias else 'TF1-compatible (torch-fidelity)'}"
        )

    def train(self, mode: bool = True) -> InceptionV3Extractor:
        """Stays in eval mode (BatchNorm uses the stored statistics), as torchmetrics' ``NoTrainInceptionV3``."""
        return super().train(False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``(N, feature_layer)`` and unbiased logits ``(N, 1008)`` of images ``(N, 3, H, W)`` in [0, 1]."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"InceptionV3Extractor expects images (N, 3, H, W), got shape {tuple(x.shape)}.")
        with torch.inference_mode():
            outs = [self._forward_chunk(chunk) for chunk in x.split(self.chunk_size)]
        features, logits = torch.cat([f for f, _ in outs]), torch.cat([lg for _, lg in outs])  # ordinary tensors
        return features, logits

    def _forward_chunk(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.float().mul(255).round_().clamp_(0, 255)  # (n, 3, H, W): torch-fidelity's uint8 values, as floats
        if self.antialias:
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)
        else:
            x = _tf1_resize(x, 299)
        x = x.sub_(128).div_(128).contiguous(memory_format=torch.channels_last)  # (n, 3, 299, 299)
        tap = _FEATURE_TAPS[self.feature_layer]
        features = x
        for name, _ in _INCEPTION_BLOCKS[:-2]:  # the convolutions and pools, up to Mixed_7c
            x = getattr(self.net, name)(x)
            if name == tap:
                features = F.adaptive_avg_pool2d(x, output_size=(1, 1)).flatten(1)  # (n, feature_layer)
        pooled = features if tap == "Mixed_7c" else F.adaptive_avg_pool2d(x, output_size=(1, 1)).flatten(1)
        logits = pooled.mm(self._fc_weight.T)  # (n, 1008): torch-fidelity's "logits_unbiased" (no bias)
        return features.float(), logits.float()

    @property
    def _fc_weight(self) -> Tensor:
        fc = self.net.get_submodule("fc")
        assert isinstance(fc, nn.Linear)
        return fc.weight


class DigitsClassifier(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits: 64 penultimate features and 10 logits.

    Trained by ``scripts/train_digits_classifier.py`` on a fixed training split; the shipped weights
    (``lightning_gans/assets/digits_classifier.pt``) are loaded by :meth:`pretrained`. Images larger
    than 8x8 are average-pooled to 8x8 first.
    """

    in_channels = 1
    num_features = 64
    name = "digits-classifier"
    resize = "adaptive average pooling to 8x8"

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),  # (N, 16, 8, 8)
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 32, 4, 4)
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ELU(),  # (N, 64) penultimate features; ELU: no dead units
        )
        self.head = nn.Linear(64, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-2:] != (8, 8):
            x = F.adaptive_avg_pool2d(x, 8)
        f = self.features(x * 2 - 1)  # trained on [-1, 1]
        return f, self.head(f)

    @classmethod
    def pretrained(cls) -> DigitsClassifier:
        """The classifier with the shipped weights (loaded with ``weights_only=True``)."""
        model = cls()
        with resources.as_file(resources.files("lightning_gans") / "assets" / DIGITS_WEIGHTS) as path:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval().requires_grad_(False)


EXTRACTORS: dict[str, Callable[..., nn.Module]] = {
    "inception": lambda weights_path=None, antialias=False: InceptionV3Extractor(weights_path, "2048", antialias),
    "digits": lambda weights_path=None, antialias=False: DigitsClassifier.pretrained(),
    "mnist": lambda weights_path=None, antialias=False: MNISTClassifier.pretrained(),
}
"""Extractors selectable by name in ``GANMetrics(feature_extractor=...)``."""


def run_extractor(extractor: nn.Module, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """Call ``extractor`` and return ``(features (N, D), logits (N, K) or None)``, checking shapes."""
    out = extractor(x)
    features, logits = (out[0], out[1]) if isinstance(out, (tuple, list)) else (out, None)
    n = x.shape[0]
    if features.dim() != 2 or features.shape[0] != n:
        raise ValueError(f"The feature extractor must return features (N={n}, D), got {tuple(features.shape)}.")
    if logits is not None and (logits.dim() != 2 or logits.shape[0] != n):
        raise ValueError(f"The feature extractor must return logits (N={n}, K), got {tuple(logits.shape)}.")
    return features, logits


def extractor_id(extractor: nn.Module) -> str:
    """``name@digest``: the extractor's name (or class) and a digest of its weights and buffers."""
    h = hashlib.sha256(type(extractor).__qualname__.encode())
    for key, value in sorted(extractor.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return f"{getattr(extractor, 'name', None) or type(extractor).__name__}@{h.hexdigest()[:16]}"


def build_extractor(spec: str | nn.Module, weights_path: str | None = None, antialias: bool = False) -> nn.Module:
    """Resolve ``spec`` (a name in :data:`EXTRACTORS` or a module) to an extractor in eval mode."""
    if isinstance(spec, nn.Module):
        module = spec
    elif isinstance(spec, str) and spec in EXTRACTORS:
        module = EXTRACTORS[spec](weights_path=weights_path, antialias=antialias)
    else:
        raise ValueError(f"Unknown `feature_extractor` {spec!r}; expected one of {sorted(EXTRACTORS)} or an nn.Module.")
    return module.eval().requires_grad_(False)
