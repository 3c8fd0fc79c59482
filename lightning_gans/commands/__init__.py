"""Subcommands of ``lightning-gans`` that are not LightningCLI ones: ``sample``, ``evaluate``, ``export`` and ``convert-folder``.

``lightning_gans.cli.main`` hands its arguments to :func:`run_command` first; ``fit`` (and
``--help``, ``--print_config`` ...) go on to the LightningCLI untouched. ``validate``, ``test`` and
``predict`` are not offered: our modules have no validation/test/predict step, so Lightning would
stop with an error about a missing ``validation_step``; ``evaluate`` is the meaningful command.

Example:
    lightning-gans sample --ckpt_path runs/x/checkpoints/last.ckpt --num 64 --out samples.png
    lightning-gans evaluate --ckpt_path runs/x/checkpoints/last.ckpt --json metrics.json
    lightning-gans convert-folder my_images/ my_shards/
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from lightning_gans._checks import InputError
from lightning_gans.commands._quiet import quiet_console
from lightning_gans.commands._run import CommandError

__all__ = ["COMMANDS", "NOT_OFFERED", "CommandError", "quiet_console", "run_command"]


def _sample(argv: Sequence[str]) -> int:
    from lightning_gans.commands.sample import main

    return main(argv)


def _evaluate(argv: Sequence[str]) -> int:
    from lightning_gans.commands.evaluate import main

    return main(argv)


def _export(argv: Sequence[str]) -> int:
    from lightning_gans.commands.export import main

    return main(argv)


def _convert_folder(argv: Sequence[str]) -> int:
    from lightning_gans.commands.convert import main

    return main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "sample": _sample,
    "evaluate": _evaluate,
    "export": _export,
    "convert-folder": _convert_folder,
}
"""Subcommand name -> ``main(argv) -> exit status``."""

NOT_OFFERED: dict[str, str] = {
    name: f"`lightning-gans {name}` is not offered: GAN modules have no {name} step. "
    "Use `lightning-gans evaluate --ckpt_path X` for FID/IS/KID/precision/recall, "
    "or `lightning-gans sample --ckpt_path X` for images."
    for name in ("validate", "test", "predict")
}
"""LightningCLI subcommands refused with a message (exit status 2)."""


def run_command(args: Sequence[str] | None = None) -> int | None:
    """Run ``sample``/``evaluate``/``export``/``convert-folder``; refuse ``validate``/``test``/``predict``, an unknown command or none (exit 2).

    Also quiets the console for every subcommand, ``fit`` included (see :func:`quiet_console`).

    Args:
        args: the command line without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status, or ``None`` when the LightningCLI should handle ``args`` (``fit``, or options first).
    """
    quiet_console()
    argv = list(sys.argv[1:] if args is None else args)
    names = ["fit", *COMMANDS]
    known = ", ".join(names)
    if not argv:
        print(
            f"usage: lightning-gans {{{','.join(names)}}} ...\nerror: a command is required, one of: {known} "
            "(`lightning-gans --help` describes them).",
            file=sys.stderr,
        )
        return 2
    name, rest = argv[0], argv[1:]
    if name in NOT_OFFERED:
        print(f"error: {NOT_OFFERED[name]}", file=sys.stderr)
        return 2
    command = COMMANDS.get(name)
    if command is None:
        if name != "fit" and not name.startswith("-"):
            print(
                f"error: unknown command {name!r}; the commands are: {known} (`lightning-gans --help` describes them).",
                file=sys.stderr,
            )
            return 2
        return None
    try:
        return command(rest)
    except InputError as err:  # CommandError and the library's input errors (a bad file, folder or value)
        print(f"lightning-gans {name}: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # argparse: --help (0) and usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else 1
