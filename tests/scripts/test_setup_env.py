"""The set-up behind `make demo` / `make test` (scripts/setup_env.py, requirements/lock.txt, scripts/demo.py)
and the tested Lightning range (lightning_gans/_versions.py)."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from lightning_gans import _versions

try:
    import tomllib
except ModuleNotFoundError:  # python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
PYPROJECT = ROOT / "pyproject.toml"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


setup_env = _load_script("setup_env")


def _lock() -> dict[str, Requirement]:
    out = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            assert canonicalize_name(req.name) not in out, f"{req.name} is locked twice"
            out[canonicalize_name(req.name)] = req
    return out


def _pinned(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", f"lock: {req} is not an exact pin"
    return spec.version


def _pyproject_requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    reqs = [("", Requirement(r)) for r in project["dependencies"]]
    for extra, items in project.get("optional-dependencies", {}).items():
        reqs += [(extra, Requirement(r)) for r in items]
    return reqs


# ----------------------------------------------------------------------------------------------
# The lock and pyproject agree


def test_lock_pins_every_pyproject_requirement_inside_its_range():
    """Every requirement of pyproject (dependencies and every extra) is pinned in the lock, inside pyproject's range."""
    lock = _lock()
    checked = 0
    for extra, req in _pyproject_requirements():
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        assert name in lock, (
            f"pyproject requires {req} (extra {extra or '-'}) but requirements/lock.txt has no pin: run `make lock`"
        )
        version = _pinned(lock[name])
        assert req.specifier.contains(version, prereleases=True), (
            f"lock pins {name}=={version}, outside pyproject's {req}"
        )
        checked += 1
    assert checked >= 15


def test_lock_holds_only_exact_pins_and_the_tested_torch_pair():
    """The lock is exact pins (markers only for python version / platform), with torch 2.14.1 + torchvision 0.29.1."""
    lock = _lock()
    for name, req in lock.items():
        _pinned(req)
        if req.marker is not None:
            assert all(
                word in ("python_version", "platform_system", "and", ">=", "==") or word.startswith('"')
                for word in str(req.marker).split()
            ), f"unexpected marker on {name}: {req.marker}"
    assert _pinned(lock["torch"]) == "2.14.1" and _pinned(lock["torchvision"]) == "0.29.1"
    for name in ("lightning", "torchmetrics", "torch-fidelity", "wandb", "pytest", "pip", "setuptools"):
        assert name in lock and lock[name].marker is None, name


def test_pyproject_caps_lightning_at_the_tested_range_that_admits_the_locked_version():
    """pyproject's lightning requirement has an upper bound, equals the range the import check warns outside, and admits the lock."""
    (lightning,) = [r for _, r in _pyproject_requirements() if canonicalize_name(r.name) == "lightning"]
    assert any(s.operator in ("<", "<=") for s in lightning.specifier), f"no upper bound on lightning: {lightning}"
    assert lightning.specifier == SpecifierSet(_versions.LIGHTNING_TESTED)
    assert lightning.specifier.contains(_pinned(_lock()["lightning"]))


def test_an_env_made_by_setup_runs_the_locked_versions():
    """In an env stamped by the set-up (CI's), every locked package is installed at its locked version."""
    venv = Path(sys.prefix)
    if not (venv / setup_env.STAMP_NAME).exists():
        pytest.skip("not running in an env made by `make` (scripts/setup_env.py)")
    action, reasons = setup_env.diagnose(venv, imports=())
    assert action == "ok", reasons


# ----------------------------------------------------------------------------------------------
# Lightning outside the tested range warns once


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(_versions, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _untested(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, _versions.UntestedVersionWarning)]


def test_lightning_outside_the_tested_range_warns_once(fresh_warnings):
    """2.7.0 (above the cap), 2.4.9 (below) and 2.6.2 (withdrawn) each warn exactly once, naming version and range."""
    for version in ("2.7.0", "2.7.0", "2.4.9", "2.6.2", "2.4.9", "not-a-version"):
        assert _versions.check_lightning_version(version) is False
    messages = _untested(fresh_warnings)
    assert len(messages) == 4
    assert "lightning 2.7.0 is installed" in messages[0] and _versions.LIGHTNING_TESTED in messages[0]


