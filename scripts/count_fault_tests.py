"""Count the fault tests per family, and show the one checking helper of each concern with its callers.

A fault test tries one bad input or fault (a wrong argument, a broken file, a signal, a setting with
no effect) and asserts the clear error or the documented behaviour. They are:

- every test in ``tests/faults/``: the module is the family (``test_signals.py`` -> signals);
- the tests named in the ``FAULT_TESTS`` tuple of another test module (e.g. ``tests/test_hub.py``),
  for faults best tested beside the feature's own fixtures.

Tests are counted as pytest collects them (each parametrized case is one test). The output is the
markdown table that docs/reliability.md and the README's Reliability section show; ``--check FILE``
exits 1 when FILE does not contain the current table, so the pasted counts cannot go stale.

``--helpers`` prints, per concern (labels, images, paths, value ranges), the one helper that checks
it and the package files that call it, then any second check of the same concern elsewhere in the
package (``duplicates``: a raise about `labels` outside protocol.py, ``Image.open`` outside
data/folder.py, a write probe outside _checks.py, a "not clipped" error outside _checks.py); none
is expected.

    python scripts/count_fault_tests.py                   # the table of fault tests
    python scripts/count_fault_tests.py --check docs/reliability.md
    python scripts/count_fault_tests.py --helpers         # one checking helper per concern
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULTS = "tests/faults"
EXTRA_MODULES = (
    "tests/test_hub.py",
    "tests/cli/test_commands.py",
    "tests/data/test_streaming.py",
    "tests/distributed/test_fsdp2.py",
    "tests/distributed/test_traps.py",
)
"""Test modules outside tests/faults whose ``FAULT_TESTS`` tuple names fault tests."""

FAMILIES = {
    "test_api.py": "Python API arguments",
    "test_bad_input.py": "configuration files",
    "test_checkpoints.py": "checkpoints (corrupt, non-finite, resume)",
    "test_cli.py": "command line of `fit` (exit status, resume)",
    "test_conditional.py": "conditional nets and data, augmentation, callbacks, penalties, cache",
    "test_data.py": "datamodules and image files",
    "test_divergence.py": "divergence (NaN, explosion, fp16)",
    "test_outputs.py": "output folders (writable, one config.yaml per run)",
    "test_signals.py": "signals (SIGTERM, Ctrl-C)",
    "test_hub.py": "Hub folders and model card",
    "test_commands.py": "`sample` / `evaluate` / `export`",
    "test_streaming.py": "streaming shards and `convert-folder`",
    "test_fsdp2.py": "strategies (FSDP, DeepSpeed, FSDP2 refusals)",
    "test_traps.py": "DDP traps (ddp_spawn and the EMA)",
}
"""Family label per test module (a module missing here is labelled by its name)."""

CONCERNS = {
    "labels": ("lightning_gans/protocol.py", ("check_labels", "check_labels_given")),
    "image files and folders": ("lightning_gans/data/folder.py", ("find_images", "read_image", "check_same_format")),
    "paths (writable, no mixing, extensions)": (
        "lightning_gans/_checks.py",
        ("writable_dir", "new_output", "output_suffix"),
    ),
    "values outside a declared range": ("lightning_gans/_checks.py", ("within_range",)),
    "nets vs the run's classes": ("lightning_gans/nets/conditional.py", ("check_nets_num_classes",)),
}
"""Concern -> (the file that holds its checks, the checking functions)."""

_SECOND_CHECKS: dict[str, tuple[tuple[str, ...], Callable[[ast.AST], bool]]] = {
    # concern: (its home files, a predicate on an AST node that marks a check of that concern)
    "labels": (
        ("lightning_gans/protocol.py",),
        lambda node: isinstance(node, ast.Raise) and "`labels`" in _text(node),
    ),
    "image files and folders": (
        ("lightning_gans/data/folder.py",),
        lambda node: isinstance(node, ast.Call) and _dotted(node.func) in ("Image.open", "PIL.Image.open"),
    ),
    "paths (writable, no mixing, extensions)": (
        ("lightning_gans/_checks.py",),
        lambda node: isinstance(node, ast.Call) and _dotted(node.func) in ("os.access", "tempfile.TemporaryFile"),
    ),
    "values outside a declared range": (
        ("lightning_gans/_checks.py",),
        lambda node: isinstance(node, ast.Raise) and "not clipped" in _text(node),
    ),
}
"""How a second check of a concern shows in the source (the ``duplicates`` listed by ``--helpers``)."""


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return str(getattr(node, "id", ""))


def _text(node: ast.AST) -> str:
    """The string constants inside ``node`` (f-string parts included), joined."""
    return "".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def fault_modules() -> list[str]:
    """The test modules that hold fault tests, relative to the repository root."""
    faults = sorted(str(p.relative_to(ROOT)) for p in (ROOT / FAULTS).glob("test_*.py"))
    return faults + [m for m in EXTRA_MODULES if (ROOT / m).is_file()]


def declared_fault_tests(module: str) -> set[str]:
    """The names in ``module``'s ``FAULT_TESTS`` tuple (read from the source, nothing imported)."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FAULT_TESTS" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def collect(modules: list[str]) -> list[str]:
    """pytest's node ids for ``modules`` (collection only: nothing runs)."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *modules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    ids = [line.strip() for line in proc.stdout.splitlines() if "::" in line]
    if proc.returncode != 0 or not ids:
        raise SystemExit(f"pytest could not collect {modules}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return ids


def count(ids: list[str]) -> Counter[str]:
    """Fault tests per module: every test of tests/faults, the declared ones elsewhere."""
    declared = {m: declared_fault_tests(m) for m in EXTRA_MODULES if (ROOT / m).is_file()}
    counts: Counter[str] = Counter()
    for node in ids:
        module, _, name = node.partition("::")
        function = name.split("[")[0].split("::")[-1]
        if module.startswith(FAULTS + "/") or function in declared.get(module, ()):
            counts[module] += 1
    return counts


def table(counts: Counter[str]) -> str:
    """The markdown table: family, module, tests; and the total."""
    rows = ["| family | tests | module |", "|---|---:|---|"]
    for module in sorted(counts, key=lambda m: (-counts[m], m)):
        rows.append(f"| {FAMILIES.get(Path(module).name, Path(module).stem)} | {counts[module]} | `{module}` |")
    rows.append(f"| **all fault tests** | **{sum(counts.values())}** | |")
    return "\n".join(rows)


def helpers() -> str:
    """Per concern: its checking functions, where they live and which package files call them; then duplicates."""
    package = ROOT / "lightning_gans"
    trees = {str(p.relative_to(ROOT)): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(package.rglob("*.py"))}
    rows = ["| concern | helper | defined in | called from |", "|---|---|---|---|"]
    for concern, (home, names) in CONCERNS.items():
        for name in names:
            callers = sorted(
                path
                for path, tree in trees.items()
                if path != home
                and any(
                    isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
                    for n in ast.walk(tree)
                )
            )
            rows.append(f"| {concern} | `{name}` | `{home}` | {', '.join(f'`{c}`' for c in callers) or '-'} |")
    duplicates = sorted(
        f"{concern}: `{path}` line {getattr(node, 'lineno', '?')}"
        for concern, (home_files, is_check) in _SECOND_CHECKS.items()
        for path, tree in trees.items()
        if path not in home_files
        for node in ast.walk(tree)
        if is_check(node)
    )
    rows.append("")
    rows.append("Duplicates (a second check of one of these concerns elsewhere): " + ("; ".join(duplicates) or "none"))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE", help="exit 1 unless FILE contains the current table")
    parser.add_argument("--helpers", action="store_true", help="print the checking helper of each concern instead")
    args = parser.parse_args(argv)
    if args.helpers:
        print(helpers())
        return 0
    text = table(count(collect(fault_modules())))
    if args.check:
        if text not in (ROOT / args.check).read_text(encoding="utf-8"):
            print(f"{args.check} does not hold the current fault-test table; paste this:\n\n{text}", file=sys.stderr)
            return 1
        return 0
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
