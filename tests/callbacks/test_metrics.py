"""Tests for lightning_gans/callbacks/metrics.py (GANMetrics), with the embedded digits classifier."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import GAN, DigitsDataModule
from lightning_gans.callbacks import GANMetrics
from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from tests.conftest import trainer_kwargs

KEYS = {"eval/fid", "eval/is", "eval/is_std", "eval/kid", "eval/kid_std"}
ALL_KEYS = KEYS | {"eval/precision", "eval/recall", "eval/f_score", "eval/density", "eval/coverage"}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    """One real-statistics cache for the tests that train, so the digits' statistics are computed once."""
    return str(tmp_path_factory.mktemp("real_stats"))


def _gan() -> GAN:
    return GAN(
        DCGANGenerator(latent_dim=8, image_size=8, channels=1, base_channels=8),
        DCGANCritic(image_size=8, channels=1, base_channels=8),
        latent_dim=8,
    )


def _rows(logger: CSVLogger) -> list[dict]:
    with open(f"{logger.log_dir}/metrics.csv") as f:
        return [r for r in csv.DictReader(f) if r.get("eval/fid")]


class _Replay(LightningModule):
    """A 'generator' that replays fixed images: ``sample_noise`` returns indices, ``sample`` looks them up."""

    def __init__(self, images: torch.Tensor, scale: float = 1.0) -> None:
        super().__init__()
        self.images, self.scale = images, scale
        self.w = nn.Parameter(torch.zeros(1))

    def sample_noise(self, n, rng=None):
        return torch.arange(n, dtype=torch.float32)[:, None]

    def sample(self, n, noise=None, rng=None):
        return self.images[noise[:, 0].long()] * self.scale

    def training_step(self, batch, batch_idx):
        return self.w.sum() * 0

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD([self.w], lr=0.0)

    def train_dataloader(self):
        return DataLoader(TensorDataset(self.images), batch_size=64)

    val_dataloader = train_dataloader


class _CountingDigits(DigitsClassifier):
    """The digits classifier, counting the images it sees."""

    seen = 0

    def forward(self, x):
        type(self).seen += x.shape[0]
        return super().forward(x)


def test_logs_every_metric_and_the_comparability_config_to_every_logger(tmp_path, shared_cache):
    """One evaluation writes all five eval/ keys to each of two loggers and records extractor, resize and n in their config."""
    loggers = [CSVLogger(tmp_path, name="a"), CSVLogger(tmp_path, name="b")]
    cb = GANMetrics(num_samples=200, feature_extractor="digits", every_n_epochs=None, cache_dir=shared_cache)
    trainer = Trainer(**trainer_kwargs(logger=loggers, max_steps=2, callbacks=[cb]))
    trainer.fit(_gan(), DigitsDataModule(batch_size=16))
    for logger in loggers:
        rows = _rows(logger)
        assert len(rows) == 1 and {k for k, v in rows[0].items() if v} >= KEYS and rows[0]["step"] == "2"
        config = yaml.safe_load(Path(logger.log_dir, "hparams.yaml").read_text())["eval"]
        assert config["feature_extractor"].startswith("digits-classifier@")
        assert config["resize"] == DigitsClassifier.resize
        assert (config["n_real"], config["n_fake"], config["kid_subset_size"]) == (1797, 200, 200)
    assert set(trainer.callback_metrics) >= KEYS and cb.last_metrics["eval/fid"] > 0


@pytest.mark.parametrize(
    ("schedule", "expected_steps"),
    [
        (
            dict(every_n_generator_steps=2, every_n_epochs=None, at_train_end=True),
            ["4", "8"],
        ),  # n_critic=1: G steps at 2,4,6,8
        (dict(every_n_epochs=2, at_train_end=False), ["8"]),  # epochs of 4 batches
        (dict(every_n_epochs=3, at_train_end=True), ["8"]),  # no epoch hit; the end only
    ],
)
def test_evaluation_schedule_exact_steps(tmp_path, shared_cache, schedule, expected_steps):
    """Evaluations happen exactly at the scheduled generator steps/epochs, never twice at one step."""
    logger = CSVLogger(tmp_path)
    cb = GANMetrics(num_samples=100, feature_extractor="digits", metrics=("fid",), cache_dir=shared_cache, **schedule)
    trainer = Trainer(**trainer_kwargs(logger=logger, max_steps=8, limit_train_batches=4, callbacks=[cb]))
    trainer.fit(_gan(), DigitsDataModule(batch_size=16))
    assert [r["step"] for r in _rows(logger)] == expected_steps