def test_lightning_inside_the_tested_range_is_silent(fresh_warnings):
    """The locked version, the range's ends and the installed version pass without a warning."""
    import lightning

    for version in (_pinned(_lock()["lightning"]), "2.5.0", "2.6.99", lightning.__version__):
        assert _versions.check_lightning_version(version) is True
    assert _untested(fresh_warnings) == []


def test_importing_the_package_checks_the_lightning_version():
    """`import lightning_gans` under a Lightning reporting 2.7.0 warns once, before the package's own imports."""
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "import lightning; lightning.__version__ = '2.7.0'\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import lightning_gans, importlib; importlib.reload(lightning_gans)\n"
        "print(sum(w.category.__name__ == 'UntestedVersionWarning' for w in caught))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "1"


# ----------------------------------------------------------------------------------------------
# The set-up decides from the env's state (fake envs whose python is this interpreter)

REAL_PYTHON = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'
BROKEN_PYTHON = '#!/bin/sh\necho "python: error while loading shared libraries" >&2\nexit 127\n'
FAST = ("json",)  # modules the probe imports in these tests (the real set-up imports torch and torchvision)


def _fake_env(tmp_path: Path, python: str | None = REAL_PYTHON, console_script: bool = True) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    if python is not None:
        (venv / "bin" / "python").write_text(python)
        (venv / "bin" / "python").chmod(0o755)
    if console_script:
        (venv / "bin" / "lightning-gans").write_text("")
    return venv


@pytest.fixture
def small_lock(tmp_path):
    """A lock of one package, pinned at the version installed here."""
    from importlib.metadata import version

    lock = tmp_path / "lock.txt"
    lock.write_text(f"# test lock\ntorch=={version('torch')}\n")  # torch.__version__ may carry a local tag (+cu130)
    return lock


def _diagnose(venv, lock, **kwargs):
    kwargs.setdefault("imports", FAST)
    return setup_env.diagnose(venv, root=ROOT, lock=lock, pyproject=PYPROJECT, **kwargs)


def _stamp(venv, lock, python=None):
    setup_env.write_stamp(
        venv, python or "{}.{}.{}".format(*sys.version_info[:3]), root=ROOT, lock=lock, pyproject=PYPROJECT
    )


