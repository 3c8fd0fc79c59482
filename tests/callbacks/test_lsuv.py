"""LSUVInit: orthonormal pre-init, unit output variance per layer, once on a fresh fit, never on resume."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from lightning_gans import GAN, WGANGP, ToyDataModule
from lightning_gans.callbacks import LSUVInit, SpectralNorm
from lightning_gans.callbacks.lsuv import LSUV_LAYERS, lsuv_init_
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def toy_model(cls=GAN, **kwargs):
    torch.manual_seed(0)
    return cls(
        MLPGenerator(2, 2, hidden_dim=32, num_layers=3),
        MLPCritic(2, hidden_dim=32, num_layers=3),
        latent_dim=2,
        noise_seed=0,
        **kwargs,
    )


def toy_data() -> ToyDataModule:
    return ToyDataModule(batch_size=256, batches_per_epoch=20, seed=0)


def output_variances(net: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Variance of every Linear/Conv layer's output on ``x`` (training mode, as LSUV measures it)."""
    out = {}
    hooks = [
        m.register_forward_hook(lambda m, a, y, n=n: out.__setitem__(n, float(y.var())))
        for n, m in net.named_modules()
        if isinstance(m, LSUV_LAYERS)
    ]
    with torch.no_grad():
        net.train()(x)
    for h in hooks:
        h.remove()
    return out


def assert_orthonormal_up_to_scale(weight: torch.Tensor) -> None:
    m = weight.detach().flatten(1)  # (shape[0], -1), the matrix orthogonal_ made orthonormal
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    torch.testing.assert_close(gram / gram.diagonal().mean(), torch.eye(len(gram)), rtol=0, atol=1e-5)


def test_unit_variance_on_a_fresh_batch_for_generator_and_critic():
    """After LSUV (tol 0.1) every layer's output variance on new noise / new real data is within 0.1 of 1."""
    model = toy_model()
    real = ToyDataModule(batch_size=256, seed=0).distribution.sample(256, torch.Generator().manual_seed(1))
    results = LSUVInit(tol=0.1).initialize(model, real)
    assert list(results["generator"]) == ["net.0", "net.2", "net.4", "net.6"]  # forward order
    assert all(abs(v - 1) < 0.1 for r in results.values() for v in r.values())
    fresh_real = ToyDataModule(batch_size=256, seed=0).distribution.sample(512, torch.Generator().manual_seed(2))
    for net, x in ((model.generator, torch.randn(512, 2)), (model.critic, fresh_real)):
        variances = output_variances(net, x)
        assert len(variances) == 4
        for name, v in variances.items():
            assert abs(v - 1) < 0.1, (name, v)


def test_bias_free_convolutions_and_batchnorm_generator_paper_mode():
    """`normalized_layers=True` (Mishkin & Matas): every layer of a DCGAN generator (bias-free transposed convs + BatchNorm) at unit variance, running stats untouched."""
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=16, image_size=16, channels=1, base_channels=8)
    stats = {k: v.clone() for k, v in gen.state_dict().items() if "running" in k}
    lsuv_init_(gen, torch.randn(128, 16), tol=0.05, normalized_layers=True)
    for k, v in stats.items():
        torch.testing.assert_close(gen.state_dict()[k], v, rtol=0, atol=0)
    variances = output_variances(gen, torch.randn(256, 16))
    assert len(variances) == 3 and all(abs(v - 1) < 0.05 for v in variances.values()), variances
    assert gen.net[0].bias is None


def _weights(net: nn.Module) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in net.named_modules() if isinstance(m, LSUV_LAYERS)}


@pytest.mark.parametrize("num_classes", [None, 10])
def test_default_leaves_batchnorm_fed_layers_of_a_dcgan_generator_exactly_as_they_were(num_classes):
    """Default: the two transposed convs feeding (conditional) BatchNorm keep their weights bit for bit, only the output layer is rescaled.

    Catches: the normalisation-fed check missing a BatchNorm inside ConditionalBatchNorm2d, or
    skipping every layer (the output layer must still reach unit variance).
    """
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=16, image_size=16, channels=1, base_channels=8, num_classes=num_classes)
    before = _weights(gen)
    z, labels = torch.randn(128, 16), (None if num_classes is None else torch.arange(128) % 10)
    result = lsuv_init_(gen, z, tol=0.05, labels=labels)
    after = _weights(gen)
    assert list(result) == ["net.6"] and abs(result["net.6"] - 1) < 0.05, result
    for name in ("net.0", "net.3"):
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0)
    assert not torch.equal(after["net.6"], before["net.6"])


