"""Share a trained generator on the Hugging Face Hub (or any directory) with ``save_pretrained`` / ``from_pretrained``.

:class:`PretrainedGenerator` is an ``nn.Module`` with huggingface_hub's ``PyTorchModelHubMixin``: it
holds one generator network, rebuilt from its ``class_path`` + ``init_args`` (as the LightningCLI
writes them), plus what is needed to use it (``latent_dim``, ``num_classes``, the output range). A
saved directory holds ``model.safetensors`` (weights, no pickle), ``config.json`` and a model card
``README.md`` with the run's config and final metrics.

Needs the ``hub`` extra: ``pip install 'lightning-gans[hub]'``.

Example:
    >>> generator = PretrainedGenerator.from_checkpoint("runs/x/checkpoints/last.ckpt")  # doctest: +SKIP
    >>> generator.save_pretrained("my-gan")                       # a local directory  # doctest: +SKIP
    >>> generator.push_to_hub("user/my-gan")                      # needs `huggingface-cli login`  # doctest: +SKIP
    >>> images = PretrainedGenerator.from_pretrained("user/my-gan").sample(16)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning_utilities.core.imports import RequirementCache
from torch import Tensor, nn
from torch.nn.utils import parametrize

from lightning_gans._checks import InputError, MissingInputError
from lightning_gans.checkpoints import import_object
from lightning_gans.layers import is_spectral_normed
from lightning_gans.protocol import check_labels_given

__all__ = ["CONFIG_FILE", "HUB_HINT", "WEIGHTS_FILE", "PretrainedGenerator", "check_pretrained_folder"]

CONFIG_FILE = "config.json"
"""The constructor arguments of a saved :class:`PretrainedGenerator` (JSON)."""

WEIGHTS_FILE = "model.safetensors"
"""The generator's weights of a saved :class:`PretrainedGenerator` (safetensors, no pickle)."""

_TASK = "unconditional-image-generation"  # the Hub's task id for a model-index entry

_HUB_AVAILABLE = RequirementCache("huggingface_hub") and RequirementCache("safetensors")
HUB_HINT = "Hub support needs huggingface_hub and safetensors: `pip install 'lightning-gans[hub]'`."

if _HUB_AVAILABLE:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData, PyTorchModelHubMixin
else:  # pragma: no cover - exercised only without the extra

    class PyTorchModelHubMixin:  # type: ignore[no-redef]
        """Stand-in that fails with an install hint."""

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ModuleNotFoundError(HUB_HINT)


_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A generator trained with lightning-gans ({{ module_class }}).

```python
from lightning_gans.hub import PretrainedGenerator

generator = PretrainedGenerator.from_pretrained("{{ repo_hint }}")
samples = generator.sample(16)  # (16, {{ sample_shape }}), values in {{ value_range }}
```

- Latent size: {{ latent_dim }}; classes: {{ num_classes }}
- Weights: {{ weights }}

## Final metrics

{{ metrics }}

## Training configuration

