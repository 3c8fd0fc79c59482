"""The README's main job, measured: wall time, CPU time, peak memory and the metrics it logs.

Runs ``lightning-gans fit --config examples/wgangp_mnist.yaml`` (``make demo``'s job; ``--config`` for another,
e.g. the 8x8 ``examples/wgangp_digits_metrics.yaml``) exactly as a user would (the
installed console script, in a subprocess) with a CSV logger in a scratch directory, then prints

* wall time of the whole command (imports, training, the evaluations), its CPU time (user + system,
  children included) and the machine's load average before and after (the machine may be shared);
* the peak resident set size of the process (``getrusage(RUSAGE_CHILDREN).ru_maxrss``; Linux, KiB);
* one row per evaluation: generator step, ``eval/fid``, ``eval/is``, ``eval/kid``.

    python benchmarks/main_job.py                         # the full job: 1,500 generator steps
    python benchmarks/main_job.py --max-steps 600         # a shorter budget (200 generator steps)
    python benchmarks/main_job.py --config examples/wgangp_digits_metrics.yaml   # the 8x8 digits job
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "wgangp_mnist.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG, help="the job's config (default: the main job)")
    parser.add_argument("--max-steps", type=int, default=None, help="override the config's trainer.max_steps")
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed_everything")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the job (default: inherited)")
    parser.add_argument("--keep", default=None, help="directory to keep the run in (default: a temporary one)")
    args = parser.parse_args()

    script = Path(sys.executable).parent / "lightning-gans"
    command = [str(script) if script.exists() else shutil.which("lightning-gans"), "fit", "--config", str(args.config)]
    if args.max_steps is not None:
        command += ["--trainer.max_steps", str(args.max_steps)]
    if args.seed is not None:
        command += ["--seed_everything", str(args.seed)]
    out = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="main_job_")
    os.makedirs(out, exist_ok=True)
    command += [
        "--trainer.default_root_dir",
        out,
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        out,
    ]
    env = dict(os.environ)
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)

    print(f"# command: {('python benchmarks/main_job.py ' + shlex.join(sys.argv[1:])).strip()}")
    print(
        f"# runs: lightning-gans fit --config {_shown(args.config)}"
        f"{'' if args.max_steps is None else f' --trainer.max_steps {args.max_steps}'}"
        f"{'' if args.seed is None else f' --seed_everything {args.seed}'} (+ CSV logger, no progress bar)"
    )
    print(f"# machine: {machine()}; the job's OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', 'unset')}")
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=out, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"the job failed with exit status {proc.returncode}:\n{proc.stderr[-4000:]}")
    print(
        f"exit status 0; wall time {wall:.0f} s ({int(wall // 60)} min {wall % 60:.0f} s); "
        f"CPU time {usage.ru_utime + usage.ru_stime:.0f} s; peak RSS {usage.ru_maxrss / 2**20:.2f} GiB; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    (metrics_csv,) = glob.glob(os.path.join(out, "**", "metrics.csv"), recursive=True)
    with open(metrics_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("eval/fid")]
    n_critic = _n_critic(args.config)  # one batch = one update, n_critic + 1 per generator step
    print("| generator steps | batches (logger step) | eval/fid | eval/is | eval/kid |")
    print("|---|---|---|---|---|")
    for r in rows:
        batches = int(r["step"])
        print(
            f"| {batches // (n_critic + 1)} | {batches} | {float(r['eval/fid']):.3g} | {float(r['eval/is']):.3g} | "
            f"{float(r['eval/kid']):.3g} |"
        )
    if args.keep is None:
        shutil.rmtree(out, ignore_errors=True)


def _shown(config: Path) -> str:
    config = config.resolve()
    return str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config)


def _n_critic(config: Path) -> int:
    """The config's ``n_critic``, else its module's default (read from the class)."""
    import importlib
    import inspect

    import yaml

    model = yaml.safe_load(config.read_text())["model"]
    given = (model.get("init_args") or {}).get("n_critic")
    if given is not None:
        return int(given)
    module_name, _, name = model["class_path"].rpartition(".")
    return int(inspect.signature(getattr(importlib.import_module(module_name), name)).parameters["n_critic"].default)


if __name__ == "__main__":
    main()