def test_default_skips_layer_norm_fed_critic_layers_and_not_a_layer_whose_output_is_activated_first():
    """A DCGAN critic with layer norm: the convs feeding LayerNorm are left alone; the first conv (LeakyReLU, no norm) and the last are rescaled.

    Catches: treating "a norm layer comes later" as "feeds a norm layer" (the first conv's output goes
    through an activation, a different tensor, before anything is normalised).
    """
    torch.manual_seed(0)
    critic = DCGANCritic(image_size=16, channels=1, base_channels=8, norm="layer")
    fed = [n for n, m in critic.named_modules() if isinstance(m, LSUV_LAYERS)]
    before = _weights(critic)
    result = lsuv_init_(critic, torch.randn(128, 1, 16, 16), tol=0.1)
    after = _weights(critic)
    assert list(result) == [fed[0], fed[-1]], (result, fed)
    assert len(fed) == 3
    torch.testing.assert_close(after[fed[1]], before[fed[1]], rtol=0, atol=0)
    paper = lsuv_init_(critic, torch.randn(128, 1, 16, 16), tol=0.1, normalized_layers=True)
    assert list(paper) == fed


def test_callback_default_and_paper_mode_on_a_batchnorm_generator():
    """`LSUVInit()` leaves BatchNorm-fed layers alone; `LSUVInit(normalized_layers=True)` rescales them too."""

    def model():
        torch.manual_seed(0)
        return WGANGP(
            DCGANGenerator(latent_dim=16, image_size=8, channels=1, base_channels=8),
            DCGANCritic(image_size=8, channels=1, base_channels=8, norm="layer"),
            latent_dim=16,
            noise_seed=0,
        )

    real = torch.rand(64, 1, 8, 8) * 2 - 1
    default, paper = model(), model()
    built = _weights(default.generator)
    r_default = LSUVInit().initialize(default, real)
    r_paper = LSUVInit(normalized_layers=True).initialize(paper, real)
    assert list(r_default["generator"]) == ["net.3"] and list(r_paper["generator"]) == [
        "net.0",
        "net.3",
    ]  # 8x8: one BatchNorm-fed layer
    torch.testing.assert_close(default.generator.net[0].weight, built["net.0"], rtol=0, atol=0)
    ratio = float(paper.generator.net[0].weight.std() / built["net.0"].std())
    assert ratio > 3, ratio  # the scale LSUV gives a BatchNorm-fed layer: the effective learning rate divided by it


def test_pre_init_is_orthonormal():
    """Each weight is an orthonormal matrix times one scalar (W W^T proportional to I for the wide shape)."""
    model = toy_model()
    torch.manual_seed(0)
    critic = DCGANCritic(image_size=8, channels=1, base_channels=8, norm="none")
    lsuv_init_(critic, torch.randn(64, 1, 8, 8))
    LSUVInit(critic=False).initialize(model)
    layers = [m for net in (model.generator, critic) for m in net.modules() if isinstance(m, LSUV_LAYERS)]
    assert len(layers) == 4 + 2
    for m in layers:
        assert_orthonormal_up_to_scale(m.weight)


def test_spectral_normed_layers_get_orthonormal_underlying_weight_and_fresh_power_iteration():
    """With SpectralNorm (either order) the critic's `original` is orthonormal and sigma(W_eff) = 1 in eval mode."""
    for callbacks in ([SpectralNorm(), LSUVInit()], [LSUVInit(), SpectralNorm()]):
        model = toy_model()
        Trainer(max_steps=0, callbacks=callbacks, **trainer_kwargs()).fit(model, toy_data())
        lsuv = next(c for c in callbacks if isinstance(c, LSUVInit))
        assert lsuv.results["critic"] == {} and len(lsuv.results["generator"]) == 4  # SN layers are not rescaled
        for m in model.critic.modules():
            if isinstance(m, nn.Linear):
                original = m.parametrizations.weight.original
                m.eval()
                torch.testing.assert_close(
                    original.flatten(1).T @ original.flatten(1)
                    if original.shape[0] > original.shape[1]
                    else original @ original.T,
                    torch.eye(min(original.shape)),
                    rtol=0,
                    atol=1e-5,
                )
                assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=1e-4)


