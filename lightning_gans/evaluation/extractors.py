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
from collections.abc import Callable
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans._compat import torch_fidelity_forward
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


class InceptionV3Extractor(nn.Module):
    """torch-fidelity's Inception-v3 (the TF FID network) through torchmetrics' ``NoTrainInceptionV3``.

    Images in [0, 1] are rounded to uint8 (as ``torchvision.utils.save_image`` does), resized to
    299x299 and passed through the network; returns (pool features, unbiased logits) as torch-fidelity
    uses them for FID/KID and IS.

    Args:
        weights_path: the weights file (default: the torch hub cache); see :func:`resolve_inception_weights`.
        feature_layer: ``"2048"`` (standard FID) or ``"64"``, ``"192"``, ``"768"``.
        antialias: ``False`` resizes like TF1 / torch-fidelity (comparable to published FIDs);
            ``True`` uses torchmetrics' antialiased bilinear resize (its default since 1.8).
    """

    in_channels = 3

    def __init__(self, weights_path: str | None = None, feature_layer: str = "2048", antialias: bool = False) -> None:
        super().__init__()
        feature_layer = str(feature_layer)
        if feature_layer not in ("64", "192", "768", "2048"):
            raise ValueError(f"`feature_layer` must be one of '64', '192', '768', '2048', got {feature_layer!r}.")
        from torchmetrics.image.fid import NoTrainInceptionV3

        path = resolve_inception_weights(weights_path)
        try:
            self.net = NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=[feature_layer, "logits_unbiased"],
                feature_extractor_weights_path=path,
                antialias=antialias,
            )
        except Exception as err:  # torch.load of a truncated or foreign file: torch's message does not name it
            raise ValueError(
                f"`feature_extractor_weights_path`: the Inception-v3 weights file {path!r} cannot be loaded (corrupt, "
                f"truncated or another network's weights; {type(err).__name__}: {err}). Download "
                f"{INCEPTION_WEIGHTS_FILE} again from {INCEPTION_WEIGHTS_URL}."
            ) from err
        self.num_features = int(feature_layer)
        self.antialias = antialias
        self.name = f"inception-v3-compat-{feature_layer}-{'antialias' if antialias else 'tf1'}"
        self.resize = (
            f"bilinear to 299x299, {'antialias (torchmetrics)' if antialias else 'TF1-compatible (torch-fidelity)'}"
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        images = (x * 255).round_().to(torch.uint8)  # (N, 3, H, W) uint8, torch-fidelity's input
        features, logits = torch_fidelity_forward(self.net, images)
        return features.float(), logits.float()


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
