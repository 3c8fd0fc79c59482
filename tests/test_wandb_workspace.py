"""The W&B workspace template: built offline from code; its spec holds the standard panels on the right axes."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer

pytest.importorskip("wandb_workspaces")

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.callbacks import SampleLogger, ToyPlot
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.protocol import GENERATOR_STEP
from lightning_gans.wandb_workspace import EVAL_METRICS, LOSS_METRICS, MEDIA_KEYS, build_workspace, workspace_spec
from tests.conftest import trainer_kwargs


def _sections(spec: dict) -> dict:
    return {s["name"]: s for s in spec["spec"]["section"]["panel_bank_config"]["sections"]}


def test_spec_has_losses_eval_and_samples_sections():
    """Losses against train/generator_step (one panel per metric), eval metrics, one media browser; entity/project/name kept."""
    spec = workspace_spec(build_workspace("team", "gans", name="my view"))
    assert (spec["entity"], spec["project"], spec["display_name"]) == ("team", "gans", "my view")
    sections = _sections(spec)
    assert list(sections) == ["Losses", "Evaluation", "Samples"]
    losses = sections["Losses"]["panels"]
    assert [p["config"]["metrics"] for p in losses] == [[m] for m in LOSS_METRICS]
    assert {p["config"]["x_axis"] for p in losses} == {GENERATOR_STEP}
    assert sections["Losses"]["local_panel_settings"]["x_axis"] == GENERATOR_STEP
    assert [p["config"]["metrics"] for p in sections["Evaluation"]["panels"]] == [[m] for m in EVAL_METRICS]
    (media,) = sections["Samples"]["panels"]
    assert media["view_type"] == "Media Browser" and media["config"]["media_keys"] == list(MEDIA_KEYS)


def test_panels_name_what_the_code_logs():
    """Every metric a WGAN-GP run logs under train/ has a loss panel, and the media keys are the callbacks' default keys."""
    torch.manual_seed(0)
    model = WGANGP(MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2), latent_dim=2, n_critic=1, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=4))
    trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=4))
    logged = {k for k in trainer.callback_metrics if k.startswith("train/") and k != GENERATOR_STEP}
    assert logged and logged <= set(LOSS_METRICS)
    assert {SampleLogger().key, f"{SampleLogger().key}_real", ToyPlot().key} == set(MEDIA_KEYS)
