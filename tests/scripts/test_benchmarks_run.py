"""The speed benchmarks run at a tiny size in the suite, so that they cannot rot before a GPU or a quiet machine runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_gpu_benchmark_runs_tiny_on_cpu():
    """`benchmarks/gpu.py --tiny --device cpu`: one row per net and model, each with both rates and their ratio."""
    out = _run("benchmarks/gpu.py", "--tiny", "--device", "cpu")
    rows = [line for line in out.splitlines() if line.startswith(("| dcgan", "| resnet"))]
    assert len(rows) == 6 and not any("failed" in row for row in rows), out


def test_the_update_benchmark_runs_every_variant():
    """`benchmarks/bench_update.py` at 1 % of its budget: a ratio for each of the five variants of the toy, in order."""
    out = _run("benchmarks/bench_update.py", "--setups", "toy", "--rounds", "1", "--scale", "0.01")
    rows = [line.split(" | ")[1] for line in out.splitlines() if line.startswith("| toy |")]
    assert rows == [
        "Lightning's full path", "one update a batch", "+ fused Adam", "+ cycle per batch", "+ fused critic forward",
    ], out  # fmt: skip


def test_the_mnist_results_benchmark_runs_every_row():
    """`benchmarks/results_mnist.py` at a tiny size: both tables, the reference row and one row per model, each
    evaluated after exactly 2 generator updates (equal updates) and after 1 (0 s of training: equal time)."""
    out = _run(
        "benchmarks/results_mnist.py",
        *("--generator-updates", "2", "--seconds", "0", "--base-channels", "4", "--num-samples", "40", "--seeds", "0"),
    )
    tables = out.split("**equal training time")
    assert len(tables) == 2 and "**equal generator updates (2)**" in tables[0], out
    for table, updates in zip(tables, ("2 [2, 2]", "1 [1, 1]")):
        rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| model")]
        assert [row.split(" | ")[0] for row in rows] == [
            "| real held-out digits (1,000, reference)", "| GAN", "| WGAN", "| WGAN-GP", "| SNGAN", "| R3GAN",
        ], out  # fmt: skip
        assert all(row.split(" | ")[1] == updates for row in rows[1:]), out
