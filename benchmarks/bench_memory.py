"""Peak memory of training steps: WGANGP in a Lightning Trainer vs the plain PyTorch loop.

CPU only, so there is no allocator counter like ``torch.cuda.max_memory_allocated``: each variant
runs in its own fresh subprocess (same imports), which after the warm-up updates writes ``5`` to
``/proc/self/clear_refs`` (Linux: resets the peak resident set size ``VmHWM`` to the current
``VmRSS``), runs the timed updates, and reports ``VmHWM - VmRSS at reset``: the extra memory the
training steps needed at their peak, beyond what was resident after warm-up. Resident memory after
warm-up is reported too. Linux only.

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = {"toy": (30, 120), "dcgan": (12, 60)}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _child(setup_name: str, variant: str, threads: int) -> None:
    sys.path.insert(0, str(HERE))
    import warnings

    import torch
    from _common import make_setup, run_lightning, run_plain

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    setup = make_setup(setup_name)
    warmup, steps = STEPS[setup_name]
    marks = {}

    def reset_peak() -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        marks["rss"] = _status_kib("VmRSS")

    (run_lightning if variant == "lightning" else run_plain)(setup, warmup, steps, at_start=reset_peak)
    print(json.dumps({"rss_mib": marks["rss"] / 1024, "peak_extra_mib": (_status_kib("VmHWM") - marks["rss"]) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=["toy", "dcgan"], choices=sorted(STEPS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("SETUP", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.threads)
        return
    sys.path.insert(0, str(HERE))
    import torch
    from _common import machine

    torch.set_num_threads(args.threads)  # as in the children
    print(f"# machine: {machine()}")
    print(
        "| setup | plain: RSS after warm-up (MiB) | plain: peak extra during steps (MiB) | Lightning: RSS after warm-up (MiB) | Lightning: peak extra during steps (MiB) |"
    )
    print("|---|---|---|---|---|")
    for name in args.setups:
        out = {}
        for variant in ("plain", "lightning"):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", name, variant, "--threads", str(args.threads)],
                capture_output=True,
                text=True,
                check=True,
            )
            out[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        p, lt = out["plain"], out["lightning"]
        print(
            f"| {name} | {p['rss_mib']:.0f} | {p['peak_extra_mib']:.1f} | {lt['rss_mib']:.0f} | {lt['peak_extra_mib']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
