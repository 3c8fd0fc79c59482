"""Checkpoints: class paths, the module's own state, and file IO that never breaks a run.

One home for everything a checkpoint means to lightning-gans, used by the modules, the CLI, the Hub
export and the commands:

* **class paths**: :func:`import_object` imports ``"package.module.Name"``; :func:`class_path` writes one;
* **what a checkpoint is of**: :func:`module_identity` records the module's class, its lightning-gans
  base class and the loss and penalty it trains with; :func:`check_class` refuses to load or resume
  a checkpoint as another module class, also when the saved class cannot be imported (a subclass
  defined in a training script, loaded elsewhere);
* **the module's state**: :func:`save_module_state` / :func:`load_module_state` (update counters,
  noise seed, the global RNG states that a plain shuffling ``DataLoader`` draws from);
* **file IO**: :func:`load_checkpoint_file` names the file and what is wrong with it (missing,
  empty, truncated, corrupted, non-finite); :class:`GuardedCheckpointIO` refuses to write non-finite
  weights, writes atomically, and on resume checks class and shapes and keeps the optimizer
  settings the module was built with;
* **hyper-parameters**: :func:`unsaved_arguments` and :func:`keep_cli_config` keep ``hparams`` to
  what a checkpoint can hold with ``weights_only=True``.
"""

from __future__ import annotations

import importlib
import os
import random
import zipfile
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from lightning_gans._checks import InputError, MissingInputError
from lightning_gans._compat import WrappingCheckpointIO, given_hyperparameters, hparams_dict

__all__ = [
    "STATE_KEY",
    "GuardedCheckpointIO",
    "check_class",
    "class_path",
    "global_rng_state",
    "import_object",
    "is_plain",
    "keep_cli_config",
    "load_checkpoint_file",
    "load_module_state",
    "module_identity",
    "non_finite_entries",
    "refuse_non_finite",
    "save_module_state",
    "saved_class_path",
    "set_global_rng_state",
    "unsaved_arguments",
]

STATE_KEY = "lightning_gans"
"""The checkpoint entry holding the module's own state (:func:`save_module_state`)."""

_OPTIMIZER_NAMES = ("generator_optimizer", "critic_optimizer")  # the order of configure_optimizers
_COUNTERS = ("critic_steps", "generator_steps", "_cycle_position", "noise_seed")


# -- class paths ---------------------------------------------------------------------------------
def import_object(path: str, what: str = "class_path") -> Any:
    """The object an import path such as ``"lightning_gans.nets.DCGANGenerator"`` names.

    Raises:
        InputError: the path has no module part, or the module or name cannot be imported (naming ``what``).
    """
    module_name, _, name = str(path).rpartition(".")
    if not module_name:
        raise InputError(f"`{what}` {path!r} is not an import path like 'package.module.Name'.")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise InputError(f"`{what}` {path!r} cannot be imported: {err}.") from err


def _try_import(path: str) -> Any:
    try:
        return import_object(path)
    except InputError:
        return None


def class_path(cls: type) -> str:
    """The import path of a class as :func:`import_object` reads it: its shortest public one for our own
    classes (``lightning_gans.WGANGP``, not ``lightning_gans.modules.variants.WGANGP``)."""
    parts = cls.__module__.split(".")
    for depth in range(1, len(parts)) if parts[0] == "lightning_gans" else ():
        package = ".".join(parts[:depth])
        if getattr(importlib.import_module(package), cls.__qualname__, None) is cls:
            return f"{package}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _base_class(cls: type) -> type:
    """The nearest class of ``cls``'s MRO defined in lightning-gans (``cls`` itself for our own classes)."""
    return next((c for c in cls.__mro__ if c.__module__.startswith("lightning_gans.")), cls)


def module_identity(module: Any) -> dict[str, str | None]:
    """What a checkpoint is of: the class, its lightning-gans base class, the loss and the penalty."""
    from lightning_gans.losses import loss_name
    from lightning_gans.penalties import penalty_name

    cls = type(module)
    return {
        "class_path": class_path(cls),
        "base_class": class_path(_base_class(cls)),
        "loss": loss_name(module.loss),
        "penalty": penalty_name(module.penalty),
    }


def saved_class_path(checkpoint: dict[str, Any]) -> str | None:
    """The module class a checkpoint was written by, as an import path, if it says.

    The LightningCLI's ``_class_path`` (as the user spelt it, e.g. ``lightning_gans.WGAN``) first, else
    the class the module recorded in its own state.
    """
    spelt = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if isinstance(spelt, str):
        return spelt
    state = checkpoint.get(STATE_KEY)
    return state.get("class_path") if isinstance(state, dict) and isinstance(state.get("class_path"), str) else None


