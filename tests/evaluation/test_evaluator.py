"""The Lightning-free Evaluator: one object behind GANMetrics and `lightning-gans evaluate`."""

from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import nn

from lightning_gans.callbacks import GANMetrics
from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import METRICS, DigitsClassifier, Evaluator, RealStatistics, compute_metrics, extract
from tests.conftest import trainer_kwargs


class _Replay:
    """A 'generator' that replays fixed images: the noise is the image index (no Lightning needed)."""

    num_classes = None
    device = torch.device("cpu")

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def sample_noise(self, n, rng=None):
        return torch.arange(n, dtype=torch.float32)[:, None]

    def sample(self, n, noise=None, rng=None):
        return self.images[noise[:, 0].long()]


class _ReplayModule(LightningModule):
    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.replay = _Replay(images)
        self.w = nn.Parameter(torch.zeros(1))

    def sample_noise(self, n, rng=None):
        return self.replay.sample_noise(n, rng)

    def sample(self, n, noise=None, rng=None):
        return self.replay.sample(n, noise)

    def validation_step(self, batch, batch_idx):
        pass

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(self.replay.images[:8]), batch_size=8)


def _digits():
    images, _ = load_digits_tensor()
    return images[:400], images[400:700]


def test_evaluate_equals_the_pure_functions_on_the_same_features():
    """Evaluator.evaluate(generator, real) equals compute_metrics of the features extracted by hand."""
    real, fake = _digits()
    ev = Evaluator("digits", num_samples=300, cache=False, kid_subset_size=100)
    ours = ev.evaluate(_Replay(fake), real)
    model = DigitsClassifier.pretrained()
    stats = RealStatistics.from_features(extract(model, [real], (-1.0, 1.0))[0])
    features, logits = extract(model, [fake], (-1.0, 1.0))
    expected = compute_metrics(features, logits, stats, kid_subset_size=100)
    assert set(ours) == set(expected) >= {"fid", "is", "kid", "precision", "recall", "density", "coverage"}
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_real_statistics_come_from_memory_then_disk_then_computation(tmp_path):
    """First call computes and stores; the same data again is memory; a new evaluator reads the file; a damaged
    file is named in a warning and recomputed (then stored again, readable)."""
    real, _ = _digits()
    ev = Evaluator("digits", num_samples=10, cache_dir=str(tmp_path), kid_subset_size=10)
    first = ev.real_statistics(real)
    assert ev.real_source.startswith("computed, stored in ")
    path = ev.real_source.rpartition(" ")[2]
    assert ev.real_statistics(real) is first and ev.real_source == "memory"
    again = Evaluator("digits", num_samples=10, cache_dir=str(tmp_path), kid_subset_size=10)
    assert torch.equal(again.real_statistics(real).features, first.features)
    assert again.real_source == f"read from {path}"
    with open(path, "r+b") as f:  # a cut file, as an interrupted copy leaves it
        f.truncate(100)
    damaged = Evaluator("digits", num_samples=10, cache_dir=str(tmp_path), kid_subset_size=10)
    with pytest.warns(UserWarning, match=rf"cache file '{path}' is damaged .* Recomputing"):
        stats = damaged.real_statistics(real)
    assert torch.equal(stats.features, first.features) and damaged.real_source.startswith("computed")
    assert torch.equal(Evaluator("digits", cache_dir=str(tmp_path)).real_statistics(real).features, first.features)


def test_a_new_metric_is_one_function_and_one_entry_and_appears_in_both_callers(tmp_path, monkeypatch):
    """Registering `mean_norm` in METRICS alone makes GANMetrics log eval/mean_norm and `lightning-gans evaluate
    --json` report it, with the same value."""
    from lightning_gans.commands.evaluate import main as evaluate_main
    from lightning_gans.evaluation import evaluator as module

    def mean_norm(inputs):
        return {"mean_norm": float(inputs.fake.features.norm(dim=1).mean())}

    monkeypatch.setitem(module.METRICS, "mean_norm", mean_norm)
    real, fake = _digits()
    callback = GANMetrics(
        num_samples=200, feature_extractor="digits", real_samples=real, cache=False, kid_subset_size=50
    )
    Trainer(**trainer_kwargs(callbacks=[callback])).validate(_ReplayModule(fake))
    logged = callback.last_metrics["eval/mean_norm"]
    folder = tmp_path / "fake"
    folder.mkdir()
    from torchvision.io import write_png

    for i, image in enumerate(fake[:200]):
        write_png(((image + 1) / 2 * 255).round().to(torch.uint8), str(folder / f"{i:04d}.png"))
    out = tmp_path / "m.json"
    status = evaluate_main(["--fake", str(folder), "--real", "digits", "--json", str(out), "--no_cache"])
    assert status == 0
    reported = json.loads(out.read_text())["metrics"]["mean_norm"]
    assert "mean_norm" in METRICS and logged > 0 and reported > 0
    # the PNG round trip quantises to 8 bits: the two values agree to that precision
    assert reported == pytest.approx(logged, rel=2e-2)


def test_arguments_are_checked_naming_them():
    for kwargs, name in (
        ({"num_samples": 1}, "num_samples"),
        ({"metrics": ["fid", "nope"]}, "metrics"),
        ({"data_range": (1, -1)}, "data_range"),
        ({"kid_subset_size": 1}, "kid_subset_size"),
        ({"num_samples": 5, "isc_splits": 10}, "isc_splits"),
    ):
        with pytest.raises(ValueError, match=f"`{name}`"):
            Evaluator("digits", **kwargs)
    with pytest.raises(ValueError, match="Unknown `feature_extractor` 'vgg'"):
        Evaluator("vgg")
    with pytest.raises(ValueError, match="`metrics` asks for IS"):
        Evaluator(nn.Flatten(), metrics=["is"]).check_metrics(has_logits=False)
