"""Check that every public name of the package is in the built API reference (``site/objects.inv``).

A public name is one listed in the ``__all__`` of a public module (no path part starting with ``_``)
and defined there (re-exports are checked in the module that defines them). ``mkdocs build`` writes
the reference's inventory; this script exits 1 listing the names it lacks, and also when a public
module has no page at all.

    mkdocs build --strict && python scripts/check_api_reference.py [--site site]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lightning_gans"


def inventory(path: Path) -> set[str]:
    """The object names in a Sphinx-format ``objects.inv`` (as mkdocstrings writes it)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four plain-text header lines, then the zlib-compressed body
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def public_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return names


def defined_names(module: str) -> set[str]:
    """Names a module assigns or defines at top level itself (not imports)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    args = parser.parse_args()
    documented = inventory(args.site / "objects.inv")
    missing = []
    for module in public_modules():
        if module not in documented:
            missing.append(f"{module} (the module has no page)")
            continue
        exported = getattr(importlib.import_module(module), "__all__", [])
        missing += [
            f"{module}.{n}" for n in exported if n in defined_names(module) and f"{module}.{n}" not in documented
        ]
    if missing:
        print(f"{len(missing)} public names are not in the API reference:", *missing, sep="\n  ")
        return 1
    print(f"API reference: every public name of {len(public_modules())} public modules is documented.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
