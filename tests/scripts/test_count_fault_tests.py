"""scripts/count_fault_tests.py: the fault-test counts per family, pasted in docs/reliability.md, and one checking
helper per concern."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("count_fault_tests", ROOT / "scripts" / "count_fault_tests.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_counts_match_the_collection_and_docs_hold_the_current_table():
    """Every collected test of tests/faults is counted, plus exactly the FAULT_TESTS of the other modules (each a
    real test there); docs/reliability.md contains the script's current table."""
    script = _script()
    ids = script.collect(script.fault_modules())
    counts = script.count(ids)
    in_faults = [i for i in ids if i.startswith("tests/faults/")]
    assert sum(c for m, c in counts.items() if m.startswith("tests/faults/")) == len(in_faults) > 100
    for module in script.EXTRA_MODULES:
        declared = script.declared_fault_tests(module)
        functions = {n.name for n in ast.walk(ast.parse((ROOT / module).read_text())) if isinstance(n, ast.FunctionDef)}
        assert declared and declared <= functions, declared - functions  # no stale name in FAULT_TESTS
        assert counts[module] >= len(declared)
    table = script.table(counts)
    assert f"| **all fault tests** | **{sum(counts.values())}** | |" in table
    assert table in (ROOT / "docs" / "reliability.md").read_text(), "run scripts/count_fault_tests.py and paste it"
    readme = " ".join((ROOT / "README.md").read_text().split())  # the README's Reliability sentence, line breaks aside
    assert f"{sum(counts.values())} fault tests in {len(counts)} families" in readme


def test_one_checking_helper_per_concern_and_no_duplicate():
    """--helpers lists the paths helpers as called from the commands and cli, and finds no second check of a concern."""
    text = _script().helpers()
    assert "Duplicates (a second check of one of these concerns elsewhere): none" in text
    assert "| `writable_dir` | `lightning_gans/_checks.py` | " in text and "`lightning_gans/cli.py`" in text
