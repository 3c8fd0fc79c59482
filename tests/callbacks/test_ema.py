"""GeneratorEMA: an exact EMA of the generator's parameters, kept out of the module, restored on resume and reload."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import GAN, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA, SpectralNorm
from lightning_gans.callbacks.ema import load_ema_generator
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def toy_model(**kwargs) -> GAN:
    torch.manual_seed(0)
    return GAN(
        MLPGenerator(2, 2, hidden_dim=16, num_layers=2),
        MLPCritic(2, hidden_dim=16, num_layers=2),
        latent_dim=2,
        noise_seed=0,
        **kwargs,
    )


def toy_data() -> ToyDataModule:
    return ToyDataModule(batch_size=32, batches_per_epoch=50, seed=0)


class _RecordGenerator(Callback):
    """Snapshots of the generator's parameters at the start and after every generator optimizer step."""

    def on_train_start(self, trainer, pl_module):
        self.snapshots = [[p.detach().clone() for p in pl_module.generator.parameters()]]
        trainer.optimizers[0].register_step_post_hook(
            lambda *_: self.snapshots.append([p.detach().clone() for p in pl_module.generator.parameters()])
        )


def test_ema_equals_hand_computed_average_and_drives_sample():
    """decay 0.9, start_step 2, 5 generator steps: EMA = copies for t <= 2, then 0.9 ema + 0.1 theta; sample() uses it."""
    model = toy_model(generator_optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    ema, record = GeneratorEMA(decay=0.9, start_step=2), _RecordGenerator()
    Trainer(max_steps=10, callbacks=[record, ema], **trainer_kwargs()).fit(model, toy_data())
    assert model.generator_steps == ema.updates == 5 and len(record.snapshots) == 6

    expected = record.snapshots[0]
    for t, theta in enumerate(record.snapshots[1:], start=1):
        expected = theta if t <= 2 else [0.9 * e + 0.1 * p for e, p in zip(expected, theta)]
    got = list(ema.ema_generator.parameters())
    for e, g, live in zip(expected, got, model.generator.parameters()):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-6)
        assert not torch.allclose(g, live)  # the average really lags the generator
    z = torch.randn(8, 2)
    assert model.ema_generator is ema.ema_generator
    torch.testing.assert_close(model.sample(8, noise=z), ema.ema_generator(z), rtol=0, atol=0)