def check_class(module: Any, checkpoint: dict[str, Any], where: str = "This checkpoint") -> None:
    """Refuse to load ``checkpoint`` into ``module`` when it was written by another module class.

    An importable saved class must be ``type(module)`` itself. A saved class that cannot be imported
    here (e.g. ``__main__.MyGAN`` of a training script) must at least have the module's class name, the
    same lightning-gans base class and the same loss and penalty; anything else would load the
    weights into a module that trains or samples differently, without a word.

    Args:
        module: the module (or module class) being loaded or resumed.
        checkpoint: the checkpoint dictionary.
        where: how the message names the checkpoint (e.g. "`ckpt_path` 'x.ckpt'").

    Raises:
        TypeError: naming both classes and how to load the checkpoint instead.
    """
    saved_path = saved_class_path(checkpoint)
    if saved_path is None:
        return
    cls = module if isinstance(module, type) else type(module)
    saved = _try_import(saved_path)
    if saved is not None:
        if saved is not cls:
            raise TypeError(
                f"{where} holds a {saved_path}, but the module is a {class_path(cls)}: the module class cannot change. "
                f"Load it with `{saved_path.rpartition('.')[2]}.load_from_checkpoint(...)` (CLI: `--model {saved_path}`), "
                f"or start the {cls.__name__} from scratch."
            )
        return
    state: dict[str, Any] = checkpoint.get(STATE_KEY) or {}
    recorded = {k: state.get(k) for k in ("base_class", "loss", "penalty") if state.get(k) is not None}
    ours: dict[str, str | None] = {"base_class": class_path(_base_class(cls))}
    if not isinstance(module, type):
        ours = module_identity(module)
    differs = [f"{k} {v!r} (here: {ours.get(k)!r})" for k, v in recorded.items() if k in ours and ours[k] != v]
    if saved_path.rpartition(".")[2] != cls.__qualname__.rpartition(".")[2] or differs:
        what = f"; it was trained as {', '.join(differs)}" if differs else ""
        raise TypeError(
            f"{where} was written by {saved_path}, which cannot be imported here, and the module is a "
            f"{class_path(cls)}{what}. Loading it as another class would train or sample with another objective: "
            f"import or define {saved_path.rpartition('.')[2]} and load it through that class."
        )


