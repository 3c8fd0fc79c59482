"""``lightning-gans`` / ``python -m lightning_gans``: the LightningCLI for every module and datamodule.

Exit status: 0 after a successful run; 1 on an error (its traceback names the cause); 2 for a bad
command line; 143 (128 + SIGTERM, what a shell reports for a process ended by SIGTERM) when
SIGTERM ended ``fit`` early, and 130 (128 + SIGINT) when Ctrl-C did, after a resumable ``last.ckpt``
was written (the preemption case on clusters; the path is printed). A second Ctrl-C aborts at once
without a checkpoint. Before the first step the run's output folders (``default_root_dir``, the log
and checkpoint folders) are probed for writing and the nets checked against the number of classes.
Tested in tests/faults/test_cli.py, tests/faults/test_signals.py and tests/faults/test_outputs.py.

Resuming with ``--ckpt_path``: the checkpoint's module hyper-parameters are *defaults*; values
given explicitly (in ``--config`` files or on the command line) win. So a resume can change what
may change (optimizers and their settings, ``n_critic``, penalty weight and interval, callbacks),
while another module class or other network shapes is refused with an error naming it.

Example:
    lightning-gans fit --config examples/wgangp_8gaussians.yaml
    lightning-gans fit --config examples/gan_digits.yaml --model WGANGP --model.n_critic 5
    lightning-gans fit --config examples/wgangp_8gaussians.yaml --ckpt_path runs/.../last.ckpt \\
        --model.init_args.critic_optimizer.lr 5e-5
"""

from __future__ import annotations

import glob
import importlib.util
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, cast

from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch import nn

import lightning_gans
import lightning_gans.callbacks  # noqa: F401
from lightning_gans import _checks
from lightning_gans._compat import (
    SHARDED_CHECKPOINT_METADATA,
    CheckpointHparamsCLI,
    last_saved_at,
    request_sigterm_stop,
)
from lightning_gans.callbacks.progress import GeneratorProgressBar
from lightning_gans.callbacks.save_config import LoggerSaveConfigCallback
from lightning_gans.checkpoints import check_class, import_object, load_checkpoint_file
from lightning_gans.modules import AdversarialModule
from lightning_gans.nets.conditional import check_nets_num_classes

__all__ = ["GANCLI", "SIGINT_EXIT_STATUS", "SIGTERM_EXIT_STATUS", "main", "run"]

SIGTERM_EXIT_STATUS = 143
"""Exit status after SIGTERM ended ``fit`` (128 + 15, as a shell reports a process ended by SIGTERM)."""

SIGINT_EXIT_STATUS = 130
"""Exit status after Ctrl-C (SIGINT) ended ``fit`` (128 + 2, as a shell reports a process ended by SIGINT)."""


def main(args: list[str] | None = None) -> int:
    """Console entry point (``sys.exit(main())``): run the CLI and return the exit status.

    Args:
        args: the command line as a list of strings (default: ``sys.argv[1:]``).

    Returns:
        0 on success, :data:`SIGTERM_EXIT_STATUS` when SIGTERM ended ``fit`` and :data:`SIGINT_EXIT_STATUS`
        when Ctrl-C did (both after writing a resumable checkpoint). Errors propagate (Python exits 1);
        a bad command line exits 2.
    """
    from lightning_gans.commands import run_command  # `sample`/`evaluate` (an int exit status); quiets the console

    if (status := run_command(args)) is not None:
        return status
    _CheckpointOnInterrupt.received = None
    try:
        run(args)
    except SIGTERMException:
        return SIGINT_EXIT_STATUS if _CheckpointOnInterrupt.received == signal.SIGINT else SIGTERM_EXIT_STATUS
    except KeyboardInterrupt:  # Ctrl-C before `fit` started: nothing to save
        print("lightning-gans: interrupted (Ctrl-C); no checkpoint written.", file=sys.stderr, flush=True)
        return SIGINT_EXIT_STATUS
    except SystemExit as exit_:  # Lightning exits 1 on a KeyboardInterrupt inside `fit` (a second Ctrl-C)
        if exit_.code == 1 and _CheckpointOnInterrupt.received == signal.SIGINT:
            print("lightning-gans: interrupted again (Ctrl-C); no checkpoint written.", file=sys.stderr, flush=True)
            return SIGINT_EXIT_STATUS
        raise
    return 0


