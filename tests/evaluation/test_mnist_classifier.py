"""The shipped MNIST classifier: held-out accuracy, the extractor contract, 32x32 centre crops, live features."""

from importlib import resources

import pytest
import torch

from lightning_gans.data.mnist import mnist_split
from lightning_gans.evaluation.extractors import extractor_id, run_extractor
from lightning_gans.evaluation.mnist_classifier import HELD_OUT_ACCURACY, MNIST_WEIGHTS, MNISTClassifier


@pytest.fixture(scope="module")
def held_out():
    """The 1,000 held-out digits in [0, 1] at 28x28 and 32x32, with their labels."""
    _, _, x28_test, y_test = mnist_split(28)
    x32_test = mnist_split(32)[2]
    return (x28_test + 1) / 2, (x32_test + 1) / 2, y_test


@pytest.fixture(scope="module")
def model():
    return MNISTClassifier.pretrained()


def test_held_out_accuracy_matches_the_recorded_value(model, held_out):
    """On the 1,000 digits it never saw: accuracy >= 0.97 x HELD_OUT_ACCURACY and >= 0.95."""
    x, _, y = held_out
    with torch.no_grad():
        accuracy = (model(x)[1].argmax(1) == y).float().mean().item()
    assert accuracy >= 0.97 * HELD_OUT_ACCURACY and accuracy >= 0.95
    assert accuracy == pytest.approx(HELD_OUT_ACCURACY, abs=2e-3)  # the script's printed value, give or take 2 images


def test_follows_the_extractor_contract(model, held_out):
    """Features (N, num_features) and logits (N, 10); the documented attributes; eval mode, frozen."""
    x, _, _ = held_out
    features, logits = run_extractor(model, x[:16])
    assert features.shape == (16, MNISTClassifier.num_features) and logits.shape == (16, 10)
    assert MNISTClassifier.num_features <= 128 and MNISTClassifier.in_channels == 1
    assert MNISTClassifier.name == "mnist-classifier" and "centre-cropped" in MNISTClassifier.resize
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert extractor_id(model).startswith("mnist-classifier@")


def test_32x32_inputs_equal_their_28x28_centre_crops(model, held_out):
    """A padded 32x32 digit gives exactly the outputs of the 28x28 digit."""
    x28, x32, _ = held_out
    with torch.no_grad():
        for a, b in zip(model(x28[:200]), model(x32[:200])):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match=r"`x`.*\(N, 1, 28, 28\)"):
        model(torch.zeros(2, 1, 64, 64))


def test_no_constant_feature_units_on_the_held_out_set(model, held_out):
    """ELU features: every one of the 128 units varies over the held-out digits."""
    x, _, _ = held_out
    with torch.no_grad():
        features = model(x)[0]
    assert (features.std(0) > 1e-6).all()


def test_weights_load_with_weights_only_and_are_small():
    """The asset is a plain state dict (weights_only=True) of this architecture, under 1 MB."""
    with resources.as_file(resources.files("lightning_gans") / "assets" / MNIST_WEIGHTS) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert path.stat().st_size < 1_000_000
    assert set(state) == set(MNISTClassifier().state_dict())
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 for v in state.values())