# -- the module's own state ----------------------------------------------------------------------
def global_rng_state() -> dict[str, Any]:
    """The torch, numpy and Python global RNG states, as tensors and lists (``weights_only``-loadable)."""
    kind, keys, pos, has_gauss, gauss = cast(tuple, np.random.get_state(legacy=True))
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`global_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))


def save_module_state(module: Any, checkpoint: dict[str, Any]) -> None:
    """Write the module's counters, noise seed, global RNG states and identity into ``checkpoint``."""
    checkpoint[STATE_KEY] = {
        **{name.lstrip("_"): int(getattr(module, name)) for name in _COUNTERS},
        "global_rng": global_rng_state(),
        **module_identity(module),
    }


def load_module_state(module: Any, checkpoint: dict[str, Any], resuming: bool) -> None:
    """Restore what :func:`save_module_state` wrote (checking the class first).

    The global RNG states are restored only when ``resuming`` a fit: a plain shuffling ``DataLoader``
    draws its next order from them (Lightning does not checkpoint them); loading a model alone
    leaves the caller's RNGs be.
    """
    check_class(module, checkpoint)
    state = checkpoint.get(STATE_KEY)
    if not isinstance(state, dict):
        return
    for name in _COUNTERS:
        setattr(module, name, int(state[name.lstrip("_")]))
    if resuming and "global_rng" in state:
        set_global_rng_state(state["global_rng"])


# -- hyper-parameters ----------------------------------------------------------------------------
def is_plain(value: Any) -> bool:
    """Whether ``value`` is made of None, bools, numbers, strings, lists and str-keyed dicts only."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    return False


def unsaved_arguments(**arguments: Any) -> list[str]:
    """The names of ``arguments`` that ``save_hyperparameters`` must leave out (objects, not config).

    Networks live in the state dict; callables (optimizer factories, losses, penalties) cannot be
    loaded with ``weights_only=True``. Under the LightningCLI they arrive as plain config dicts (the
    values the CLI hands to the module, not the objects built from them) and are kept, so
    ``load_from_checkpoint(path)`` rebuilds a CLI-made module alone; a module built in Python is
    reloaded with ``load_from_checkpoint(path, generator=G, critic=D)``.
    """
    given = given_hyperparameters()
    values = arguments if given is None else given
    return [name for name in arguments if name in values and not is_plain(values[name])]


def keep_cli_config(module: Any, checkpoint: dict[str, Any]) -> None:
    """Carry a CLI-made checkpoint's config (networks as ``class_path`` dicts, ``_instantiator``) over.

    ``load_from_checkpoint`` rebuilds such a module from its config but outside the CLI's context,
    where ``save_hyperparameters`` drops the (then instantiated) networks; without this, saving the
    reloaded module would write a checkpoint that no longer loads on its own.
    """
    saved = checkpoint.get("hyper_parameters") or {}
    if "_class_path" not in saved:
        return
    hparams = hparams_dict(module)
    for key, value in saved.items():
        if key not in hparams and is_plain(value):
            hparams[key] = value


# -- file IO -------------------------------------------------------------------------------------
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
    for key, value in pairs or ():
        name = f"{prefix}[{key!r}]" if prefix else str(key)
        if isinstance(value, Tensor):
            yield name, value
        elif isinstance(value, (dict, list, tuple)):
            yield from _tensors(value, name)


def _listed(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _is_local(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and "://" not in str(path)


def _zip_damage(path: Any) -> str | None:
    """Why the zip archive at ``path`` cannot be trusted, or ``None`` (also for files that are no zip)."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()  # reads every member and checks its CRC-32
    except Exception as err:  # damaged headers: BadZipFile, UnicodeDecodeError of a name, zlib.error, ...
        return f"its zip structure cannot be read ({type(err).__name__}: {err})"
    return None if bad_member is None else f"its member {bad_member!r} fails the zip CRC check"


def load_checkpoint_file(path: Any, load: Any = None, argument: str = "ckpt_path") -> dict[str, Any]:
    """Load a checkpoint, or raise an error naming ``argument``, the file and what is wrong with it.

    Args:
        path: the checkpoint file.
        load: ``load(path) -> dict``; default ``torch.load(path, map_location="cpu", weights_only=True)``.
        argument: the argument that gave the path, for the messages (``--ckpt_path`` in the commands).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, truncated, corrupted (a zip member fails its CRC check), not a
            checkpoint, or its weights or optimizer state are not finite.
    """
    name = f"`{argument}` {str(path)!r}"
    if _is_local(path):
        if not os.path.exists(path):
            raise MissingInputError(f"{name} does not exist.")
        if os.path.isdir(path):
            raise InputError(f"{name} is a directory, not a checkpoint file.")
        if os.path.getsize(path) == 0:
            raise InputError(
                f"{name} is empty (0 bytes): the write that made it was interrupted. Resume from an earlier checkpoint."
            )
        damage = _zip_damage(path)
        if damage is not None:
            raise InputError(
                f"{name} is corrupted: {damage} (bytes changed after it was written). Resume from an earlier checkpoint."
            )
    try:
        checkpoint = load(path) if load is not None else torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise MissingInputError(f"{name} does not exist.") from err
    except Exception as err:  # torch raises UnpicklingError/RuntimeError/EOFError for truncated or foreign files
        raise InputError(
            f"{name} is not a readable checkpoint (corrupt, truncated or not written by Lightning; torch.load raised "
            f"{type(err).__name__}, chained below). Do not retry with weights_only=False on a file you did not write yourself."
        ) from err
    if not isinstance(checkpoint, dict):
        raise InputError(f"{name} holds a {type(checkpoint).__name__}, not a Lightning checkpoint.")
    bad = non_finite_entries(checkpoint)
    if bad:
        raise InputError(
            f"{name} holds non-finite values in {_listed(bad)}: resuming would train on NaN/inf. "
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


class GuardedCheckpointIO(WrappingCheckpointIO):
    """Delegates to a strategy's checkpoint IO, refusing what would break a run.

    * **saving** refuses a checkpoint whose weights or optimizer state hold NaN/inf (the error names
      the tensors; files already on disk are left as they were) and writes local files atomically (a
      temporary file renamed over the old one, so a crash mid-write never leaves half a ``last.ckpt``);
    * **loading** (``fit(ckpt_path=...)``) names ``ckpt_path`` for a missing, empty, truncated or
      corrupted file and for non-finite values; refuses a checkpoint of another module class or of
      other network shapes; and keeps the optimizer settings the module was built with (learning
      rates, betas, ...) while restoring the optimizer state (moments, step counts), so a resume with
      new settings uses them. An optimizer of another class starts afresh.

    Args:
        checkpoint_io: the strategy's checkpoint IO.
        trainer: the trainer (its ``lightning_module`` is checked on load).
    """

    def __init__(self, checkpoint_io: Any, trainer: Any) -> None:
        super().__init__(checkpoint_io)
        self._trainer = trainer

    @property
    def _io(self) -> Any:
        return self.checkpoint_io

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        refuse_non_finite(checkpoint, path)
        if not _is_local(path) or storage_options is not None:
            self._io.save_checkpoint(checkpoint, path, storage_options=storage_options)
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        partial = f"{path}.partial"
        try:
            self._io.save_checkpoint(checkpoint, partial)
            os.replace(partial, path)  # atomic: readers see the old file or the new one, never half of one
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        checkpoint = load_checkpoint_file(
            path, lambda p: self._io.load_checkpoint(p, map_location=map_location, weights_only=weights_only)
        )
        module = self._trainer.lightning_module
        if module is not None:
            check_class(module, checkpoint, f"`ckpt_path` {str(path)!r}")
            _check_same_shapes(module, checkpoint, path)
            _keep_configured_optimizer_settings(module, checkpoint)
        return checkpoint


def _check_same_shapes(module: Any, checkpoint: dict[str, Any], path: Any) -> None:
    saved = checkpoint.get("state_dict") or {}
    for name, tensor in module.state_dict().items():
        old = saved.get(name)
        if isinstance(old, Tensor) and isinstance(tensor, Tensor) and old.shape != tensor.shape:
            network = name.split(".")[0]
            raise InputError(
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
    if not isinstance(fresh, (list, tuple)) or len(fresh) != len(saved_states):
        return
    if not all(isinstance(o, torch.optim.Optimizer) for o in fresh):
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
