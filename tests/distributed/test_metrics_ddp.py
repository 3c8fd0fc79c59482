"""GANMetrics under 2-process CPU DDP (gloo), run as subprocesses of tests/distributed/scripts/metrics_ddp.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "distributed" / "scripts" / "metrics_ddp.py"
_LAUNCH_VARS = (
    "LOCAL_RANK",
    "RANK",
    "WORLD_SIZE",
    "NODE_RANK",
    "GROUP_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "SLURM_NTASKS",
    "SLURM_JOB_NAME",
    "PL_GLOBAL_SEED",
)


def _run(devices: int, out: Path, cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(devices), str(out), str(cache)],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # rank 1 is rank 0's child, in the same session
        raise
    assert proc.returncode == 0, log[-3000:]


def test_two_process_metrics_equal_one_process_and_agree_across_ranks(tmp_path):
    """2-process DDP: every rank holds identical FID/IS/KID, equal to a 1-process run on the same samples; rank-0-only logging does not hang."""
    _run(2, tmp_path / "ddp", tmp_path / "cache_ddp")
    _run(1, tmp_path / "single", tmp_path / "cache_single")
    rank0, rank1 = (json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1))
    single = json.loads((tmp_path / "single" / "rank0.json").read_text())
    assert rank0["world_size"] == 2 and single["world_size"] == 1
    assert rank0["metrics"] == rank1["metrics"]
    assert set(single["metrics"]) == {
        *("eval/fid", "eval/is", "eval/is_std", "eval/kid", "eval/kid_std"),
        *("eval/precision", "eval/recall", "eval/f_score", "eval/density", "eval/coverage"),
    }
    for key, value in single["metrics"].items():
        assert rank0["metrics"][key] == pytest.approx(value, rel=1e-5, abs=1e-9), key
    # the real-statistics cache key does not depend on the number of processes
    assert {p.name for p in (tmp_path / "cache_ddp").glob("*.npz")} == {
        p.name for p in (tmp_path / "cache_single").glob("*.npz")
    }
    assert len(list((tmp_path / "cache_ddp").glob("*.npz"))) == 1
    assert "eval/fid" in next((tmp_path / "ddp").rglob("metrics.csv")).read_text()
