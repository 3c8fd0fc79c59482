#!/usr/bin/env python
"""``make demo``: run the main job through the installed console script and say what it produced.

Runs ``lightning-gans fit --config <config> [extra CLI args]`` with the env's console script, then
prints where the run went (its log dir), the final value of every ``eval/*`` metric read back from the
run's logs (TensorBoard event file or ``metrics.csv``), the final checkpoint, and the path of a sample
grid: the newest PNG the run wrote, or else one written here from the final checkpoint
(``<log dir>/demo_samples.png``, 64 samples). The same facts go to ``<log dir>/demo_summary.json``.

Examples:
    make demo                                              # the main job, examples/wgangp_mnist.yaml
    python scripts/demo.py --config examples/wgangp_digits_metrics.yaml -- --trainer.max_steps 60  # the 8x8 job
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRID_NAME = "demo_samples.png"
SUMMARY_NAME = "demo_summary.json"


def _default_root_dir(config: Path, cli_args: list[str]) -> Path:
    """Where the run's logs go: ``--trainer.default_root_dir`` if given, else the config's, else cwd."""
    for i, arg in enumerate(cli_args):
        if arg.startswith("--trainer.default_root_dir="):
            return Path(arg.split("=", 1)[1])
        if arg == "--trainer.default_root_dir" and i + 1 < len(cli_args):
            return Path(cli_args[i + 1])
    import yaml

    trainer = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("trainer") or {}
    return Path(trainer.get("default_root_dir") or ".")


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda p: p.stat().st_mtime) if paths else None


def find_log_dir(root: Path, since: float) -> Path | None:
    """The directory of the newest logger output (event file or metrics.csv) written after ``since``."""
    written = [
        p
        for pattern in ("events.out.tfevents.*", "metrics.csv")
        for p in root.rglob(pattern)
        if p.stat().st_mtime >= since
    ]
    newest = _newest(written)
    return newest.parent if newest is not None else None


def read_scalars(log_dir: Path) -> dict[str, tuple[int, float]]:
    """Last ``(step, value)`` of every scalar the run logged (TensorBoard events or ``metrics.csv``)."""
    out: dict[str, tuple[int, float]] = {}
    csv_path = log_dir / "metrics.csv"
    if csv_path.exists():
        with csv_path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                step = int(float(row.get("step") or 0))
                for key, value in row.items():
                    fresh = key not in out or step >= out[key][0]
                    if key not in ("step", "epoch") and value not in (None, "") and fresh:
                        out[key] = (step, float(value))
    if list(log_dir.glob("events.out.tfevents.*")):
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            last = max(events.Scalars(tag), key=lambda e: (e.step, e.wall_time))
            out[tag] = (int(last.step), float(last.value))
    return out


def _load_module(checkpoint: Path) -> Any:
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)  # our own checkpoint
    class_path = (saved.get("hyper_parameters") or {}).get("_class_path", "lightning_gans.AdversarialModule")
    module_name, _, name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)
    return cls.load_from_checkpoint(str(checkpoint), map_location="cpu")


def write_sample_grid(checkpoint: Path, path: Path, n: int = 64, seed: int = 0) -> Path:
    """Write ``n`` samples of the checkpoint's generator (EMA if any) to ``path``.

    Images ``(N, C, H, W)`` in [-1, 1] become an 8-column grid, upscaled so 8x8 digits are visible;
    2-D points become a scatter plot (needs matplotlib).
    """
    import torch

    module = _load_module(checkpoint)
    rng = torch.Generator().manual_seed(seed)
    samples = module.sample(n, rng=rng).float().cpu()  # (N, *S)
    if samples.dim() == 4:
        from torch.nn.functional import interpolate
        from torchvision.utils import make_grid, save_image

        scale = max(1, 128 // samples.shape[-1])
        images = interpolate(samples, scale_factor=scale, mode="nearest")
        save_image(make_grid(images, nrow=8, padding=2, normalize=True, value_range=(-1.0, 1.0)), str(path))
    elif samples.dim() == 2 and samples.shape[1] == 2:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(samples[:, 0], samples[:, 1], s=4)
        ax.set_aspect("equal")
        fig.savefig(path, dpi=100)
        plt.close(fig)
    else:
        raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "wgangp_mnist.yaml")
    parser.add_argument("cli_args", nargs="*", help="extra arguments for `lightning-gans fit` (after --)")
    args = parser.parse_args(argv)
    script = Path(sys.executable).parent / "lightning-gans"
    if not script.exists():
        raise SystemExit(f"demo: no console script at {script}; run `make demo` (it installs the package).")
    root = _default_root_dir(args.config, args.cli_args)
    command = [str(script), "fit", "--config", str(args.config), *args.cli_args]
    print("demo: " + " ".join(command), flush=True)
    start = time.time()
    code = subprocess.call(command, stdin=subprocess.DEVNULL)
    seconds = time.time() - start
    if code != 0:
        print(f"demo: the main job failed (exit {code})", file=sys.stderr)
        return code
    log_dir = find_log_dir(root, start)
    log_dir = log_dir.resolve() if log_dir is not None else None
    if log_dir is None:
        raise SystemExit(f"demo: the run wrote no logs under {root}")
    scalars = read_scalars(log_dir)
    metrics = {k: v for k, v in scalars.items() if k.startswith("eval/")} or scalars
    checkpoint = _newest([p for p in log_dir.rglob("*.ckpt") if p.stat().st_mtime >= start])
    png = _newest([p for p in log_dir.rglob("*.png") if p.stat().st_mtime >= start and p.name != GRID_NAME])
    if png is None and checkpoint is not None:
        png = write_sample_grid(checkpoint, log_dir / GRID_NAME)
    summary = {
        "config": str(args.config),
        "log_dir": str(log_dir),
        "seconds": round(seconds, 1),
        "metrics": {k: {"step": s, "value": v} for k, (s, v) in sorted(metrics.items())},
        "checkpoint": str(checkpoint) if checkpoint else None,
        "sample_grid": str(png) if png else None,
    }
    (log_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"\n== demo: {args.config} finished in {seconds / 60:.1f} min ==")
    print(f"run (log dir):  {log_dir}")
    for key, (step, value) in sorted(metrics.items()):
        shown = f"{value:.4g}" if math.isfinite(value) else str(value)
        print(f"  {key:<22} {shown:>10}   (step {step})")
    print(f"checkpoint:     {checkpoint}")
    print(f"sample grid:    {png}")
    print(f"summary:        {log_dir / SUMMARY_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
