"""``lightning-gans`` / ``python -m lightning_gans``: the LightningCLI for every module and datamodule.

Example:
    lightning-gans fit --config examples/wgangp_8gaussians.yaml
    lightning-gans fit --config examples/gan_digits.yaml --model WGANGP --model.n_critic 5
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

import lightning_gans  # noqa: F401  (registers GAN, WGAN, WGANGP and the datamodules for class resolution)
import lightning_gans.callbacks  # noqa: F401
from lightning_gans.callbacks.save_config import LoggerSaveConfigCallback
from lightning_gans.modules import AdversarialModule

__all__ = ["main"]


def main(args=None) -> LightningCLI:
    """Run the CLI (``args`` as a list of strings, for tests; default: ``sys.argv``) and return it."""
    from lightning_gans.commands import run_command  # `sample`/`evaluate` (an int exit status); quiets the console

    if (status := run_command(args)) is not None:
        return status
    return LightningCLI(
        AdversarialModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=LoggerSaveConfigCallback,  # config.yaml in the log dir and the config in every logger
        save_config_kwargs={"overwrite": True},
        args=args,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