@pytest.mark.skipif(os.name == "nt", reason="fake envs use sh scripts")
class TestDiagnose:
    def test_no_env_is_created(self, tmp_path, small_lock):
        """A missing env, or an empty directory, is created."""
        assert _diagnose(tmp_path / "missing", small_lock)[0] == "create"
        (tmp_path / "empty").mkdir()
        assert _diagnose(tmp_path / "empty", small_lock)[0] == "create"

    def test_a_directory_that_is_not_a_venv_is_never_touched(self, tmp_path, small_lock):
        """A non-empty directory without pyvenv.cfg is an error naming `--venv`, not something to delete."""
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "keep.txt").write_text("x")
        with pytest.raises(SystemExit, match="`--venv`"):
            _diagnose(tmp_path / "data", small_lock)
        assert (tmp_path / "data" / "keep.txt").exists()

    def test_matching_stamp_skips_installation(self, tmp_path, small_lock):
        """Healthy env + stamp of this lock, pyproject and python: nothing to do."""
        venv = _fake_env(tmp_path)
        _stamp(venv, small_lock)
        assert _diagnose(venv, small_lock) == ("ok", [])

    def test_missing_python_is_rebuilt(self, tmp_path, small_lock):
        venv = _fake_env(tmp_path, python=None)
        _stamp(venv, small_lock)
        action, reasons = _diagnose(venv, small_lock)
        assert action == "rebuild" and "missing" in reasons[0]

    def test_python_that_does_not_run_is_rebuilt(self, tmp_path, small_lock):
        venv = _fake_env(tmp_path, python=BROKEN_PYTHON)
        _stamp(venv, small_lock)
        action, reasons = _diagnose(venv, small_lock)
        assert action == "rebuild" and "exit 127" in reasons[0] and "shared libraries" in reasons[0]

    def test_failing_core_import_is_rebuilt(self, tmp_path, small_lock):
        """A stamped env where a core import fails (e.g. torchvision's operators missing) is rebuilt."""
        venv = _fake_env(tmp_path)
        _stamp(venv, small_lock)
        action, reasons = _diagnose(venv, small_lock, imports=("json", "no_such_module_xyz"))
        assert (
            action == "rebuild" and reasons == [r for r in reasons if "no_such_module_xyz" in r] and len(reasons) == 1
        )

    def test_half_made_env_is_rebuilt(self, tmp_path, small_lock):
        """An env this script started (creation marker) but never stamped was interrupted: rebuilt."""
        venv = _fake_env(tmp_path)
        (venv / setup_env.CREATED_NAME).write_text("")
        action, reasons = _diagnose(venv, small_lock)
        assert action == "rebuild" and "half-made" in reasons[0]

    def test_changed_python_is_rebuilt(self, tmp_path, small_lock):
        venv = _fake_env(tmp_path)
        _stamp(venv, small_lock, python="3.9.0")
        action, reasons = _diagnose(venv, small_lock)
        assert action == "rebuild" and "3.9.0" in reasons[0]

    def test_changed_lock_or_pyproject_refreshes(self, tmp_path, small_lock):
        """Editing the lock (or pyproject) after set-up makes a healthy env stale, not broken."""
        venv = _fake_env(tmp_path)
        _stamp(venv, small_lock)
        small_lock.write_text(small_lock.read_text() + "# edited\n")
        action, reasons = _diagnose(venv, small_lock)
        assert action == "refresh" and reasons == ["lock.txt changed since the last set-up"]
        pyproject = tmp_path / "pyproject.toml"
        pyproject.write_text(PYPROJECT.read_text() + "\n")
        _stamp(venv, small_lock)
        action, reasons = setup_env.diagnose(venv, root=ROOT, lock=small_lock, pyproject=pyproject, imports=FAST)
        assert action == "refresh" and reasons == ["pyproject.toml changed since the last set-up"]

    def test_version_drift_refreshes(self, tmp_path, small_lock):
        """An installed version other than the locked one (or a locked package missing) is stale."""
        venv = _fake_env(tmp_path)
        small_lock.write_text("torch==0.0.1\nno-such-package-xyz==1.0\nnot-here==1.0 ; python_version < '3'\n")
        _stamp(venv, small_lock)
        action, reasons = _diagnose(venv, small_lock)
        assert action == "refresh" and len(reasons) == 2
        assert (
            "torch" in reasons[0] and "==0.0.1" in reasons[0] and "no-such-package-xyz is not installed" in reasons[1]
        )

    def test_other_checkout_or_missing_console_script_refreshes(self, tmp_path, small_lock):
        """lightning_gans must resolve to this checkout (a moved clone does not) and the console script must exist."""
        venv = _fake_env(tmp_path, console_script=False)
        _stamp(venv, small_lock)
        action, reasons = setup_env.diagnose(venv, root=tmp_path, lock=small_lock, pyproject=PYPROJECT, imports=FAST)
        assert action == "refresh" and len(reasons) == 2
        assert "not this checkout" in reasons[0] and "console script" in reasons[1]

    def test_healthy_env_made_by_hand_is_adopted_not_rebuilt(self, tmp_path, small_lock):
        """An env with no stamp and no creation marker that matches the lock is stamped as it is."""
        venv = _fake_env(tmp_path)
        assert _diagnose(venv, small_lock)[0] == "adopt"
        (venv / "bin" / "lightning-gans").unlink()
        assert _diagnose(venv, small_lock)[0] == "refresh"

    def test_first_run_installs_and_stamps_then_second_run_skips(self, tmp_path, monkeypatch, capsys):
        """`ensure`: no env -> install, verify, stamp; next run skips; stamp lost from a made env -> rebuild."""
        venv = tmp_path / "venv"
        calls = []

        def fake_install(target, action):  # what install() leaves behind, without pip
            calls.append(action)
            if action == "rebuild":
                shutil.rmtree(target)
            _fake_env(tmp_path)
            (target / setup_env.CREATED_NAME).write_text("")

        real_diagnose = setup_env.diagnose
        monkeypatch.setattr(setup_env, "install", fake_install)
        monkeypatch.setattr(setup_env, "diagnose", functools.partial(real_diagnose, imports=FAST))
        fake_install(venv, "probe")
        if real_diagnose(venv, imports=FAST, just_installed=True)[0] != "ok":
            pytest.skip("this env does not match requirements/lock.txt (not one made by `make`)")
        shutil.rmtree(venv)
        calls.clear()

        assert setup_env.ensure(venv) == 0 and calls == ["create"]
        assert setup_env.read_stamp(venv)["lock_sha256"] == setup_env.sha256(LOCK)
        assert "set-up: installed" in capsys.readouterr().out
        assert setup_env.ensure(venv) == 0 and calls == ["create"]
        assert "skipping installation" in capsys.readouterr().out
        (venv / setup_env.STAMP_NAME).unlink()
        assert setup_env.ensure(venv) == 0 and calls == ["create", "rebuild"]
        assert "half-made" in capsys.readouterr().out

    def test_check_flag_exit_status(self, tmp_path):
        """`setup_env.py --check` exits 1 and says why on an env that needs work, changing nothing."""
        venv = _fake_env(tmp_path)
        (venv / setup_env.CREATED_NAME).write_text("")
        out = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "setup_env.py"), "--venv", str(venv), "--check"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 1 and "rebuild" in out.stdout and "half-made" in out.stdout
        assert sorted(p.name for p in venv.iterdir()) == sorted(["bin", "pyvenv.cfg", setup_env.CREATED_NAME])