def test_fid_kid_of_the_real_images_themselves_are_zero_on_validate():
    """A 'generator' that replays the real images gets FID ~ 0 and KID ~ 0, on `trainer.validate` (no training)."""
    images = load_digits_tensor()[0][:600]
    cb = GANMetrics(num_samples=600, feature_extractor="digits", real_samples=images, cache=False, kid_subset_size=100)
    trainer = Trainer(**trainer_kwargs(callbacks=[cb]))
    trainer.validate(_Replay(images))
    same = cb.last_metrics
    trainer.validate(_Replay(torch.rand_like(images) * 2 - 1))
    noise = cb.last_metrics
    assert set(same) == ALL_KEYS
    assert abs(same["eval/fid"]) < 1e-6 < noise["eval/fid"]
    assert abs(same["eval/kid"]) < 0.02 * noise["eval/kid"]


def test_real_statistics_are_reused_from_memory_and_from_disk(tmp_path):
    """Real images go through the extractor once per (data, extractor, n): not on a repeat, nor in a new run with the same cache."""
    images = load_digits_tensor()[0][:300]

    def make():
        return GANMetrics(
            num_samples=100,
            feature_extractor=_CountingDigits.pretrained(),
            metrics=("fid", "kid"),
            num_real=250,
            cache_dir=str(tmp_path),
            kid_subset_size=50,
        )

    _CountingDigits.seen = 0
    cb = make()
    trainer = Trainer(**trainer_kwargs(callbacks=[cb]))
    module = _Replay(images)
    trainer.validate(module)
    assert _CountingDigits.seen == 250 + 100
    first = cb.last_metrics
    trainer.validate(module)
    assert _CountingDigits.seen == 250 + 100 + 100
    assert cb.last_metrics == first
    assert len(list(tmp_path.glob("real-*.npz"))) == 1
    cb2 = make()
    Trainer(**trainer_kwargs(callbacks=[cb2])).validate(module)
    assert _CountingDigits.seen == 250 + 100 + 100 + 100
    assert cb2.last_metrics == first


def test_generated_values_outside_data_range_are_an_error():
    """A generator emitting values outside `data_range` fails with a message naming it, instead of being clipped."""
    images = load_digits_tensor()[0][:100]
    cb = GANMetrics(num_samples=50, feature_extractor="digits", real_samples=images, cache=False, kid_subset_size=20)
    with pytest.raises(ValueError, match=r"generated samples have values in \[-2, 2\], outside `data_range`=\(-1, 1\)"):
        Trainer(**trainer_kwargs(callbacks=[cb])).validate(_Replay(images, scale=2.0))


def test_too_few_generated_samples_warn_before_training():
    """`num_samples` <= feature dimension warns in setup with the number needed (65 for the 64 digits features)."""
    cb = GANMetrics(num_samples=32, feature_extractor="digits", metrics=("fid",))
    with pytest.warns(UserWarning, match="at least 65 generated samples.*`num_samples` >= 65"):
        cb.setup(Trainer(**trainer_kwargs()), _gan(), "fit")


def test_missing_inception_weights_fail_when_the_callback_is_built(tmp_path, monkeypatch):
    """The default Inception extractor without a weights file fails at construction, naming the file and argument."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(
        FileNotFoundError, match=r"weights-inception-2015-12-05-6726825d.pth.*`feature_extractor_weights_path`"
    ):
        GANMetrics()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_samples=1), "`num_samples`"),
        (dict(metrics=("fid", "lpips")), "`metrics`"),
        (dict(every_n_epochs=0), "`every_n_epochs`"),
        (dict(data_range=(1, -1)), "`data_range`"),
        (dict(feature_extractor="vgg"), "`feature_extractor`"),
        (dict(num_samples=5, isc_splits=10), "`isc_splits`"),
        (dict(real_samples=[1, 2]), "`real_samples`"),
    ],
)
def test_invalid_arguments_are_rejected_by_name(kwargs, match):
    """Bad arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        GANMetrics(**{"feature_extractor": "digits", **kwargs})


