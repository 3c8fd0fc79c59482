#!/usr/bin/env python3
"""Create, refresh or reuse the project's virtualenv from ``requirements/lock.txt``.

Used by ``make demo`` and ``make test`` (and so by CI); needs only ``python3`` (3.10+) and the package
registry. What it does, in order:

1. Looks at the env (default ``.venv``) without changing it and decides one of

   - ``ok``: the stamp matches the lock, ``pyproject.toml`` and the env's python; torch and
     torchvision import; ``lightning_gans`` resolves to this checkout; every locked package is
     installed at its locked version. Installation is skipped (and the script says so).
   - ``adopt``: an env made by hand (no stamp, not made by this script) that passes every check
     above: it is stamped as it is, nothing is installed.
   - ``refresh``: a healthy env whose lock or ``pyproject.toml`` changed, or whose installed versions
     drifted from the lock: ``pip install`` into it (only what differs is downloaded).
   - ``rebuild``: a broken or half-made env (python missing or not running, python version changed,
     a core import failing, or an earlier run of this script that did not finish): deleted and made
     anew. Only a directory with a ``pyvenv.cfg`` is ever deleted.
   - ``create``: no env yet.

2. Installs ``pip`` at its locked version, then ``pip install -r requirements/lock.txt -e ".[dev]"``
   in one resolve, so pip itself fails if the lock and pyproject's ranges disagree.
3. Checks the env again and writes the stamp (``<venv>/lightning-gans-env.json``) only when every
   check passes, so an interrupted install is never taken for a finished one.

Examples:
    python3 scripts/setup_env.py                 # what `make demo` / `make test` run first
    python3 scripts/setup_env.py --check         # exit 0 when up to date, 1 (and why) otherwise
    python3 scripts/setup_env.py --write-lock    # regenerate the lock from a working env (`make lock`)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
PYPROJECT = ROOT / "pyproject.toml"
EXTRAS = "dev"
STAMP_NAME = "lightning-gans-env.json"
CREATED_NAME = "lightning-gans-env.created"  # written before installing, so a half-made env is known
LOG_NAME = "lightning-gans-setup.log"
CORE_IMPORTS = ("torch", "torchvision")  # compiled code: a bad pair fails here (lightning is pure Python)
NOT_LOCKED = {"lightning-gans", "wheel"}  # ours (editable) and a build tool (setuptools is locked: torch needs it)
# Pulled in by torch on Linux only (CUDA libraries, triton): locked for Linux, absent elsewhere.
LINUX_ONLY_PREFIXES = ("nvidia-", "cuda-", "triton")
PYTHON_MINORS = range(10, 15)  # 3.10 ... 3.14, for the python_version markers of the lock

# Runs inside the env's python (isolated, cwd outside the checkout) and prints one JSON line.
_PROBE = r"""
import importlib, importlib.metadata as md, importlib.util, json, sys
out = {"python": "%d.%d.%d" % sys.version_info[:3], "import_errors": [], "drift": []}
for name in filter(None, sys.argv[2].split(",")):
    try:
        importlib.import_module(name)
    except BaseException as err:  # noqa: BLE001 - report any failure, e.g. a missing shared library
        out["import_errors"].append("import %s: %s: %s" % (name, type(err).__name__, err))
spec = importlib.util.find_spec("lightning_gans")
out["lightning_gans"] = spec.origin if spec is not None else None
try:
    from packaging.requirements import Requirement
except ImportError as err:
    out["drift"].append("packaging is not installed (%s)" % err)
