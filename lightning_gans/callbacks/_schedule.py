"""The generator-step schedule shared by the callbacks that act every N generator updates.

``SampleLogger``, ``ToyPlot`` and ``GANMetrics`` act every ``every`` generator updates and once more
when training ends, never twice for one generator step; the last step acted on is checkpointed, so a
resumed run continues the schedule.
"""

from __future__ import annotations

from typing import Any

from lightning_gans import _checks

__all__ = ["GeneratorStepSchedule"]


class GeneratorStepSchedule:
    """When to act, in generator updates.

    Args:
        every: act after every ``every``-th generator update (``None``: never on a step count).
        at_end: act once more when training ends, unless that generator step was just acted on.
    """

    def __init__(self, every: int | None, at_end: bool) -> None:
        self.every = _checks.optional_integer("every_n_generator_steps", every)
        self.at_end = _checks.boolean("at_end", at_end)
        self.last = -1  # the generator step last acted on

    def not_done(self, step: int) -> bool:
        """Whether nothing was done at generator step ``step`` yet."""
        return step != self.last

    def due(self, step: int) -> bool:
        """Whether generator step ``step`` (> 0) is one of every ``every`` and not acted on yet."""
        return self.every is not None and step > 0 and step % self.every == 0 and self.not_done(step)

    def due_at_end(self, step: int, ending: bool) -> bool:
        """Whether to act because training is ``ending`` at generator step ``step``."""
        return self.at_end and ending and self.not_done(step)

    def mark(self, step: int) -> None:
        """Record that generator step ``step`` was acted on."""
        self.last = step

    def state_dict(self) -> dict[str, Any]:
        return {"last": self.last}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last = int(state_dict.get("last", -1))