DESCRIPTION = (
    "lightning-gans: adversarial training with PyTorch Lightning. Commands: "
    "`fit` trains a module (below); "
    "`sample --ckpt_path X` writes images from a checkpoint; "
    "`evaluate --ckpt_path X` prints FID/IS/KID/precision/recall of a checkpoint; "
    "`export --ckpt_path X` saves its generator for `from_pretrained`. "
    "`convert-folder SRC DST` writes an image folder as LitData shards for StreamingImageDataModule. "
    "`validate`, `test` and `predict` are not offered (GAN modules have no such step). "
    "Add a command and `--help` for its options."
)
"""The top-level ``--help`` text: every command the console script runs, not only LightningCLI's."""


def run(args: list[str] | None = None) -> LightningCLI:
    """Run the CLI and return it (for Python callers who want ``cli.model`` or ``cli.trainer``)."""
    return GANCLI(
        AdversarialModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=LoggerSaveConfigCallback,  # config.yaml in the log dir and the config in every logger
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": DESCRIPTION},
        args=args,
    )


class GANCLI(CheckpointHparamsCLI):
    """The LightningCLI with resume that honours explicit values and a checkpoint on SIGTERM."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Only ``fit``: ``validate``/``test``/``predict`` are refused before parsing (``commands.NOT_OFFERED``)."""
        return {"fit": LightningCLI.subcommands()["fit"]}

    def add_arguments_to_parser(self, parser: Any) -> None:
        # A datamodule with `conditional: true` makes the module class-conditional (docs/conditional.md).
        parser.link_arguments(
            "data", "model.init_args.num_classes", compute_fn=self._data_num_classes, apply_on="instantiate"
        )

    def _data_num_classes(self, data: Any) -> int | None:
        """The datamodule's ``num_classes`` (None if it has none); an explicit, different ``model.num_classes`` is an error."""
        num_classes = getattr(data, "num_classes", None)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        given = config.get("model.init_args.num_classes")
        if given is not None and given != num_classes:
            raise ValueError(
                f"`model.init_args.num_classes`={given} but the datamodule's `num_classes` is {num_classes}: the module takes "
                f"it from the data; set `data.init_args.conditional: true` (or drop `num_classes` from the model)."
            )
        return num_classes

    def parse_arguments(self, parser: Any, args: Any) -> None:
        self._given_args = args  # parsed again when a checkpoint's hyper-parameters become defaults
        super().parse_arguments(parser, args)

    def apply_checkpoint_hparams(self) -> None:
        """Make the module hyper-parameters of ``--ckpt_path`` the defaults of the config, and re-parse.

        Lightning 2.6 parses them *over* the config (explicit values lose; PR
        Lightning-AI/pytorch-lightning#21455 proposes defaults instead, as here). A checkpoint of
        another module class than the config's is refused.

        Raises:
            TypeError: the config's ``model`` class differs from the checkpoint's.
            FileNotFoundError, ValueError: ``ckpt_path`` is missing, empty, corrupt or not finite.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if (
            ckpt_path == "last"
            and not os.path.exists(ckpt_path)
            and (found := _newest_last_checkpoint(self.config[subcommand]))
        ):
            ckpt_path = self.config[subcommand]["ckpt_path"] = (
                found  # the run's newest, whichever logger version wrote it
            )
        if not ckpt_path or (ckpt_path in ("last", "best", "hpc") and not os.path.exists(ckpt_path)):
            return  # Lightning's special values, resolved by the Trainer
        checkpoint = load_checkpoint_file(_hparams_file(ckpt_path))
        configured = getattr(self.config[subcommand].get("model"), "class_path", None)
        if configured:
            check_class(import_object(configured, "model"), checkpoint, f"`ckpt_path` {ckpt_path!r}")
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        class_path = hparams.pop("_class_path", None)
        if class_path is None or not hparams:
            return  # not written by the CLI: the config as given builds the module
        self._subcommand_parser(subcommand).set_defaults({"model": {"class_path": class_path, "init_args": hparams}})
        super().parse_arguments(self.parser, self._given_args)
        self.config[subcommand]["ckpt_path"] = ckpt_path  # `last` resolved above: parsed again as given

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self.config_init.get(str(self.subcommand), self.config_init).get("trainer")
        if trainer_config is not None:
            _add_trainer_defaults(trainer_config)
        trainer = super().instantiate_trainer(**kwargs)
        cast(Any, trainer).callbacks.append(_FinalLastCheckpoint())
        cast(Any, trainer).callbacks.insert(0, _CheckpointOnInterrupt())  # first: it probes the output folders in setup
        return trainer


def _hparams_file(ckpt_path: str) -> str:
    """The file holding a checkpoint's hyper-parameters: the checkpoint, or a sharded (FSDP2) folder's metadata."""
    meta = os.path.join(ckpt_path, SHARDED_CHECKPOINT_METADATA)
    return meta if os.path.isdir(ckpt_path) and os.path.isfile(meta) else ckpt_path


def _add_trainer_defaults(trainer: dict[str, Any]) -> None:
    """Fill in what ``lightning-gans fit`` adds to a config's instantiated ``trainer`` section, in place.

    * a ``ModelCheckpoint(save_last=True)`` when the config has no ``ModelCheckpoint`` (and checkpointing is
      on): Lightning's default checkpoint (``<log dir>/checkpoints/epoch=E-step=S.ckpt``) and a ``last.ckpt``
      beside it, which ``--ckpt_path last`` resumes;
    * a :class:`~lightning_gans.callbacks.GeneratorProgressBar` when the config has no progress bar (and the
      bar is on);
    * the ``CSVLogger`` (in ``default_root_dir``) when the config leaves the logger to Lightning and neither
      ``tensorboard`` nor ``tensorboardX`` is installed: what Lightning would choose, without its warning.
    """
    root = trainer.get("default_root_dir") or os.getcwd()
    callbacks = trainer.get("callbacks") or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if trainer.get("enable_checkpointing", True) is not False and not any(
        isinstance(c, ModelCheckpoint) for c in callbacks
    ):
        callbacks.append(ModelCheckpoint(save_last=True))
    if trainer.get("enable_progress_bar", True) is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(GeneratorProgressBar())
    trainer["callbacks"] = callbacks
    if trainer.get("logger") in (None, True) and not any(
        importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX")
    ):
        trainer["logger"] = CSVLogger(save_dir=root)


def _newest_last_checkpoint(config: Any) -> str | None:
    """The newest ``last.ckpt`` of the run ``config`` describes, for ``--ckpt_path last`` (``None``: there is none).

    Lightning looks for ``last`` only in the directory of this run's checkpoint callback, which is a new
    ``<save_dir>/<name>/version_N/checkpoints`` at every run, so a resume never finds the previous run's.
    This looks in ``<root>/checkpoints``, ``<root>/*/checkpoints`` and ``<root>/*/*/checkpoints`` of
    ``trainer.default_root_dir`` (default: the working directory) and of the logger's ``save_dir``.
    """
    trainer = config.get("trainer") or {}
    roots = {trainer.get("default_root_dir") or os.getcwd()}
    loggers = trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        save_dir = (getattr(logger, "init_args", None) or {}).get("save_dir") if logger is not None else None
        if isinstance(save_dir, str):
            roots.add(save_dir)
    name = ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION
    found = [
        path
        for root in roots
        for depth in range(3)
        for path in glob.glob(os.path.join(glob.escape(root), *["*"] * depth, "checkpoints", name))
    ]
    return max(found, key=os.path.getmtime) if found else None


class _FinalLastCheckpoint(Callback):
    """At the end of ``fit``, make every ``save_last`` checkpoint hold the final state.

    ``ModelCheckpoint`` writes ``last.ckpt`` only when it saves another checkpoint (or never saved one):
    with ``every_n_train_steps=N`` and ``max_steps`` not a multiple of ``N``, the last steps were lost.
    """

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for callback in trainer.checkpoint_callbacks:
            if not isinstance(callback, ModelCheckpoint) or not callback.save_last or not callback.dirpath:
                continue
            if "{" in callback.CHECKPOINT_NAME_LAST or last_saved_at(callback) == trainer.global_step:
                continue  # a templated name (its own rule), or already saved at this step
            path = os.path.join(callback.dirpath, callback.CHECKPOINT_NAME_LAST + callback.FILE_EXTENSION)
            if trainer.is_global_zero and os.path.islink(path):
                os.remove(path)  # save_last="link": write the file, not through the link into another checkpoint
            trainer.save_checkpoint(path)


class _CheckpointOnInterrupt(Callback):
    """On SIGTERM or Ctrl-C (SIGINT) during ``fit``, write a resumable ``last.ckpt`` before the run stops.

    Lightning notes SIGTERM, finishes the current batch and raises ``SIGTERMException`` (a
    ``SystemExit`` with status 0); ``on_exception`` runs before teardown, with the loops, optimizers
    and callbacks in the state a resume needs. Ctrl-C is made to take the same path: from
    ``on_train_start`` a SIGINT handler asks for the same stop (Lightning's own handling of
    ``KeyboardInterrupt`` exits 1 mid-batch and writes nothing); a second Ctrl-C raises
    ``KeyboardInterrupt`` at once. In ``setup`` (before the first step) the run's output folders are
    probed for writing and the nets' ``num_classes`` checked against the module's (the data's).
    """

    received: int | None = None  # the signal that stopped the latest fit (read by `main` for the exit status)

    def __init__(self) -> None:
        self._previous_handler: Any = None
        type(self).received = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            _probe_outputs(trainer)
            nets = {
                n: getattr(pl_module, n)
                for n in ("generator", "critic")
                if isinstance(getattr(pl_module, n, None), nn.Module)
            }
            check_nets_num_classes(getattr(pl_module, "num_classes", None), **nets)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._make_handler(trainer))

    def _make_handler(self, trainer: Trainer) -> Any:
        def on_sigint(signum: int, frame: FrameType | None) -> None:
            if type(self).received == signal.SIGINT:  # the second Ctrl-C: stop now, without a checkpoint
                self._restore_handler()
                raise KeyboardInterrupt
            type(self).received = signal.SIGINT
            if trainer.is_global_zero:
                print(
                    "\nlightning-gans: Ctrl-C: finishing the current batch, then writing last.ckpt "
                    "(Ctrl-C again to stop without it).",
                    file=sys.stderr,
                    flush=True,
                )
            request_sigterm_stop(trainer)

        return on_sigint

    def _restore_handler(self) -> None:
        if self._previous_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._restore_handler()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != "fit":
            return
        what = "Ctrl-C (SIGINT)" if type(self).received == signal.SIGINT else "SIGTERM"
        if type(self).received is None:
            type(self).received = signal.SIGTERM
        path = _preemption_path(trainer)
        if os.path.islink(path):
            os.remove(path)  # save_last="link" made last.ckpt a link: do not write through it into another checkpoint
        trainer.save_checkpoint(path)
        if trainer.is_global_zero:
            print(
                f"lightning-gans: {what} at global step {trainer.global_step}; wrote {path}. "
                f"Resume with the same command and --ckpt_path {path}",
                file=sys.stderr,
                flush=True,
            )


def _probe_outputs(trainer: Trainer) -> None:
    """Every folder the run will write (``default_root_dir``, the loggers', the checkpoints') is writable.

    Raises:
        InputError: one is not (naming the setting), before the first training step.
    """
    folders: list[tuple[str, Any]] = [("trainer.default_root_dir", trainer.default_root_dir)]
    for logger in trainer.loggers:
        root = getattr(logger, "save_dir", None) or getattr(logger, "root_dir", None)
        if isinstance(root, (str, os.PathLike)):
            folders.append((f"{type(logger).__name__}.save_dir", root))
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            folders.append(("ModelCheckpoint.dirpath", callback.dirpath))
    for name, folder in folders:
        _checks.writable_dir(name, folder)


def _preemption_path(trainer: Trainer) -> str:
    callback = trainer.checkpoint_callback
    directory = (
        callback.dirpath if isinstance(callback, ModelCheckpoint) and callback.dirpath else trainer.default_root_dir
    )
    return os.path.join(directory, ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
