"""A training run as the commands see it: the module of a checkpoint, its config and its data."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CommandError", "Run", "generate", "load_run", "parse_labels"]


class CommandError(Exception):
    """Bad command-line input: printed as ``error: <message>`` with exit status 2, no traceback."""


def _import(class_path: str) -> Any:
    module_name, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


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
            CommandError: the checkpoint records no datamodule.
        """
        hparams = dict(self.checkpoint.get("datamodule_hyper_parameters") or {})
        class_path = hparams.pop("_class_path", None)
        if not isinstance(class_path, str):
            raise CommandError(
                "the checkpoint does not record its datamodule (it was not written by `lightning-gans fit`): "
                "pass the real images with `--real DIR|digits`."
            )
        kwargs = {k: v for k, v in hparams.items() if not k.startswith("_")}
        dm = _import(class_path)(**kwargs)
        dm.setup("fit")
        return dm


def load_run(ckpt_path: str, ema: bool = True) -> Run:
    """Load the module of a ``lightning-gans fit`` checkpoint on the CPU, with its EMA generator when it has one.

    Args:
        ckpt_path: the ``.ckpt`` file.
        ema: sample from the EMA generator when the checkpoint holds one (``--no_ema`` turns it off).

    Raises:
        CommandError: the file is missing or was not written by the LightningCLI (the message says why).
    """
    import yaml

    from lightning_gans.callbacks.ema import load_ema_generator

    if not os.path.isfile(ckpt_path):
        raise CommandError(f"`--ckpt_path` {ckpt_path!r} is not a file.")
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CommandError(f"`--ckpt_path` {ckpt_path!r} is not a readable checkpoint: {err}") from None
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if not isinstance(class_path, str):
        raise CommandError(
            f"`--ckpt_path` {ckpt_path!r} does not record its model class (it was not written by `lightning-gans fit`); "
            "load it in Python with `YourModule.load_from_checkpoint(path, generator=..., critic=...)`."
        )
    module = _import(class_path).load_from_checkpoint(ckpt_path, map_location="cpu")
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


def parse_labels(spec: str | None, n: int, num_classes: int | None) -> Tensor | None:
    """Labels for ``n`` samples from ``--labels``: ``"3"`` (all class 3), ``"0,1,2"`` (cycled), or ``"all"``
    (each class in turn, ``n // num_classes`` apiece, in blocks).

    Raises:
        CommandError: labels for an unconditional model, or a label outside ``[0, num_classes)``.
    """
    if spec is None:
        return None
    if num_classes is None:
        raise CommandError("`--labels` is for conditional models; this checkpoint's model has no `num_classes`.")
    if spec.strip() == "all":
        return torch.arange(num_classes).repeat_interleave(-(-n // num_classes))[:n]
    try:
        values = [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"`--labels` must be class indices like 3 or 0,1,2 or `all`, got {spec!r}.") from None
    if not values or any(not 0 <= v < num_classes for v in values):
        raise CommandError(f"`--labels` {spec!r}: every label must be in [0, {num_classes}).")
    return torch.tensor(values).repeat(-(-n // len(values)))[:n]


@torch.no_grad()
def generate(
    module: nn.Module, n: int, seed: int, labels: Tensor | None = None, batch_size: int = 256
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
