"""Step decay (chapter 6): cut the learning rate by a constant factor at fixed intervals.

For optimiser step s = 0, 1, 2, ... with base learning rate eta,

    eta_s = eta gamma^floor(s / step_size).

The default drops the rate tenfold after each third of the run.
"""

from __future__ import annotations

from pydantic import Field
from torch.optim.lr_scheduler import StepLR

import dpzoo


class StepConfig(dpzoo.Config):
    step_size: int | None = Field(None, ge=1, description="Optimiser steps between decays; unset = a third of the run")
    gamma: float = Field(0.1, gt=0.0, description="Factor gamma applied to the learning rate at each decay")


def step(optimizer, config: StepConfig | None = None, total_steps: int = 1) -> StepLR:
    """eta_s = eta gamma^floor(s / step_size)."""
    c = config or StepConfig()
    return StepLR(optimizer, step_size=c.step_size or max(1, total_steps // 3), gamma=c.gamma)


step.Config = StepConfig
