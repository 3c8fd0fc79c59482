"""What the adversarial modules need from Lightning's strategies, arranged in ``setup``.

Tested on CPU with gloo (tests/test_ddp.py): ``"ddp"`` (Lightning's launcher), multi-node via the
torchrun environment, ``"ddp_spawn"`` checked by hand. FSDP is refused on CPU by Lightning itself,
so it is untested here and warned about; DeepSpeed is rejected. See docs/scaling.md.

The strategy's checkpoint IO is wrapped so that checkpoints are never broken (tests/test_faults_checkpoints.py):

* **saving** refuses a checkpoint whose weights or optimizer state hold NaN/inf (the error names the
  tensors; files already on disk are left as they were) and writes local files atomically (a
  temporary file renamed over the old one, so a crash mid-write never leaves half a ``last.ckpt``);
* **loading** (``fit(ckpt_path=...)``) names ``ckpt_path`` for a missing, empty, truncated or
  corrupted file (zip CRC check) and for non-finite weights or optimizer state; refuses a checkpoint
  of another module class or of other network shapes; and keeps the optimizer settings the module
  was built with (learning rates, betas, ...) while restoring the optimizer state (moments, step
  counts), so a resume with new settings uses them. An optimizer of another class starts afresh.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from lightning_gans._compat import WrappingCheckpointIO, ddp_kwargs

try:  # deepspeed's strategy class imports without deepspeed installed
    from lightning.pytorch.strategies import DeepSpeedStrategy
except ImportError:  # pragma: no cover
    DeepSpeedStrategy = ()  # type: ignore[assignment,misc]

__all__ = [
    "load_checkpoint_file",
    "non_finite_entries",
    "prepare_strategy",
    "refuse_non_finite",
    "resolve_class",
    "saved_class_path",
]

_OPTIMIZER_NAMES = ("generator_optimizer", "critic_optimizer")  # the order of configure_optimizers


def prepare_strategy(trainer: Trainer) -> None:
    """Make the trainer's strategy able to run critic/generator alternation, and guard its checkpoints.

    Each update backpropagates through one network only, so DDP must expect unused parameters
    (Lightning-AI/pytorch-lightning#20328). ``strategy="ddp"`` leaves ``find_unused_parameters``
    unset and is switched on here, before the model is wrapped; an explicit ``False`` is an error.
    The checkpoint IO is wrapped as described in this file's docstring.

    Raises:
        ValueError: DeepSpeed (one optimizer only) or DDP with ``find_unused_parameters=False``.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise ValueError(
            "`strategy`: DeepSpeed supports a single optimizer, but adversarial training steps a generator and a "
            "critic optimizer. Use strategy='ddp' (or 'fsdp')."
        )
    if isinstance(strategy, FSDPStrategy):
        rank_zero_warn(
            "`strategy`: FSDP is untested with lightning-gans (Lightning refuses it on CPU, where our tests run); "
            "strategy='ddp' is the tested way to scale out. See docs/scaling.md."
        )
    if isinstance(strategy, DDPStrategy):
        kwargs = ddp_kwargs(strategy)
        if kwargs.get("find_unused_parameters") is False:
            raise ValueError(
                "`strategy`: DDP with find_unused_parameters=False cannot train a GAN, whose updates each leave one "
                "network without gradients. Use strategy='ddp'; the module enables find_unused_parameters itself."
            )
        kwargs["find_unused_parameters"] = True
    if hasattr(strategy, "checkpoint_io") and not isinstance(strategy.checkpoint_io, _GuardedCheckpointIO):
        strategy.checkpoint_io = _GuardedCheckpointIO(strategy.checkpoint_io, trainer)


# ----------------------------------------------------------------------------------------------
def non_finite_entries(checkpoint: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of a checkpoint's weights and optimizer states holding NaN/inf.

    Only ``state_dict`` and ``optimizer_states`` are checked: other entries may hold infinities on
    purpose (``ModelCheckpoint`` keeps ``kth_value = inf`` until it has a score).
    """
    entries = {
        "state_dict": checkpoint.get("state_dict") or {},
        "optimizer_states": checkpoint.get("optimizer_states") or [],
    }
    return [name for name, t in _tensors(entries) if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def _tensors(items: Any, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
    pairs = items.items() if isinstance(items, dict) else enumerate(items) if isinstance(items, (list, tuple)) else None
    if pairs is None:
        return
    for key, value in pairs:
        name = f"{prefix}[{key!r}]" if prefix else str(key)
        if isinstance(value, Tensor):
            yield name, value
        elif isinstance(value, (dict, list, tuple)):
            yield from _tensors(value, name)


def _listed(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_checkpoint_file(path: Any, load: Any | None = None) -> dict[str, Any]:
    """Load a checkpoint, or raise an error naming ``ckpt_path`` and what is wrong with the file.

    Args:
        path: the checkpoint file.
        load: ``load(path) -> dict``; default ``torch.load(path, map_location="cpu", weights_only=True)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, truncated, corrupted (a zip member fails its CRC check), not a
            checkpoint, or its weights or optimizer state are not finite.
    """
    local = isinstance(path, (str, os.PathLike)) and "://" not in str(path)
    if local:
        if not os.path.exists(path):
            raise FileNotFoundError(f"`ckpt_path` {str(path)!r} does not exist.")
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise ValueError(
                f"`ckpt_path` {str(path)!r} is empty (0 bytes): the write that made it was interrupted. Resume from an earlier checkpoint."
            )
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    bad_member = archive.testzip()  # reads every member and checks its CRC-32
                damage = None if bad_member is None else f"its member {bad_member!r} fails the zip CRC check"
            except Exception as err:  # damaged headers: BadZipFile, UnicodeDecodeError of a name, zlib.error, ...
                damage = f"its zip structure cannot be read ({type(err).__name__}: {err})"
            if damage is not None:
                raise ValueError(
                    f"`ckpt_path` {str(path)!r} is corrupted: {damage} (bytes changed after it was written). "
                    "Resume from an earlier checkpoint."
                )
    try:
        checkpoint = load(path) if load is not None else torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"`ckpt_path` {str(path)!r} does not exist.") from err
    except Exception as err:  # torch raises UnpicklingError/RuntimeError/EOFError for truncated or foreign files
        raise ValueError(
            f"`ckpt_path` {str(path)!r} is not a readable checkpoint (corrupt, truncated or not written by "
            f"Lightning; torch.load raised {type(err).__name__}, chained below). Do not retry with "
            "weights_only=False on a file you did not write yourself."
        ) from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f"`ckpt_path` {str(path)!r} holds a {type(checkpoint).__name__}, not a Lightning checkpoint.")
    bad = non_finite_entries(checkpoint)
    if bad:
        raise ValueError(
            f"`ckpt_path` {str(path)!r} holds non-finite values in {_listed(bad)}: resuming would train on NaN/inf. "
            "Resume from an earlier checkpoint."
        )
    return checkpoint


def refuse_non_finite(checkpoint: dict[str, Any], path: Any = None) -> None:
    """Raise :class:`~lightning_gans.callbacks.divergence_guard.DivergenceError` if ``checkpoint`` holds NaN/inf.

    Called by the checkpoint IO before a write (with the ``path``) and, under DDP, by the module's
    ``on_save_checkpoint`` on **every** rank (without it): only rank 0 writes, so a refusal there alone
    would leave the other ranks waiting at the checkpoint barrier. DDP keeps the ranks' weights
    equal, so they all refuse together.
    """
    bad = non_finite_entries(checkpoint)
    if not bad:
        return
    from lightning_gans.callbacks.divergence_guard import DivergenceError

    what = f"checkpoint {str(path)!r}" if path is not None else "a checkpoint (every rank stops)"
    raise DivergenceError(
        f"Refused to write {what}: non-finite values in {_listed(bad)} at global step "
        f"{checkpoint.get('global_step')}; checkpoints already on disk are left as they were. Training diverged "
        "or the data holds NaN/inf: add the DivergenceGuard callback to stop at the first non-finite update and "
        "see its cause."
    )


class _GuardedCheckpointIO(WrappingCheckpointIO):
    """Delegates to the strategy's checkpoint IO, with the checks of this file's docstring."""

    def __init__(self, checkpoint_io: Any, trainer: Trainer) -> None:
        super().__init__(checkpoint_io)
        self._trainer = trainer

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        refuse_non_finite(checkpoint, path)
        local = isinstance(path, (str, os.PathLike)) and "://" not in str(path) and storage_options is None
        if not local:
            self.checkpoint_io.save_checkpoint(checkpoint, path, storage_options=storage_options)
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        partial = f"{path}.partial"
        try:
            self.checkpoint_io.save_checkpoint(checkpoint, partial)
            os.replace(partial, path)  # atomic: readers see the old file or the new one, never half of one
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        checkpoint = load_checkpoint_file(
            path, lambda p: self.checkpoint_io.load_checkpoint(p, map_location=map_location, weights_only=weights_only)
        )
        module = self._trainer.lightning_module
        if module is not None:
            _check_same_class(module, checkpoint, path)
            _check_same_shapes(module, checkpoint, path)
            _keep_configured_optimizer_settings(module, checkpoint)
        return checkpoint


def saved_class_path(checkpoint: dict[str, Any]) -> str | None:
    """The module class a checkpoint was written by, as an import path, if it says.

    The LightningCLI's ``_class_path`` (as the user spelt it, e.g. ``lightning_gans.WGAN``) first, else
    the class the module recorded in its own state (``lightning_gans.modules.WGAN``).
    """
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if isinstance(class_path, str):
        return class_path
    state = checkpoint.get("lightning_gans")
    return state["class_path"] if isinstance(state, dict) and isinstance(state.get("class_path"), str) else None


def resolve_class(class_path: str) -> type | None:
    """The class an import path such as ``"lightning_gans.WGAN"`` names, or ``None``."""
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return None


def _check_same_class(module: Any, checkpoint: dict[str, Any], path: Any) -> None:
    class_path = saved_class_path(checkpoint)
    saved = resolve_class(class_path) if class_path else None
    if saved is not None and saved is not type(module):
        raise TypeError(
            f"`ckpt_path` {str(path)!r} holds a {class_path}, but the module being trained is a {type(module).__name__}: "
            f"the module class cannot change on resume. Resume with a {saved.__name__} (CLI: `--model {class_path}`), "
            f"or start the {type(module).__name__} from scratch."
        )


def _check_same_shapes(module: Any, checkpoint: dict[str, Any], path: Any) -> None:
    saved = checkpoint.get("state_dict") or {}
    for name, tensor in module.state_dict().items():
        old = saved.get(name)
        if isinstance(old, Tensor) and isinstance(tensor, Tensor) and old.shape != tensor.shape:
            network = name.split(".")[0]
            raise ValueError(
                f"`{network}` has other shapes than in `ckpt_path` {str(path)!r}: {name} is {tuple(tensor.shape)} here and "
                f"{tuple(old.shape)} in the checkpoint. Network shapes cannot change on resume: build the `{network}` as "
                "it was, or start from scratch."
            )


def _keep_configured_optimizer_settings(module: Any, checkpoint: dict[str, Any]) -> None:
    """Put the optimizer settings the module was built with into the checkpoint's optimizer states.

    ``Optimizer.load_state_dict`` restores ``param_groups`` settings (lr, betas, ...) along with the
    state, so new settings given for a resume would be silently replaced by the old ones. Here the
    fresh optimizers' settings overwrite the saved ones; the saved state (moments, step counts) is
    kept. With learning-rate schedulers in the checkpoint, ``lr`` stays as saved (schedulers own it).
    """
    saved_states = checkpoint.get("optimizer_states")
    configure = getattr(module, "configure_optimizers", None)
    if not saved_states or configure is None:
        return
    fresh = configure()
    if (
        not isinstance(fresh, (list, tuple))
        or len(fresh) != len(saved_states)
        or not all(isinstance(o, torch.optim.Optimizer) for o in fresh)
    ):
        return
    scheduled = {"lr", "initial_lr"} if checkpoint.get("lr_schedulers") else set()
    for i, (opt, saved) in enumerate(zip(fresh, saved_states)):
        name = _OPTIMIZER_NAMES[i] if len(fresh) == 2 else f"optimizer {i}"
        new_groups = opt.state_dict()["param_groups"]
        old_groups = saved.get("param_groups", [])
        if len(new_groups) != len(old_groups):
            continue
        if any(set(n) != set(o) for n, o in zip(new_groups, old_groups)):
            checkpoint["optimizer_states"][i] = opt.state_dict()
            rank_zero_warn(
                f"`{name}` is a {type(opt).__name__} now and was another optimizer in the checkpoint: its state starts afresh."
            )
            continue
        changed = set()
        for new, old in zip(new_groups, old_groups):
            for key, value in new.items():
                if key != "params" and key not in scheduled and _differs(old[key], value):
                    changed.add(f"{key}={value!r} (checkpoint: {old[key]!r})")
                    old[key] = value
        if changed:
            rank_zero_info(f"Resuming with `{name}` {', '.join(sorted(changed))}.")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape and bool(torch.equal(a, b)))
    return a != b