class _FirstBatch(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self.batch = batch.clone()


def test_runs_once_on_fresh_fit_and_leaves_data_order_and_global_rng_alone():
    """A fresh fit runs LSUV (weights differ from an identical run without it) on the same first batch; a second fit skips it."""
    firsts, weights = [], []
    for callbacks in ([], [LSUVInit()]):
        seed_everything(0)
        model, first = toy_model(), _FirstBatch()
        Trainer(max_steps=1, callbacks=[*callbacks, first], **trainer_kwargs()).fit(model, toy_data())
        firsts.append(first.batch)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    torch.testing.assert_close(firsts[0], firsts[1], rtol=0, atol=0)
    lsuv = callbacks[0]
    assert set(lsuv.results) == {"generator", "critic"}
    for key in weights[0]:  # every weight matrix differs from the run without LSUV after the same update
        if key.endswith("weight"):
            assert (weights[0][key] - weights[1][key]).abs().max() > 1e-2, key
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(max_steps=0, callbacks=[lsuv], **trainer_kwargs()).fit(model, toy_data())  # same callback: no re-init
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_zero_step_fit_initialises_and_a_fit_without_it_does_not():
    """max_steps=0: with LSUVInit every layer's output variance is ~1; without it the weights stay exactly as built."""
    real = toy_data()
    for callbacks in ([], [LSUVInit(tol=0.1)]):
        model = toy_model()
        built = {k: v.clone() for k, v in model.state_dict().items()}
        Trainer(max_steps=0, callbacks=callbacks, **trainer_kwargs()).fit(model, real)
        variances = output_variances(model.generator, torch.randn(512, 2))
        if callbacks:
            assert all(abs(v - 1) < 0.15 for v in variances.values()), variances
        else:
            assert all(torch.equal(v, built[k]) for k, v in model.state_dict().items())
            assert any(abs(v - 1) > 0.3 for v in variances.values()), (
                variances
            )  # the default init is far from unit variance


def test_result_is_independent_of_the_global_rng():
    """Same seed, different global RNG states: identical weights (so every DDP rank computes the same), global RNG untouched."""
    real = torch.randn(64, 2)
    states = []
    for global_seed in (1, 2):
        model = toy_model()
        torch.manual_seed(global_seed)
        rng_before = torch.get_rng_state()
        LSUVInit(seed=3).initialize(model, real)
        assert torch.equal(torch.get_rng_state(), rng_before)
        states.append(model.state_dict())
    for key in states[0]:
        torch.testing.assert_close(states[1][key], states[0][key], rtol=0, atol=0)


def test_resume_keeps_checkpoint_weights_and_skips_lsuv(tmp_path):
    """fit(ckpt_path=...) with LSUVInit leaves every weight exactly as saved and does not run LSUV."""
    seed_everything(0)
    model = toy_model(WGANGP, n_critic=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="last")
    Trainer(max_steps=3, callbacks=[LSUVInit(), ckpt], **trainer_kwargs(enable_checkpointing=True)).fit(
        model, toy_data()
    )
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)["state_dict"]

    resumed, lsuv = toy_model(WGANGP, n_critic=2), LSUVInit()
    Trainer(max_steps=3, callbacks=[lsuv], **trainer_kwargs()).fit(
        resumed, toy_data(), ckpt_path=tmp_path / "last.ckpt"
    )
    assert lsuv.results == {}
    assert saved.keys() == resumed.state_dict().keys()
    for key, value in resumed.state_dict().items():
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0, msg=key)


def test_network_without_linear_or_conv_layer_is_rejected():
    """A critic with no Conv/Linear layer gets an error naming it (and lsuv_init_ one naming the class)."""
    model = GAN(MLPGenerator(2, 2, 16, 1), nn.Sequential(nn.Flatten(), nn.Tanh()), latent_dim=2)
    with pytest.raises(ValueError, match="`critic` \\(Sequential\\) has no Linear/Conv layer"):
        Trainer(max_steps=1, callbacks=[LSUVInit()], **trainer_kwargs()).fit(model, toy_data())
    with pytest.raises(ValueError, match="no Linear/Conv layer in Sequential"):
        lsuv_init_(nn.Sequential(nn.ReLU()), torch.randn(4, 2))


def test_unreachable_tolerance_warns():
    """max_iters=1 with a tiny tolerance on a biased layer warns that the variance did not converge."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8))
    with torch.no_grad():
        net[0].bias.fill_(3.0)  # spread over features is 0, but it caps how fast one rescale can converge
    with pytest.warns(UserWarning, match="did not reach 1"):
        lsuv_init_(net, torch.randn(64, 2) * 10, tol=1e-9, max_iters=1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"tol": 0}, ValueError, "`tol`"),
        ({"max_iters": 0}, ValueError, "`max_iters`"),
        ({"noise_batch_size": 1}, ValueError, "`noise_batch_size`"),
        ({"generator": False, "critic": False}, ValueError, "`generator` and `critic`"),
        ({"critic": 1}, TypeError, "`critic`"),
        ({"seed": 1.5}, ValueError, "`seed`"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    """Bad arguments raise an error naming the argument."""
    with pytest.raises(error, match=match):
        LSUVInit(**kwargs)


def test_output_layers_false_leaves_each_nets_last_layer_untouched():
    """`LSUVInit(output_layers=False)`: the last Linear/Conv of each net keeps its weights bit for bit; the others get unit variance."""
    model = toy_model()
    last = {name: [p.clone() for p in getattr(model, name).net[-1].parameters()] for name in ("generator", "critic")}
    real = ToyDataModule(batch_size=256, seed=0).distribution.sample(256, torch.Generator().manual_seed(1))
    results = LSUVInit(tol=0.1, output_layers=False).initialize(model, real)
    assert list(results["generator"]) == ["net.0", "net.2", "net.4"]  # net.6, the output layer, is skipped
    assert all(abs(v - 1) < 0.1 for r in results.values() for v in r.values())
    for name, params in last.items():
        for before, after in zip(params, getattr(model, name).net[-1].parameters()):
            torch.testing.assert_close(after, before, rtol=0, atol=0)