```yaml
{{ run_config }}
```
"""


def _plain_state_dict(net: nn.Module) -> dict[str, Tensor]:
    """``net``'s state dict with spectral normalisation folded into the weights (a plain net loads it).

    A generator trained under ``SpectralNorm(generator=True)`` stores ``parametrizations.weight.original``
    and the power-iteration vectors; the exported net is the same class without the wrapper, so its
    weight is the normalised ``W / sigma(W)`` the trained net uses in eval mode (where the power
    iteration does not run). ``net`` is not modified (its mode is restored).

    Raises:
        ValueError: a layer carries torch's deprecated hook version of spectral norm.
    """
    state = net.state_dict()
    normed = [(name, m) for name, m in net.named_modules() if is_spectral_normed(m)]
    if not normed:
        return state
    legacy = [name for name, m in normed if not parametrize.is_parametrized(m, "weight")]
    if legacy:
        raise ValueError(
            f"Layers {legacy} use `torch.nn.utils.spectral_norm` (the deprecated hook version); export supports the "
            "parametrization that `SpectralNorm` and `torch.nn.utils.parametrizations.spectral_norm` apply."
        )
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for name, module in normed:
                prefix = f"{name}." if name else ""
                for key in [k for k in state if k.startswith(f"{prefix}parametrizations.weight.")]:
                    del state[key]
                state[f"{prefix}weight"] = module.weight.detach().clone()
    finally:
        net.train(was_training)
    return state


def check_pretrained_folder(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a saved :class:`PretrainedGenerator` folder, after checking both of its files.

    Checks, each an error naming the file and what was expected: ``config.json`` exists, is JSON
    (not cut) and holds ``generator`` (``class_path`` + ``init_args``) and ``latent_dim``;
    ``model.safetensors`` exists and reads whole (a truncated or foreign file is refused).

    Raises:
        MissingInputError: the folder, ``config.json`` or ``model.safetensors`` does not exist.
        InputError: a file is cut, not JSON / safetensors, or ``config.json`` lacks a key.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = os.fspath(folder)
    expected = (
        f"a folder written by `save_pretrained` or `lightning-gans export` holds {CONFIG_FILE} and {WEIGHTS_FILE}"
    )
    if not os.path.isdir(folder):
        raise MissingInputError(f"{folder!r} is not a folder ({expected}).")
    config_path, weights_path = os.path.join(folder, CONFIG_FILE), os.path.join(folder, WEIGHTS_FILE)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise MissingInputError(f"{folder!r} holds no {os.path.basename(path)} ({expected}).")
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{config_path!r} is not valid JSON ({err}); the file may be cut: export it again.") from None
    generator = config.get("generator") if isinstance(config, dict) else None
    if (
        not isinstance(generator, dict)
        or not isinstance(generator.get("class_path"), str)
        or "latent_dim" not in config
    ):
        raise InputError(
            f"{config_path!r} must be a JSON object with `generator` ({{'class_path': ..., 'init_args': {{...}}}}) and "
            f"`latent_dim`, as `save_pretrained` writes it; got {str(config)[:200]}."
        )
    try:
        load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(
            f"{weights_path!r} is not a readable safetensors file ({err}); it may be truncated: export it again."
        ) from None
    return config


class PretrainedGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="lightning-gans",
    tags=["gan", "lightning-gans", "pytorch-lightning", "image-generation"],
    model_card_template=_CARD_TEMPLATE,
):
    """A generator network that saves to and loads from a directory or the Hugging Face Hub.

    Args:
        generator: the network as ``{"class_path": "lightning_gans.nets.DCGANGenerator", "init_args": {...}}``;
            the class must be an ``nn.Module`` importable from that path.
        latent_dim: size of the noise vectors ``z ~ N(0, I)``.
        num_classes: number of classes of a conditional generator (called ``generator(z, labels)``), or ``None``.
        value_range: ``(low, high)`` of the generator's outputs (``(-1, 1)`` for tanh).
        run_config: the training run's configuration (shown in the model card; kept in ``config.json``).
        metrics: final evaluation metrics, e.g. ``{"fid": 12.3}`` (shown in the model card, and as its
            ``model-index`` metadata).
        source: a description of where the weights come from (e.g. the EMA generator of a checkpoint).
        license: the weights' licence as a Hub licence id (e.g. ``"apache-2.0"``, ``"cc-by-4.0"``), written to
            the model card's metadata; ``None`` writes ``other`` (the licence is the owner's to choose).

    Raises:
        ValueError: ``generator`` is not a ``class_path`` dict of an ``nn.Module``, or its ``init_args`` do not
            build that class (an :class:`~lightning_gans._checks.InputError`).
        ModuleNotFoundError: huggingface_hub / safetensors are not installed (``pip install 'lightning-gans[hub]'``).
    """

    def __init__(
        self,
        generator: Mapping[str, Any],
        latent_dim: int,
        num_classes: int | None = None,
        value_range: Sequence[float] = (-1.0, 1.0),
        run_config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        source: str = "",
        license: str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(generator, Mapping) or not isinstance(generator.get("class_path"), str):
            raise ValueError(f"`generator` must be a dict with `class_path` and `init_args`, got {generator!r}.")
        cls = import_object(generator["class_path"], "generator")
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ValueError(f"`generator` class_path {generator['class_path']!r} is not an nn.Module class.")
        init_args = dict(generator.get("init_args") or {})
        try:
            self.generator = cls(**init_args)
        except (TypeError, ValueError) as err:
            raise InputError(
                f"`generator` init_args {init_args} do not build {generator['class_path']}: {err}"
            ) from err
        self.generator_config = {
            "class_path": generator["class_path"],
            "init_args": dict(generator.get("init_args") or {}),
        }
        self.latent_dim = int(latent_dim)
        self.num_classes = num_classes
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.run_config = dict(run_config or {})
        self.metrics = dict(metrics or {})
        self.source = source
        self.license = license
        self.eval()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> PretrainedGenerator:
        """Load from a local folder or a Hub repository (``PyTorchModelHubMixin.from_pretrained``), checked first.

        A local folder is checked by :func:`check_pretrained_folder` before anything is built; weights that do
        not fit the generator ``config.json`` builds are an error naming both files.

        Raises:
            MissingInputError: the folder or one of its files does not exist.
            InputError: a file is cut or invalid, or the weights do not fit the generator.
        """
        where = os.fspath(pretrained_model_name_or_path)
        if os.path.isdir(where):
            check_pretrained_folder(where)
        try:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        except RuntimeError as err:  # load_state_dict: missing/unexpected keys, other shapes
            raise InputError(
                f"{os.path.join(where, WEIGHTS_FILE)!r} does not fit the generator that {CONFIG_FILE}'s `generator` "
                f"builds (other init_args than the weights were trained with?): {str(err).splitlines()[0]} ..."
            ) from None
        except InputError as err:
            raise InputError(f"{os.path.join(where, CONFIG_FILE)!r}: {err}") from None

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The generator's output for noise ``z`` ``(N, latent_dim)`` (and ``labels`` ``(N,)`` when conditional)."""
        check_labels_given(labels, self.num_classes, "this generator")
        return self.generator(z) if self.num_classes is None else self.generator(z, labels)

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, rng: torch.Generator | None = None) -> Tensor:
        """``n`` samples in eval mode: noise from ``rng`` and, for a conditional generator without ``labels``, uniform labels."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=rng, device=device)
        if self.num_classes is not None and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=rng, device=device)
        was_training = self.training
        self.eval()
        try:
            return self(z, None if labels is None else labels.to(device))
        finally:
            self.train(was_training)

    @classmethod
    def from_module(
        cls,
        module: nn.Module,
        *,
        ema: bool = True,
        generator_config: Mapping[str, Any] | None = None,
        value_range: Sequence[float] = (-1.0, 1.0),
        run_config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        license: str | None = None,
    ) -> PretrainedGenerator:
        """The generator of an adversarial module (its EMA generator when set and ``ema``), weights copied.

        Args:
            module: e.g. a reloaded ``WGANGP``; needs ``generator``, ``latent_dim`` and optionally
                ``ema_generator`` and ``num_classes``.
            generator_config: ``class_path`` + ``init_args`` of the generator; default: the module's
                hyper-parameter ``generator`` as the LightningCLI saves it.
            license: the weights' licence (see the class).

        Raises:
            ValueError: no ``generator_config`` and the module's hyper-parameters do not hold one.
        """
        net: Any = module  # an AdversarialModule (or any module with the attributes named above)
        config = generator_config or (getattr(module, "hparams", {}) or {}).get("generator")
        if not isinstance(config, Mapping) or "class_path" not in config:
            raise ValueError(
                "`generator_config` is needed: this module was not made by the LightningCLI, so its hyper-parameters do "
                "not record how to build the generator. Pass {'class_path': ..., 'init_args': {...}}."
            )
        source_net = net.ema_generator if ema and getattr(net, "ema_generator", None) is not None else net.generator
        out = cls(
            dict(config),
            net.latent_dim,
            getattr(net, "num_classes", None),
            value_range,
            run_config,
            metrics,
            source=f"{'EMA generator' if source_net is not net.generator else 'generator'} of a {type(module).__name__}",
            license=license,
        )
        out.generator.load_state_dict(_plain_state_dict(source_net))
        return out

    @classmethod
    def from_checkpoint(
        cls,
        ckpt_path: str,
        *,
        ema: bool = True,
        metrics: Mapping[str, float] | None = None,
        license: str | None = None,
    ) -> PretrainedGenerator:
        """The generator of a ``lightning-gans fit`` checkpoint, with its run's ``config.yaml`` for the model card."""
        from lightning_gans.runs import load_run

        run = load_run(ckpt_path, ema=ema)
        return cls.from_module(
            run.module, ema=ema, value_range=run.value_range(), run_config=run.config, metrics=metrics, license=license
        )

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card: usage, the final metrics as a table and the run's config as YAML."""
        import yaml

        from lightning_gans.evaluation.report import format_metrics_table

        config = self.run_config or {"generator": self.generator_config, "latent_dim": self.latent_dim}
        probe = self.sample(1).shape[1:]
        kwargs.setdefault("title", f"{self.generator_config['class_path'].rpartition('.')[2]} (lightning-gans)")
        kwargs.setdefault("repo_hint", "<user>/<repo>")
        kwargs.setdefault("module_class", (self.run_config.get("model") or {}).get("class_path", "AdversarialModule"))
        kwargs.setdefault("sample_shape", ", ".join(str(d) for d in probe))
        kwargs.setdefault("value_range", f"[{self.value_range[0]:g}, {self.value_range[1]:g}]")
        kwargs.setdefault("latent_dim", self.latent_dim)
        kwargs.setdefault("num_classes", self.num_classes if self.num_classes is not None else "unconditional")
        kwargs.setdefault("weights", self.source or "generator")
        kwargs.setdefault(
            "metrics",
            "    " + format_metrics_table(self.metrics).replace("\n", "\n    ") if self.metrics else "Not evaluated.",
        )
        kwargs.setdefault(
            "run_config", yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False).rstrip()
        )
        card = super().generate_model_card(*args, **kwargs)
        data = card.data.to_dict()
        data["license"] = self.license or "other"
        if self.metrics:  # model-index: one entry per metric, on the run's data
            data_class = str((self.run_config.get("data") or {}).get("class_path", "unknown"))
            data["model_name"] = kwargs["title"]
            data["eval_results"] = [
                EvalResult(
                    task_type=_TASK,
                    dataset_type=data_class,
                    dataset_name=data_class.rpartition(".")[2],
                    metric_type=name,
                    metric_value=float(value),
                )
                for name, value in self.metrics.items()
            ]
        card.data = ModelCardData(**data)  # a new object: the class's card data stays as it is
        return card
