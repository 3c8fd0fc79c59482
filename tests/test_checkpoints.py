"""lightning_gans.checkpoints: class paths and the class check, also for a saved class that does not import."""

from __future__ import annotations

import pytest

from lightning_gans import GAN, WGANGP
from lightning_gans.checkpoints import STATE_KEY, check_class, class_path, import_object, module_identity
from lightning_gans.nets import MLPCritic, MLPGenerator


class MyWGANGP(WGANGP):
    """A user's own subclass, as a training script defines it."""


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


def _checkpoint_of(module, class_path_override=None):
    identity = module_identity(module)
    if class_path_override:
        identity["class_path"] = class_path_override
    return {STATE_KEY: identity}


def test_class_paths_are_the_public_ones():
    assert class_path(WGANGP) == "lightning_gans.WGANGP"
    assert class_path(MyWGANGP) == "tests.test_checkpoints.MyWGANGP"
    assert import_object("lightning_gans.WGANGP") is WGANGP
    with pytest.raises(ValueError, match=r"`model` 'lightning_gans\.Nope' cannot be imported"):
        import_object("lightning_gans.Nope", "model")
    with pytest.raises(ValueError, match="`class_path` 'WGANGP' is not an import path"):
        import_object("WGANGP")


def test_identity_records_the_base_class_loss_and_penalty():
    assert module_identity(MyWGANGP(*_nets(), latent_dim=2)) == {
        "class_path": "tests.test_checkpoints.MyWGANGP",
        "base_class": "lightning_gans.WGANGP",
        "loss": "wasserstein",
        "penalty": "gradient_penalty",
    }


def test_an_importable_saved_class_must_be_the_module_class():
    subclass_checkpoint = _checkpoint_of(MyWGANGP(*_nets(), latent_dim=2))
    check_class(MyWGANGP(*_nets(), latent_dim=2), subclass_checkpoint)  # the same class: fine
    with pytest.raises(
        TypeError, match=r"holds a tests\.test_checkpoints\.MyWGANGP, but the module is a lightning_gans\.WGANGP"
    ):
        check_class(WGANGP(*_nets(), latent_dim=2), subclass_checkpoint)


def test_a_saved_class_that_does_not_import_is_refused_unless_name_base_loss_and_penalty_agree():
    """`__main__.MyWGANGP` of another script: loading it as a WGANGP (another name) or as a same-named class with
    another loss is refused; the same name, base class, loss and penalty load (the script's class defined again)."""
    elsewhere = _checkpoint_of(MyWGANGP(*_nets(), latent_dim=2), "__main__.MyWGANGP")
    check_class(MyWGANGP(*_nets(), latent_dim=2), elsewhere)
    with pytest.raises(TypeError, match=r"written by __main__\.MyWGANGP, which cannot be imported here"):
        check_class(WGANGP(*_nets(), latent_dim=2), elsewhere)

    class MyWGANGP_(GAN):  # same name as the saved class, but another base, loss and penalty
        pass

    MyWGANGP_.__qualname__ = "MyWGANGP"
    with pytest.raises(TypeError, match=r"trained as base_class 'lightning_gans\.WGANGP'.*loss 'wasserstein'"):
        check_class(MyWGANGP_(*_nets(), latent_dim=2), elsewhere)
