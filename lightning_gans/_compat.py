"""Every private name of Lightning, torch, torchmetrics and torch-fidelity that lightning-gans uses.

The rest of the package imports these from here and nowhere else (``tests/test_architecture.py``
scans the source and fails otherwise), so a framework upgrade that moves one of them breaks one file. Each entry
says what it is for, the public alternative that was considered, and the versions it was checked on.

Checked on: lightning 2.6.6, torch 2.14.1, torchmetrics 1.9.0, torch-fidelity 0.4.0.
"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = [
    "SHARDED_CHECKPOINT_METADATA",
    "CheckpointHparamsCLI",
    "ConvLayer",
    "NormLayer",
    "SpectralNormParametrization",
    "WrappingCheckpointIO",
    "callback_state_key",
    "collect_init_args",
    "ddp_kwargs",
    "fit_data_source",
    "given_hyperparameters",
    "has_submodule",
    "hparams_dict",
    "last_saved_at",
    "manual_step_counters",
    "request_sigterm_stop",
    "set_model_parallel_sizes",
    "torch_fidelity_forward",
    "workspace_spec_json",
]

# -- torch -------------------------------------------------------------------------------------
# Base class of Conv1d/2d/3d and ConvTranspose1d/2d/3d. Public alternative: listing the six classes;
# the base also covers LazyConv* and user subclasses of _ConvNd.
ConvLayer: type[nn.Module] = nn.modules.conv._ConvNd

# Base class of BatchNorm*/InstanceNorm*/SyncBatchNorm (affine weight + running stats). Public
# alternative: listing the classes (misses LazyBatchNorm* and subclasses).
NormLayer: type[nn.Module] = nn.modules.batchnorm._NormBase

# The parametrization class behind torch.nn.utils.parametrizations.spectral_norm. Public alternative:
# none; torch exposes no predicate for "this layer is spectral-normed" (checked torch 2.4-2.14).
from torch.nn.utils.parametrizations import _SpectralNorm as SpectralNormParametrization  # noqa: E402


def has_submodule(module: nn.Module, name: str) -> bool:
    """Whether ``name`` is registered as a direct submodule of ``module`` (``module._modules``).

    Public alternative: ``dict(module.named_children())``, which builds the whole dict each call and
    hides ``None`` entries; the registry itself is what ``nn.Module.__setattr__`` writes.
    """
    return name in module._modules


# -- lightning ---------------------------------------------------------------------------------
# The hyper-parameters the LightningCLI hands to a module it instantiates (plain config dicts:
# networks as class_path/init_args), a ContextVar. Public alternative: ``self.hparams`` after
# ``save_hyperparameters()``, which holds the instantiated networks instead.
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters  # noqa: E402

# Base class for a CheckpointIO that delegates to another. Public alternative: subclass CheckpointIO
# and forward every method by hand (``_WrappingCheckpointIO`` also forwards ``teardown``/``remove``).
from lightning.pytorch.plugins.io.wrapper import _WrappingCheckpointIO as WrappingCheckpointIO  # noqa: E402

# Walks the __init__ frames of a class hierarchy and collects their arguments; what
# save_hyperparameters uses. Public in name (no underscore) but undocumented.
from lightning.pytorch.utilities.parsing import collect_init_args  # noqa: E402


def callback_state_key(callback: Any, **kwargs: Any) -> str:
    """``Callback._generate_state_key``: the class name plus ``kwargs``, as Lightning's own callbacks key their state.

    Public alternative: formatting the same string ourselves; using Lightning's keeps checkpoints
    written by earlier versions of our callbacks loadable if Lightning changes the format.
    """
    return callback._generate_state_key(**kwargs)


def given_hyperparameters() -> Any:
    """The LightningCLI's config for the module being built, or ``None`` outside the CLI."""
    return _given_hyperparameters.get()


def hparams_dict(module: Any) -> dict[str, Any]:
    """The mutable dict behind ``module.hparams`` (``module._hparams``).

    Public alternative: ``module.hparams`` is the same ``AttributeDict`` object in 2.6, but Lightning
    documents it as read-mostly; the private name states that we write to it.
    """
    return module._hparams


def last_saved_at(callback: Any) -> int | None:
    """The global step of ``ModelCheckpoint``'s latest save (``_last_global_step_saved``; ``None`` if unknown).

    Public alternative: loading ``last_model_path`` to read its ``global_step`` (a whole checkpoint read
    at every end of ``fit``). Used by the CLI to write the final state into ``last.ckpt`` only when missing.
    """
    return getattr(callback, "_last_global_step_saved", None)


def ddp_kwargs(strategy: Any) -> dict[str, Any]:
    """The keyword arguments a ``DDPStrategy`` passes to ``DistributedDataParallel`` (mutable).

    Public alternative: ``DDPStrategy(find_unused_parameters=True)``, which needs the user to build
    the strategy; the modules switch it on for ``strategy="ddp"`` as typed.
    """
    return strategy._ddp_kwargs


def manual_step_counters(optimizer: Any) -> tuple[Any, Any]:
    """The two callables a ``LightningOptimizer`` calls around its step under manual optimisation
    (``_on_before_step`` / ``_on_after_step``: the manual loop's step-progress counters, which
    ``trainer.global_step`` reads, and the profiler's ``optimizer_step`` span).

    Used by the module's fast update path, which steps the raw optimizer itself where Lightning's strategy and
    precision layers would do nothing (fp32, one device, no hook that watches backward or the step). Public
    alternative: ``LightningOptimizer.step()``, which is the full path (about 0.1 ms of Python a step; checked
    lightning 2.5-2.6.6).
    """
    return optimizer._on_before_step, optimizer._on_after_step