def test_real_statistics_cache_key_follows_extractor_weights_and_data_range(tmp_path):
    """Other extractor weights or another `data_range` miss the cache (new extraction, new file); the same settings hit it."""
    images = load_digits_tensor()[0][:120]
    module = _Replay(images)

    def run(extractor, data_range=(-1.0, 1.0)):
        cb = GANMetrics(
            num_samples=40,
            feature_extractor=extractor,
            metrics=("kid",),
            num_real=100,
            data_range=data_range,
            cache_dir=str(tmp_path),
            kid_subset_size=20,
        )
        before = _CountingDigits.seen
        Trainer(**trainer_kwargs(callbacks=[cb])).validate(module)
        return _CountingDigits.seen - before - 40, cb  # real images extracted (40 are the generated ones)

    _CountingDigits.seen = 0
    base = _CountingDigits.pretrained()
    extracted, first = run(base)
    assert extracted == 100 and len(list(tmp_path.glob("real-*.npz"))) == 1
    assert run(_CountingDigits.pretrained())[0] == 0  # same weights, same range: read from disk
    perturbed = _CountingDigits.pretrained()
    with torch.no_grad():
        next(perturbed.parameters()).view(-1)[0] += 1e-3  # one weight, slightly
    extracted, other_weights = run(perturbed)
    assert extracted == 100 and len(list(tmp_path.glob("real-*.npz"))) == 2
    extracted, other_range = run(_CountingDigits.pretrained(), data_range=(-2.0, 2.0))
    assert extracted == 100 and len(list(tmp_path.glob("real-*.npz"))) == 3
    keys = [cb.evaluator.real_cache_key for cb in (first, other_weights, other_range)]
    assert keys[0]["extractor"] != keys[1]["extractor"] and keys[0]["data_range"] != keys[2]["data_range"]
    assert keys[0]["data"] == keys[1]["data"] == keys[2]["data"]  # same real images


@pytest.mark.slow
def test_inception_2048_features_through_the_callback(tmp_path):
    """GANMetrics(feature_extractor="inception") with a weights file: FID/IS/KID on the 2,048 pool features,
    equal to the evaluation functions applied to the same extractor (random-weight file, 12 + 12 images)."""
    from lightning_gans.evaluation import InceptionV3Extractor, RealStatistics, compute_metrics, extract
    from tests.random_inception import save_random_inception_weights

    weights = save_random_inception_weights(str(tmp_path / "random-inception.pth"))
    real = torch.rand(12, 3, 16, 16) * 2 - 1
    module = _Replay(torch.rand(12, 3, 16, 16) * 2 - 1)
    cb = GANMetrics(
        num_samples=12,
        feature_extractor="inception",
        feature_extractor_weights_path=weights,
        real_samples=real,
        cache=False,
        kid_subset_size=12,
        kid_subsets=10,
        isc_splits=2,
    )
    with pytest.warns(UserWarning, match="at least 2049"):  # 12 samples: rank-deficient covariance, as warned
        Trainer(**trainer_kwargs(callbacks=[cb])).validate(module)
    extractor = InceptionV3Extractor(weights)
    assert extractor.num_features == 2048
    real_features = extract(extractor, [real], (-1.0, 1.0))[0]
    assert real_features.shape == (12, 2048)
    fake_features, fake_logits = extract(extractor, [module.images], (-1.0, 1.0))
    expected = compute_metrics(
        fake_features,
        fake_logits,
        RealStatistics.from_features(real_features),
        kid_subsets=10,
        kid_subset_size=12,
        isc_splits=2,
        seed=2020,
    )
    for key, value in expected.items():
        assert cb.last_metrics[f"eval/{key}"] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_generator_image_size_other_than_the_datas_fails_before_the_first_step():
    """A 16x16 generator against 8x8 digits (a size-agnostic critic would train) fails in setup, naming both shapes.

    Catches: the mismatch found only at the first evaluation, after an epoch of training.
    """

    class _AnySizeCritic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(x).mean(dim=(1, 2, 3))

    torch.manual_seed(0)
    module = GAN(
        DCGANGenerator(latent_dim=8, image_size=16, channels=1, base_channels=8), _AnySizeCritic(), latent_dim=8
    )
    cb = GANMetrics(num_samples=100, feature_extractor="digits", cache=False, every_n_epochs=1, kid_subset_size=20)
    seen = []
    probe = type("Probe", (Callback,), {"on_train_batch_start": lambda self, *a: seen.append(1)})()
    with pytest.raises(
        ValueError, match=r"generated samples have shape \(1, 16, 16\) but the real images \(1, 8, 8\).*`image_size`"
    ):
        Trainer(**trainer_kwargs(max_steps=4, callbacks=[cb, probe])).fit(module, DigitsDataModule(batch_size=32))
    assert seen == []