def test_makefile_runs_the_readme_commands():
    """`make test` runs the README's test command in the env, `make demo` the demo, both after the set-up; README and CI lead with them."""
    makefile = (ROOT / "Makefile").read_text()
    assert "test: setup\n\t$(VENV)/bin/python -m pytest $(PYTEST_ARGS)\n" in makefile
    assert "PYTEST_ARGS ?= -q\n" in makefile and "demo: setup\n" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest -q" in readme
    first_section = readme.split("\n## ", 2)[1]  # the README opens with the two commands, before anything else
    assert "```bash\nmake demo" in first_section and "\nmake test" in first_section
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("make test"), "CI's status must be `make test`'s"


# ----------------------------------------------------------------------------------------------
# make demo's script, on a budget of 12 batches


@pytest.mark.slow
def test_demo_runs_the_console_script_and_reports_run_metrics_and_grid(tmp_path):
    """scripts/demo.py exits 0 and prints the run's log dir, its final eval/* metrics and a PNG grid of 64 samples."""
    import torch
    from torchvision.io import read_image

    console = Path(sys.executable).parent / "lightning-gans"
    if not console.exists():
        pytest.skip("no installed console script beside this interpreter")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--config",
            str(ROOT / "examples" / "wgangp_digits_metrics.yaml"),
            "--",
            "--trainer.max_steps",
            "12",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.callbacks.init_args.num_samples=300",
            "--trainer.callbacks.init_args.kid_subset_size=100",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    (summary_path,) = tmp_path.rglob("demo_summary.json")
    summary = json.loads(summary_path.read_text())
    log_dir = Path(summary["log_dir"])
    assert log_dir.parent.parent == tmp_path and f"run (log dir):  {log_dir}" in out.stdout
    assert set(summary["metrics"]) >= {"eval/fid", "eval/is", "eval/kid"}
    for key, entry in summary["metrics"].items():
        assert entry["step"] == 12 and torch.isfinite(torch.tensor(entry["value"])), key
        assert f"{entry['value']:.4g}" in out.stdout
    # the newest checkpoint: fit's default last.ckpt, holding the final state
    assert torch.load(summary["checkpoint"], map_location="cpu", weights_only=False)["global_step"] == 12
    grid = read_image(summary["sample_grid"])  # (C, H, W): 8 x 8 samples of 8 px upscaled 16x, 2 px padding
    assert grid.shape[1:] == (8 * 130 + 2, 8 * 130 + 2)
    assert f"sample grid:    {summary['sample_grid']}" in out.stdout