def fit_data_source(trainer: Any) -> Any:
    """What ``fit`` draws its training data from (datamodule, module or loaders): ``fit_loop._data_source``.

    Public alternative: ``trainer.train_dataloader``, which is ``None`` before ``on_train_start``; LSUV
    needs a batch in ``on_fit_start``.
    """
    return trainer.fit_loop._data_source


def request_sigterm_stop(trainer: Any) -> None:
    """Make ``fit`` stop as after SIGTERM: the batch finishes, then ``SIGTERMException`` (``on_exception`` hooks run).

    Sets ``trainer._signal_connector.received_sigterm``, the flag Lightning's own SIGTERM handler sets
    and its loops check after each batch (and broadcast across DDP ranks). Public alternative:
    ``trainer.should_stop = True``, which ends the epoch early (the epoch counts as completed, so a
    resume skips its remaining batches) and is ignored until ``min_steps``/``min_epochs`` are reached.
    Used by Ctrl-C handling in ``lightning_gans/cli.py``.
    """
    trainer._signal_connector.received_sigterm = True


# -- torch-fidelity ----------------------------------------------------------------------------
def torch_fidelity_forward(net: nn.Module, images: Any) -> Any:
    """Features and logits of torch-fidelity's ``FeatureExtractorInceptionV3`` in one pass.

    Public alternative: ``net(images)`` returns the features named at construction only; two
    features (2048 and logits_unbiased) in one call need its private forward (torch-fidelity 0.3-0.4).
    """
    return net._torch_fidelity_forward(images)  # type: ignore[operator]


# -- LightningCLI: a checkpoint's hyper-parameters on resume (lightning_gans/cli.py) -------------
from lightning.pytorch.cli import LightningCLI  # noqa: E402


class CheckpointHparamsCLI(LightningCLI):
    """A LightningCLI whose :meth:`apply_checkpoint_hparams` replaces ``LightningCLI._parse_ckpt_path``.

    ``_parse_ckpt_path`` runs between parsing and instantiation and parses the checkpoint's
    hyper-parameters *over* the config, so explicit values lose. Public alternative considered: none
    in lightning 2.6.6 (PR Lightning-AI/pytorch-lightning#21408 proposes a public
    ``adapt_checkpoint_hparams`` hook; #21455 applies them as defaults, as cli.py does).
    ``_subcommand_parsers`` maps a subcommand to its parser; public alternative: none (jsonargparse
    keeps them in the private ``_subcommands_action``). Checked: lightning 2.6.6, jsonargparse 4.53.
    """

    def _parse_ckpt_path(self) -> None:
        self.apply_checkpoint_hparams()

    def apply_checkpoint_hparams(self) -> None:
        """Override: apply ``--ckpt_path``'s hyper-parameters to ``self.config`` (default: Lightning's way)."""
        super()._parse_ckpt_path()

    def _subcommand_parser(self, subcommand: str) -> Any:
        return self._subcommand_parsers[subcommand]


# -- wandb-workspaces: the JSON a Workspace would send (lightning_gans/wandb_workspace.py) ---------
def workspace_spec_json(workspace: Any) -> str:
    """The view spec ``workspace.save()`` would upload, as JSON, built offline.

    ``Workspace._to_model()`` is the private step ``save()`` runs before its network call. Public
    alternative considered: ``save()`` itself (needs a W&B login and network) and ``Workspace``'s
    pydantic dump (the user-facing model, not the spec W&B stores). Checked: wandb-workspaces 0.4.13.
    """
    return workspace._to_model().model_dump_json()


# -- scale --
def uses_distributed_sampler(trainer: Any) -> bool:
    """``Trainer(use_distributed_sampler=...)``: whether Lightning would shard a loader's sampler across ranks.

    The flag lives on the private ``trainer._accelerator_connector`` (Lightning 2.6 has no public
    property). Public alternative considered: none. Used by lightning_gans/data/sampling.py.
    """
    return bool(getattr(getattr(trainer, "_accelerator_connector", None), "use_distributed_sampler", True))


def spawns_processes(strategy: Any) -> bool:
    """Whether ``strategy`` runs ``fit`` in processes it starts with ``multiprocessing`` (``ddp_spawn``,
    ``ddp_fork``/``ddp_notebook``): the main process then gets back only the weights and ``callback_metrics``.

    Lightning's ``_MultiProcessingLauncher`` is private. Public alternative considered:
    ``launcher.is_interactive_compatible`` (True for fork only, so it misses spawn).
    """
    from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher

    return isinstance(getattr(strategy, "launcher", None), _MultiProcessingLauncher)


# -- fsdp --
def set_model_parallel_sizes(strategy: Any, data_parallel: int, tensor_parallel: int) -> None:
    """Set a ``ModelParallelStrategy``'s mesh sizes once the world size is known (before ``setup_environment``).

    ``ModelParallelStrategy`` takes them in ``__init__``, when the world size is not known yet, and its
    ``"auto"`` makes one node's processes a tensor-parallel group. Public alternative: asking users for
    ``ModelParallelStrategy(data_parallel_size=devices * num_nodes, tensor_parallel_size=1)``, which repeats the
    Trainer's ``devices`` and ``num_nodes``. Used by ``lightning_gans.sharding.FSDP2Strategy``. Checked: lightning 2.6.6.
    """
    strategy._data_parallel_size = data_parallel
    strategy._tensor_parallel_size = tensor_parallel


# The file of a ModelParallelStrategy checkpoint folder that holds everything but the shards (loops,
# callbacks, hyper-parameters), ``lightning.fabric.utilities.load._METADATA_FILENAME`` ("meta.pt"). Public
# alternative: the literal name. Used by the CLI to read a sharded checkpoint's hyper-parameters on resume.
from lightning.fabric.utilities.load import _METADATA_FILENAME as SHARDED_CHECKPOINT_METADATA  # noqa: E402
