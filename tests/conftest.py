"""Shared test helpers: small nets and data so that each test trains in seconds on 2 CPU cores."""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_open_wandb_run():
    """Finish a W&B run a test left open: WandbLogger would reuse it and write into another test's folder."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def trainer_kwargs(**overrides):
    """Quiet single-process CPU trainer arguments."""
    kwargs = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def one_thread():
    """Run a test with one intra-op thread: tiny nets train faster than with two threads on two cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