def test_ema_is_not_a_submodule_and_checkpoint_loads_without_the_callback(tmp_path):
    """The EMA copy stays out of named_modules/state_dict; load_from_checkpoint works alone and load_ema_generator restores it."""
    model = toy_model()
    ema = GeneratorEMA(decay=0.5)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="last")
    Trainer(max_steps=4, callbacks=[ema, ckpt], **trainer_kwargs(enable_checkpointing=True)).fit(model, toy_data())
    assert model.ema_generator is not None
    assert not any("ema" in name for name in model.state_dict())
    assert all(m is not model.ema_generator for m in model.modules())
    assert not any(p.requires_grad for p in model.ema_generator.parameters())

    fresh = lambda: (MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2))  # noqa: E731
    loaded = GAN.load_from_checkpoint(tmp_path / "last.ckpt", generator=fresh()[0], critic=fresh()[1])
    assert loaded.ema_generator is not None  # attached on load (see test_reloaded_module_samples_from_the_ema)
    loaded.ema_generator = None
    restored = load_ema_generator(loaded, tmp_path / "last.ckpt")
    assert loaded.ema_generator is restored
    for a, b in zip(restored.state_dict().values(), model.ema_generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_resume_restores_the_average_exactly(tmp_path):
    """EMA after 6 + 6 resumed steps equals the EMA of 12 uninterrupted steps, bit for bit."""

    def run(max_steps, ckpt_path=None, callbacks=()):
        seed_everything(0)
        model, ema = toy_model(), GeneratorEMA(decay=0.8, start_step=1)
        trainer = Trainer(
            max_steps=max_steps, callbacks=[ema, *callbacks], **trainer_kwargs(enable_checkpointing=bool(callbacks))
        )
        trainer.fit(model, toy_data(), ckpt_path=ckpt_path)
        return ema

    full = run(12)
    run(6, callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="half")])
    resumed = run(12, ckpt_path=tmp_path / "half.ckpt")
    assert resumed.updates == full.updates == 6
    for key, value in full.ema_generator.state_dict().items():
        torch.testing.assert_close(resumed.ema_generator.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_spectral_norm_vectors_are_copied_not_averaged():
    """With a spectral-normed generator the EMA averages `original` but its `_u`/`_v` equal the generator's."""
    model = toy_model()
    ema = GeneratorEMA(decay=0.9)
    Trainer(max_steps=6, callbacks=[SpectralNorm(critic=False, generator=True), ema], **trainer_kwargs()).fit(
        model, toy_data()
    )
    live = dict(model.generator.named_buffers())
    averaged = dict(ema.ema_generator.named_buffers())
    assert any(k.endswith("_u") for k in live) and live.keys() == averaged.keys()
    for key in live:
        torch.testing.assert_close(averaged[key], live[key], rtol=0, atol=0)
    originals = [(n, p) for n, p in ema.ema_generator.named_parameters() if n.endswith("original")]
    assert originals and not all(torch.equal(p, model.generator.get_parameter(n)) for n, p in originals)


def test_two_sampling_emas_are_rejected():
    """Two GeneratorEMA callbacks that both drive sample() raise; one with use_for_sampling=False is fine."""
    with pytest.raises(ValueError, match="`use_for_sampling=True`"):
        Trainer(max_steps=1, callbacks=[GeneratorEMA(), GeneratorEMA(0.9)], **trainer_kwargs()).fit(
            toy_model(), toy_data()
        )
    model = toy_model()
    quiet = GeneratorEMA(0.9, use_for_sampling=False)
    Trainer(max_steps=2, callbacks=[GeneratorEMA(), quiet], **trainer_kwargs()).fit(model, toy_data())
    assert quiet.ema_generator is not None and model.ema_generator is not quiet.ema_generator


def test_module_without_generator_is_rejected():
    """A module without a `generator` attribute gets an error naming it."""
    from lightning.pytorch.demos.boring_classes import BoringModel

    with pytest.raises(TypeError, match="`generator`"):
        Trainer(max_steps=1, callbacks=[GeneratorEMA()], **trainer_kwargs()).fit(BoringModel())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"decay": 1.0}, ValueError, "`decay`"),
        ({"decay": -0.1}, ValueError, "`decay`"),
        ({"decay": "0.9"}, ValueError, "`decay`"),
        ({"start_step": -1}, ValueError, "`start_step`"),
        ({"start_step": 2.5}, ValueError, "`start_step`"),
        ({"use_for_sampling": 1}, TypeError, "`use_for_sampling`"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    """Bad arguments raise an error naming the argument."""
    with pytest.raises(error, match=match):
        GeneratorEMA(**kwargs)


def test_reloaded_module_samples_from_the_ema(tmp_path):
    """GAN.load_from_checkpoint(path).sample(n) comes from the saved average (not the raw generator), with no
    callback and no extra call; a fit resumed from that checkpoint without GeneratorEMA samples the raw generator."""
    model = toy_model()
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="last")
    Trainer(max_steps=6, callbacks=[GeneratorEMA(decay=0.5), ckpt], **trainer_kwargs(enable_checkpointing=True)).fit(
        model, toy_data()
    )

    fresh = lambda: (MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2))  # noqa: E731
    loaded = GAN.load_from_checkpoint(tmp_path / "last.ckpt", generator=fresh()[0], critic=fresh()[1])
    z = torch.randn(16, 2)
    with torch.no_grad():
        expected = model.ema_generator(z)
        raw = loaded.generator.eval()(z)
    assert loaded.ema_generator is not None
    torch.testing.assert_close(loaded.sample(16, noise=z), expected, rtol=0, atol=0)
    assert not torch.allclose(loaded.sample(16, noise=z), raw)

    resumed = toy_model()
    Trainer(max_steps=8, **trainer_kwargs()).fit(resumed, toy_data(), ckpt_path=tmp_path / "last.ckpt")
    assert resumed.ema_generator is None  # no stale average attached by the resume
