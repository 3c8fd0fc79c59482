"""Weight clipping of the critic after every critic optimizer step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from torch import nn

from lightning_gans.layers import NORM_LAYERS
from lightning_gans.protocol import critic_optimizer, require

__all__ = ["NORM_LAYERS", "WeightClipping"]

ParameterFilter = Callable[[str, nn.Parameter], bool]


def _all(critic: nn.Module) -> ParameterFilter:
    return lambda name, p: True


def _skip_norm(critic: nn.Module) -> ParameterFilter:
    norm_ids = {id(p) for m in critic.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters(recurse=False)}
    return lambda name, p: id(p) not in norm_ids


_FILTERS: dict[str, Callable[[nn.Module], ParameterFilter]] = {"all": _all, "skip_norm": _skip_norm}


class WeightClipping(Callback):
    """Clamp the critic's parameters to ``[-clip_value, clip_value]`` after every critic update.

    WGAN, Algorithm 1 line 7 (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875): the clamp
    keeps the critic in a compact set of K-Lipschitz functions.

    The clamp runs in a post-step hook of the critic's optimizer (``register_step_post_hook``,
    registered in ``on_fit_start``), so it follows every critic step and nothing else: not
    generator steps, and not a step that AMP's GradScaler skipped on inf/NaN gradients.

    Module protocol: ``pl_module.critic`` (an ``nn.Module``) and ``configure_optimizers()``
    returning ``[generator_optimizer, critic_optimizer]``; the second must hold the critic's
    parameters (checked in ``on_fit_start``).

    Clipping a spectral-normed weight is rejected: spectral normalisation already bounds the layer's
    Lipschitz constant and divides the clipped ``original`` by its norm, so the clamp would only
    distort the weight's direction. Use one constraint, or exclude those weights with ``parameter_filter``.

    Args:
        clip_value: c > 0 (the paper's default 0.01).
        parameter_filter: which critic parameters to clip: ``"all"`` (default), ``"skip_norm"`` (leave
            the affine parameters of normalisation layers, :data:`NORM_LAYERS`, unclipped) or a
            callable ``(name, parameter) -> bool`` over ``critic.named_parameters()``.

    Raises:
        ValueError: ``clip_value`` is not > 0, ``parameter_filter`` is an unknown name, or a
            spectral-normed weight would be clipped.
        TypeError: the module does not follow the protocol.

    Example:
        >>> trainer = Trainer(callbacks=[WeightClipping(0.01, parameter_filter="skip_norm")])  # doctest: +SKIP
    """

    def __init__(self, clip_value: float = 0.01, parameter_filter: str | ParameterFilter | None = None) -> None:
        if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float)) or not clip_value > 0:
            raise ValueError(f"`clip_value` must be a number > 0, got {clip_value!r}.")
        if isinstance(parameter_filter, str) and parameter_filter not in _FILTERS:
            raise ValueError(
                f"Unknown `parameter_filter` {parameter_filter!r}; expected one of {sorted(_FILTERS)} or a callable."
            )
        if parameter_filter is not None and not isinstance(parameter_filter, str) and not callable(parameter_filter):
            raise ValueError(f"`parameter_filter` must be a name, a callable or None, got {parameter_filter!r}.")
        self.clip_value = float(clip_value)
        self._filter = parameter_filter if parameter_filter is not None else "all"
        self._params: list[nn.Parameter] = []
        self._handle: Any = None
        #: How many times this callback clipped the critic (once per critic optimizer step).
        self.clip_events = 0

    def on_fit_start(self, trainer: Trainer, pl_module: Any) -> None:
        require(pl_module, self, "critic", "critic_optimizer")
        critic = pl_module.critic
        keep = _FILTERS[self._filter](critic) if isinstance(self._filter, str) else self._filter
        named = [(n, p) for n, p in critic.named_parameters() if keep(n, p)]
        normed = [n for n, _ in named if n.endswith("parametrizations.weight.original")]
        if normed:
            raise ValueError(
                f"WeightClipping would clip spectral-normed weights ({', '.join(normed[:3])}...): spectral "
                "normalisation already bounds each layer's Lipschitz constant, and clipping its `original` only "
                "distorts the weight. Remove one of the two (e.g. `WGAN(clip_value=None)`) or exclude them "
                "with `parameter_filter`."
            )
        critic_opt = critic_optimizer(pl_module)
        in_opt = {id(p) for group in critic_opt.param_groups for p in group["params"]}
        if named and id(named[0][1]) not in in_opt:
            raise TypeError(
                "WeightClipping: the module's `critic_optimizer` does not optimise the critic's parameters."
            )
        self._params = [p for _, p in named]
        self._remove_hook()
        self._handle = critic_opt.register_step_post_hook(self._clip)

    def _clip(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for p in self._params:
                p.clamp_(-self.clip_value, self.clip_value)
        self.clip_events += 1

    def teardown(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        self._remove_hook()

    def _remove_hook(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
