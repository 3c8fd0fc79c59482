"""scripts/check_release.sh: sdist and wheel build, pass `twine check`, and the wheel installed in a fresh venv runs
`lightning-gans fit` from outside the checkout."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_is_the_apache_2_text_and_in_the_metadata():
    """LICENSE holds the Apache License 2.0 (pyproject's `license`), and pyproject ships it as `license-files`."""
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in pyproject and 'license-files = ["LICENSE"]' in pyproject


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("build") is None or importlib.util.find_spec("twine") is None,
    reason="needs `build` and `twine` (the dev extra)",
)
def test_release_check_builds_installs_and_fits(tmp_path):
    """The script exits 0 and says which version it installed from the wheel (~45 s: the build and two imports)."""
    env = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path))
    env.pop("PYTHONPATH", None)  # the installed wheel, not this checkout
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check_release.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "check_release: OK" in proc.stdout
    assert "from lightning_gans-" in proc.stdout and ".whl" in proc.stdout
