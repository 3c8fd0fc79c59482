"""A training run as the library sees it after ``lightning-gans fit``: the module of a checkpoint, its config, its data.

Used by the commands (``sample``, ``evaluate``, ``export``) and the Hub export; errors are
:class:`~lightning_gans._checks.InputError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lightning_gans._checks import InputError
from lightning_gans.checkpoints import import_object, load_checkpoint_file

__all__ = ["Run", "generate", "load_run"]


@dataclass
class Run:
    """What a checkpoint written by ``lightning-gans fit`` holds.

    Attributes:
        path: the checkpoint file.
        module: the module, reloaded with ``load_from_checkpoint`` (CPU, eval mode).
        checkpoint: the raw checkpoint dictionary.
        config: the run's ``config.yaml`` (next to the ``checkpoints/`` directory) as a dict, or ``{}``.
        ema: whether ``module.sample`` uses the EMA generator.
    """

    path: str
    module: nn.Module
    checkpoint: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    ema: bool = False

    def callback_args(self, name: str) -> dict[str, Any] | None:
        """``init_args`` of the run's callback whose class name is ``name`` (e.g. ``"GANMetrics"``), or ``None``."""
        callbacks = ((self.config.get("trainer") or {}).get("callbacks")) or []
        for cb in callbacks if isinstance(callbacks, list) else []:
            if isinstance(cb, dict) and str(cb.get("class_path", "")).rpartition(".")[2] == name:
                return dict(cb.get("init_args") or {})
        return None

    def value_range(self) -> tuple[float, float]:
        """The generator's output range: the run's ``GANMetrics.data_range`` or ``SampleLogger.value_range``, else (-1, 1)."""
        for name, key in (("GANMetrics", "data_range"), ("SampleLogger", "value_range")):
            args = self.callback_args(name)
            if args and args.get(key) is not None:
                low, high = args[key]
                return float(low), float(high)
        return (-1.0, 1.0)

    def datamodule(self) -> Any:
        """The run's datamodule, rebuilt from the checkpoint's ``datamodule_hyper_parameters`` and set up for fit.

        Raises:
            InputError: the checkpoint records no datamodule.
        """
        hparams = dict(self.checkpoint.get("datamodule_hyper_parameters") or {})
        class_path = hparams.pop("_class_path", None)
        if not isinstance(class_path, str):
            raise InputError(
                "the checkpoint does not record its datamodule (it was not written by `lightning-gans fit`): "
                "pass the real images with `--real DIR|digits`."
            )
        kwargs = {k: v for k, v in hparams.items() if not k.startswith("_")}
        dm = import_object(class_path, "datamodule")(**kwargs)
        dm.setup("fit")
        return dm


def load_run(ckpt_path: str, ema: bool = True, argument: str = "--ckpt_path") -> Run:
    """Load the module of a ``lightning-gans fit`` checkpoint on the CPU, with its EMA generator when it has one.

    Args:
        ckpt_path: the ``.ckpt`` file.
        ema: sample from the EMA generator when the checkpoint holds one (``--no_ema`` turns it off).
        argument: how error messages name the path.

    Raises:
        InputError: the file is missing, unreadable, corrupt or was not written by the LightningCLI
            (naming ``argument`` and what is wrong).
    """
    import yaml

    from lightning_gans.callbacks.ema import load_ema_generator

    checkpoint = load_checkpoint_file(ckpt_path, argument=argument)
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if not isinstance(class_path, str):
        raise InputError(
            f"`{argument}` {ckpt_path!r} does not record its model class (it was not written by `lightning-gans fit`); "
            "load it in Python with `YourModule.load_from_checkpoint(path, generator=..., critic=...)`."
        )
    module = import_object(class_path, "model").load_from_checkpoint(ckpt_path, map_location="cpu")
    has_ema = getattr(module, "ema_generator", None) is not None
    if not has_ema and any(
        k.startswith("GeneratorEMA") and "ema" in v for k, v in checkpoint.get("callbacks", {}).items()
    ):
        load_ema_generator(module, checkpoint)
        has_ema = True
    if not ema and has_ema:
        module.ema_generator = None
    module.eval()
    config_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ckpt_path))), "config.yaml")
    config: dict[str, Any] = {}
    if os.path.isfile(config_path):
        with open(config_path) as f:
            config = yaml.safe_load(f) or {}
    return Run(ckpt_path, module, checkpoint, config, ema=ema and has_ema)


@torch.no_grad()
def generate(
    module: Any, n: int, seed: int, labels: Tensor | None = None, batch_size: int = 256
) -> tuple[Tensor, Tensor | None]:
    """``n`` samples (CPU) and their labels (``None`` when unconditional), reproducible from ``seed``.

    The noise (then, for conditional models without ``labels``, uniform labels) is drawn from a
    ``torch.Generator`` seeded with ``seed``; batching does not change the result.
    """
    rng = torch.Generator(device=module.device).manual_seed(seed)
    noise = module.sample_noise(n, rng)
    if labels is None and getattr(module, "num_classes", None) is not None:
        labels = module.sample_labels(n, rng)
    out = []
    for start in range(0, n, batch_size):
        z = noise[start : start + batch_size]
        if labels is None:
            out.append(module.sample(z.shape[0], noise=z).cpu())
        else:
            out.append(
                module.sample(z.shape[0], noise=z, labels=labels[start : start + batch_size].to(module.device)).cpu()
            )
    return torch.cat(out), (None if labels is None else labels.cpu())