else:
    for line in open(sys.argv[1], encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            out["drift"].append("%s is not installed (lock: %s)" % (req.name, req.specifier))
            continue
        if not req.specifier.contains(have, prereleases=True):
            out["drift"].append("%s %s installed, lock says %s" % (req.name, have, req.specifier))
print(json.dumps(out))
"""

_REQUIRES_PYTHON = r"""
import importlib.metadata as md, json
print(json.dumps({d.metadata["Name"]: d.metadata.get("Requires-Python") for d in md.distributions()}))
"""


def venv_python(venv: Path) -> Path:
    """The interpreter of ``venv`` (POSIX or Windows layout)."""
    win = venv / "Scripts" / "python.exe"
    return win if win.exists() else venv / "bin" / "python"


def venv_script(venv: Path, name: str) -> Path:
    """A console script installed in ``venv``."""
    win = venv / "Scripts" / f"{name}.exe"
    return win if win.exists() else venv / "bin" / name


def sha256(path: Path) -> str:
    """Hex digest of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_stamp(venv: Path) -> dict | None:
    """The stamp written after the last successful set-up, or ``None``."""
    try:
        return json.loads((venv / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def probe(python: Path, lock: Path, imports: tuple[str, ...] = CORE_IMPORTS) -> tuple[dict | None, str]:
    """Run the health probe in ``python``; ``(result, "")`` or ``(None, why it could not run)``."""
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", _PROBE, str(lock), ",".join(imports)],
            cwd=str(python.parent),
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"{python} does not run ({err})"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{python} does not run (exit {proc.returncode}: {tail})"
    try:
        return json.loads(lines[-1]), ""
    except ValueError:
        return None, f"{python} printed no probe result ({lines[-1][:200]})"


def diagnose(
    venv: Path,
    root: Path = ROOT,
    lock: Path = LOCK,
    pyproject: Path = PYPROJECT,
    imports: tuple[str, ...] = CORE_IMPORTS,
    just_installed: bool = False,
) -> tuple[str, list[str]]:
    """Decide what the env at ``venv`` needs; changes nothing.

    Args:
        venv: the env directory.
        root: the checkout ``lightning_gans`` must resolve to.
        lock: the lock its packages must match.
        pyproject: the ``pyproject.toml`` it was installed from.
        imports: modules that must import in the env.
        just_installed: judge an env this script has just installed into, before its stamp is written
            (``"ok"`` when healthy).

    Returns:
        ``(action, reasons)`` with ``action`` one of ``"ok"``, ``"adopt"``, ``"refresh"``,
        ``"rebuild"``, ``"create"`` (see the module docstring) and the reasons in words.

    Raises:
        SystemExit: ``venv`` exists, is not empty and is not a virtualenv (never deleted).
    """
    if not venv.exists() or (venv.is_dir() and not any(venv.iterdir())):
        return "create", [f"no environment at {venv}"]
    if not (venv / "pyvenv.cfg").is_file():
        raise SystemExit(
            f"`--venv` {venv} exists and is not a virtualenv (no pyvenv.cfg); not touching it. "
            "Remove it or pick another path (make VENV=...)."
        )
    python = venv_python(venv)
    if not python.exists():
        return "rebuild", [f"{python} is missing"]
    stamp = read_stamp(venv)
    if stamp is None and (venv / CREATED_NAME).exists() and not just_installed:
        return "rebuild", ["half-made: an earlier set-up started here and did not finish (no stamp)"]
    result, why = probe(python, lock, imports)
    if result is None:
        return "rebuild", [why]
    if result["import_errors"]:
        return "rebuild", result["import_errors"]
    if stamp is not None and stamp.get("python") != result["python"]:
        return "rebuild", [f"python changed: stamp says {stamp.get('python')}, env runs {result['python']}"]
    stale = list(result["drift"])
    origin = result["lightning_gans"]
    package = (root / "lightning_gans").resolve()
    if origin is None:
        stale.append("lightning_gans is not installed")
    elif Path(origin).resolve().parent != package:
        stale.append(f"lightning_gans resolves to {origin}, not this checkout ({package})")
    if not venv_script(venv, "lightning-gans").exists():
        stale.append("the `lightning-gans` console script is missing")
    if just_installed:
        return ("refresh", stale) if stale else ("ok", [])
    if stamp is None:
        return (
            ("refresh", ["no stamp (env not made by this script)", *stale])
            if stale
            else ("adopt", ["no stamp, but the env matches the lock"])
        )
    if stamp.get("lock_sha256") != sha256(lock):
        stale.append(f"{lock.name} changed since the last set-up")
    if stamp.get("pyproject_sha256") != sha256(pyproject):
        stale.append(f"{pyproject.name} changed since the last set-up")
    return ("refresh", stale) if stale else ("ok", [])


def write_stamp(
    venv: Path, python_version: str, root: Path = ROOT, lock: Path = LOCK, pyproject: Path = PYPROJECT
) -> None:
    """Record what the env was set up from (read by :func:`diagnose`)."""
    stamp = {
        "lock_sha256": sha256(lock),
        "pyproject_sha256": sha256(pyproject),
        "python": python_version,
        "root": str(root),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    (venv / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")


def _locked_pip(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.lower().startswith("pip=="):
            return line.split(";", 1)[0].strip()
    return None


def _run_logged(cmd: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.call(cmd, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        sys.stderr.write("\n".join(tail) + "\n")
        raise SystemExit(f"set-up: `{' '.join(cmd)}` failed (exit {code}); full log: {log}")


def install(venv: Path, action: str) -> None:
    """Create the env if needed (``rebuild`` deletes it first) and install the lock into it."""
    if action == "rebuild":
        print(f"set-up: removing the broken env {venv}", flush=True)
        shutil.rmtree(venv)
    if action in ("rebuild", "create"):
        print(f"set-up: creating {venv} with {sys.executable} (python {sys.version.split()[0]})", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        except subprocess.CalledProcessError:
            raise SystemExit(
                f"set-up: `{sys.executable} -m venv {venv}` failed. On Debian/Ubuntu install the venv module "
                "(apt-get install python3-venv), or run with another interpreter: make PYTHON=python3.11 ..."
            ) from None
        (venv / CREATED_NAME).write_text("made by scripts/setup_env.py; the stamp follows when set-up ends\n")
    python = str(venv_python(venv))
    log = venv / LOG_NAME
    print(
        f"set-up: installing {LOCK.relative_to(ROOT)} + this checkout (editable, [{EXTRAS}]) into {venv} "
        f"(a first install downloads ~4 GB, mostly torch and its CUDA libraries; pip's log: {log})",
        flush=True,
    )
    pip = _locked_pip(LOCK)
    if pip:
        _run_logged([python, "-m", "pip", "install", "--disable-pip-version-check", pip], log)
    _run_logged(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-r",
            str(LOCK),
            "-e",
            f".[{EXTRAS}]",
        ],
        log,
    )


@contextlib.contextmanager
def _exclusive(venv: Path):
    """Hold a per-env lock, so `make demo` and `make test` started together set up one env once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    key = hashlib.sha256(str(venv.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"lightning-gans-setup-{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"set-up: waiting for another set-up of {venv} to finish", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure(venv: Path) -> int:
    """Make ``venv`` match the lock (see the module docstring); return a process exit code."""
    with _exclusive(venv):
        return _ensure(venv)


def _ensure(venv: Path) -> int:
    start = time.monotonic()
    lock_minor = _lock_python_minor(LOCK)
    if lock_minor and lock_minor != "{}.{}".format(*sys.version_info[:2]) and not venv.exists():
        print(
            f"set-up: note: the lock was tested on python {lock_minor}; with {sys.version.split()[0]} the "
            "packages marked for newer pythons resolve within pyproject.toml's ranges instead",
            flush=True,
        )
    action, reasons = diagnose(venv)
    if action == "ok":
        print(
            f"set-up: {venv} is up to date with {LOCK.relative_to(ROOT)} (stamp {venv / STAMP_NAME}); "
            f"skipping installation [{time.monotonic() - start:.1f} s]",
            flush=True,
        )
        return 0
    for reason in reasons:
        print(f"set-up: {action}: {reason}", flush=True)
    if action != "adopt":
        install(venv, action)
        after, problems = diagnose(venv, just_installed=True)
        if after != "ok" and action == "refresh":
            for problem in problems:
                print(f"set-up: still {after} after refreshing: {problem}", flush=True)
            install(venv, "rebuild")
            after, problems = diagnose(venv, just_installed=True)
        if after != "ok":
            raise SystemExit("set-up: the env is still not usable: " + "; ".join(problems))
    result, _ = probe(venv_python(venv), LOCK, imports=())
    write_stamp(venv, result["python"])
    verb = "adopted" if action == "adopt" else "installed"
    print(f"set-up: {verb} {venv} [{time.monotonic() - start:.0f} s]; the next run skips installation", flush=True)
    return 0


def _lock_python_minor(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith("# resolved on CPython "):
            return ".".join(line.split()[4].split(".")[:2])
    return None


def write_lock(venv: Path, lock: Path = LOCK) -> None:
    """Write ``lock`` from the versions installed in ``venv`` (``pip freeze``), with markers.

    Packages torch needs on Linux only get ``platform_system == "Linux"``; a package whose pinned
    version needs a newer python than 3.10 gets ``python_version >= "3.X"`` so that older pythons
    resolve it within pyproject's ranges instead of failing.
    """
    python = str(venv_python(venv))
    freeze = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout
    requires = json.loads(
        subprocess.run([python, "-I", "-c", _REQUIRES_PYTHON], capture_output=True, text=True, check=True).stdout
    )
    requires = {_normalize(k): v for k, v in requires.items()}
    minors = json.loads(
        subprocess.run(
            [
                python,
                "-I",
                "-c",
                "import json, sys; from packaging.specifiers import SpecifierSet as S\n"
                f"r = json.loads(sys.argv[1]); m = {list(PYTHON_MINORS)}\n"
                "print(json.dumps({k: min([x for x in m if S(v or '').contains('3.%d' % x)] or [0]) for k, v in r.items()}))",
                json.dumps(requires),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version(), platform.system(), platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    lines = []
    for line in freeze.splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        name, pinned = line.split("==", 1)
        key = _normalize(name)
        if key in NOT_LOCKED:
            continue
        markers = []
        if key.startswith(LINUX_ONLY_PREFIXES):
            markers.append('platform_system == "Linux"')
        lowest = minors.get(key, 10)
        if lowest > min(PYTHON_MINORS):
            markers.append(f'python_version >= "3.{lowest}"')
        lines.append(f"{key}=={pinned}" + (" ; " + " and ".join(markers) if markers else ""))
    header = [
        "# The versions tested together: `make demo`, `make test` and CI install exactly these",
        "# (python3 scripts/setup_env.py). pyproject.toml keeps the ranges library users need;",
        "# tests/scripts/test_setup_env.py fails when the two disagree. Regenerate from a working env: make lock",
        f"# resolved on CPython {version[0]} {version[1]} {version[2]}",
    ]
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("\n".join(header + sorted(lines, key=lambda line: line.split("==", 1)[0])) + "\n", encoding="utf-8")
    print(f"wrote {lock} ({len(lines)} packages from {venv})")


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the env to set up (default: .venv)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="only say whether the env is up to date (exit 0/1)")
    group.add_argument("--write-lock", action="store_true", help="write requirements/lock.txt from the env")
    args = parser.parse_args(argv)
    venv = args.venv if args.venv.is_absolute() else Path.cwd() / args.venv
    if args.write_lock:
        write_lock(venv)
        return 0
    if args.check:
        action, reasons = diagnose(venv)
        print(f"{venv}: {action}" + "".join(f"\n  {reason}" for reason in reasons))
        return 0 if action == "ok" else 1
    return ensure(venv)


if __name__ == "__main__":
    sys.exit(main())
