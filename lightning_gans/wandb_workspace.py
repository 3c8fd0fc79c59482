"""A W&B workspace template for lightning-gans runs, built from code with the wandb-workspaces package.

Sections: **Losses** (every ``train/`` metric the modules log, against ``train/generator_step``, the
x-axis that stays comparable across ``n_critic``), **Evaluation** (``eval/fid``, ``eval/is``,
``eval/kid`` and, when logged, precision/recall, against ``trainer/global_step``: ``GANMetrics``
logs at the trainer step), and **Samples** (``SampleLogger`` grids, the real grid, ``ToyPlot``).

Needs ``pip install wandb-workspaces`` (optional); saving needs a W&B login:

Example:
    >>> workspace = build_workspace("my-entity", "lightning-gans")  # doctest: +SKIP
    >>> workspace.save()  # creates the view in the project  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lightning_gans import protocol as M

__all__ = ["EVAL_METRICS", "LOSS_METRICS", "MEDIA_KEYS", "build_workspace", "workspace_spec"]

LOSS_METRICS: tuple[str, ...] = (
    M.CRITIC_LOSS,
    M.GENERATOR_LOSS,
    M.WASSERSTEIN_ESTIMATE,
    M.GRADIENT_PENALTY,
    M.PENALTY,
    M.REAL_SIGN,
)
"""Training metrics plotted against ``train/generator_step`` (the names the modules log)."""

EVAL_METRICS: tuple[str, ...] = ("eval/fid", "eval/is", "eval/kid")
"""``GANMetrics`` results, one panel each."""

MEDIA_KEYS: tuple[str, ...] = ("samples", "samples_real", "toy")
"""Image keys of ``SampleLogger`` (grid and real grid) and ``ToyPlot``."""


def _require() -> None:
    try:
        import wandb_workspaces  # noqa: F401
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("The W&B workspace template needs `pip install wandb-workspaces`.") from err


def build_workspace(
    entity: str,
    project: str,
    name: str = "lightning-gans",
    losses: Sequence[str] = LOSS_METRICS,
    evaluation: Sequence[str] = EVAL_METRICS,
    media_keys: Sequence[str] = MEDIA_KEYS,
) -> Any:
    """The workspace view (a ``wandb_workspaces.workspaces.Workspace``); ``.save()`` uploads it.

    Args:
        entity: W&B user or team.
        project: W&B project the runs log to.
        name: the view's name.
        losses: training metrics, one line plot each against ``train/generator_step``.
        evaluation: evaluation metrics, one line plot each against ``trainer/global_step``.
        media_keys: image keys shown in one media browser.
    """
    _require()
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws

    loss_panels = [wr.LinePlot(title=key.rpartition("/")[2], x=M.GENERATOR_STEP, y=[key]) for key in losses]
    eval_panels = [
        wr.LinePlot(title=key.rpartition("/")[2].upper(), x="trainer/global_step", y=[key]) for key in evaluation
    ]
    media = [wr.MediaBrowser(title="samples", media_keys=list(media_keys), num_columns=len(media_keys))]
    return ws.Workspace(
        entity=entity,
        project=project,
        name=name,
        sections=[
            ws.Section(
                name="Losses",
                panels=list[Any](loss_panels),
                is_open=True,
                panel_settings=ws.SectionPanelSettings(x_axis=M.GENERATOR_STEP),
            ),
            ws.Section(name="Evaluation", panels=list[Any](eval_panels), is_open=True),
            ws.Section(name="Samples", panels=list[Any](media), is_open=True),
        ],
    )


def workspace_spec(workspace: Any) -> dict[str, Any]:
    """The spec ``workspace.save()`` would send, as a dict, computed offline (see ``_compat.workspace_spec_json``)."""
    from lightning_gans._compat import workspace_spec_json

    return json.loads(workspace_spec_json(workspace))
