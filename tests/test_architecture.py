"""The package's shape: imports flow one way, private framework names live only in _compat."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lightning_gans"


def test_modules_import_no_callback():
    """`lightning_gans.modules` (and the package root) import nothing from `lightning_gans.callbacks`."""
    code = "import sys, lightning_gans.modules; print(sorted(m for m in sys.modules if m.startswith('lightning_gans.callbacks')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def _imports(path: Path) -> list[str]:
    """The lightning_gans modules (and names, as ``module.name``) that a file imports, lazily or not."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lightning_gans"):
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("lightning_gans")]
    return out


def test_imports_flow_one_way_and_commands_use_no_private_callback_name():
    """Nothing below the top floor imports `lightning_gans.commands` or `lightning_gans.cli` (the Hub export, runs and
    callbacks included); the commands import no private module or name of `lightning_gans.callbacks`."""
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        top_floor = rel.startswith("commands/") or rel in ("cli.py", "__main__.py")
        for name in _imports(path):
            if not top_floor and name.startswith(("lightning_gans.commands", "lightning_gans.cli")):
                upward.append(f"{rel}: {name}")
            private = any(part.startswith("_") for part in name.split(".")[2:])
            if rel.startswith("commands/") and name.startswith("lightning_gans.callbacks") and private:
                upward.append(f"{rel}: {name} (a private name of callbacks)")
    assert upward == []


_ALLOWED_FOREIGN_PRIVATE = {"_exit", "_asdict", "_replace", "_fields", "_make"}


_FRAMEWORKS = ("lightning", "torch", "torchmetrics", "torch_fidelity", "pytorch_lightning", "torchvision")


def _own_private_names(trees):
    """Private identifiers the package defines itself (functions, classes, attributes it assigns, arguments)."""
    own = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif (
                (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and len(node.args) > 1)
                or (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", None) == "__setattr__"
                    and len(node.args) > 1
                )
            ) and isinstance(node.args[1], ast.Constant):
                own.add(node.args[1].value)
    return own


def test_private_framework_names_live_only_in_compat():
    """No file but `_compat.py` imports or reads a private name of Lightning, torch, torchmetrics or torch-fidelity."""
    files = {p: ast.parse(p.read_text(), filename=str(p)) for p in PACKAGE.rglob("*.py")}
    own = _own_private_names(files.values())
    offences = []
    for path, tree in files.items():
        if path.name == "_compat.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _FRAMEWORKS:
                parts = node.module.split(".")
                names = [a.name for a in node.names]
                if any(p.startswith("_") for p in parts) or any(
                    n.startswith("_") and not n.startswith("__") for n in names
                ):
                    offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} from {node.module} import {names}")
            elif isinstance(node, ast.Attribute):
                attr = node.attr
                if (
                    attr.startswith("_")
                    and not attr.startswith("__")
                    and attr not in own
                    and attr not in _ALLOWED_FOREIGN_PRIVATE
                ):
                    offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{attr}")
    assert offences == []


def test_the_scan_catches_a_private_name(tmp_path):
    """The scan above is not vacuous: a file reading `strategy._ddp_kwargs` is reported."""
    tree = ast.parse("def f(strategy):\n    return strategy._ddp_kwargs\n")
    own = _own_private_names([tree])
    hits = [
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_") and n.attr not in own
    ]
    assert hits == ["_ddp_kwargs"]
