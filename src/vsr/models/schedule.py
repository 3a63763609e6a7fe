"""The learning-rate schedule: one cosine decay per step, a function of the global step.

`CosineSchedule` gives every parameter group `eta_min + (base_lr - eta_min) * f(step)` with
`f` falling from 1 to 0 along half a cosine over `total_steps` (BasicVSR++'s
`CosineRestartLR` with one period, as the recipes use it), and `f = 0` from then on, so a run
that goes on past its horizon stays at `eta_min` instead of climbing back as
`CosineAnnealingLR`'s recursive form does.

Resuming with another horizon (`trainer.max_steps` raised to train longer, or lowered) does not
jump: the schedule keeps its past and appends a segment that decays from the factor reached at
the resume step to 0 at the new horizon. The segments are part of the scheduler's state, so
every later resume continues the same curve.
"""

from __future__ import annotations

import logging
import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

log = logging.getLogger(__name__)


def cosine_factor(step: int, segments: list[tuple[int, float, int]]) -> float:
    """`f(step)` of a schedule made of segments `(start, factor at start, end)`.

    Each segment decays from its start factor at `start` to 0 at `end` along half a cosine;
    the last segment that has started applies; past its end the factor is 0.
    """
    start, begin, end = segments[0]
    for segment in segments:
        if segment[0] <= step:
            start, begin, end = segment
    if step >= end:
        return 0.0
    return begin * 0.5 * (1.0 + math.cos(math.pi * (step - start) / (end - start)))


class CosineSchedule(LRScheduler):
    """Per-step cosine decay of every parameter group from its initial lr to `eta_min`.

    Args:
        optimizer: the optimizer; each group's initial `lr` is its base.
        total_steps: the horizon (`trainer.max_steps`).
        eta_min: the final learning rate of every group.
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, eta_min: float = 0.0) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps={total_steps}: the schedule needs at least one step")
        self.total_steps = total_steps
        self.eta_min = eta_min
        self.segments: list[tuple[int, float, int]] = [(0, 1.0, total_steps)]
        super().__init__(optimizer)

    def factor(self, step: int) -> float:
        return cosine_factor(step, self.segments)

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch)
        return [self.eta_min + (base - self.eta_min) * f for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the schedule; a different configured horizon continues it without a jump."""
        configured = self.total_steps
        super().load_state_dict(state_dict)
        self.segments = [tuple(s) for s in self.segments]  # type: ignore[misc]
        step = self.last_epoch
        if self.segments[-1][2] != configured and step < configured:
            reached = self.factor(step)
            log.warning(
                "the learning-rate schedule ran to step %d; now to %d: decaying from %.4g x the "
                "base rate at step %d to eta_min at step %d",
                self.segments[-1][2],
                configured,
                reached,
                step,
                configured,
            )
            self.segments.append((step, reached, configured))
        self.total_steps = configured
        # The groups' lr must be the schedule's value at the restored step.
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
