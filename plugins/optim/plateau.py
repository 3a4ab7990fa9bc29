"""Reduce the learning rate on a plateau (chapter 6).

The book's heuristic: when a monitored quantity (the validation loss, say) has
not improved by more than a tolerance for k validations in a row, divide the
learning rate by ten:

    eta <- max(eta_min, factor * eta)    after ``patience`` validations without improvement.

Unlike the other schedules this one is driven by a value, not by the step
count: the trainer reads ``scheduler.monitor`` and calls
``scheduler.step(value)`` after each validation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch.optim.lr_scheduler import ReduceLROnPlateau

import dpzoo


class PlateauConfig(dpzoo.Config):
    monitor: str = Field("validation/loss", description="Logged value the schedule watches")
    mode: Literal["min", "max"] | None = Field(
        None,
        description="'min' when lower is better (a loss), 'max' for accuracy (default: the monitored metric's higher_is_better)",
    )
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="Factor applied to the learning rate on a plateau")
    patience: int = Field(2, ge=0, description="Validations without improvement before the rate drops")
    threshold: float = Field(1e-4, ge=0.0, description="Relative improvement that counts as progress")
    cooldown: int = Field(0, ge=0, description="Validations to wait after a drop before watching again")
    min_lr: float = Field(0.0, ge=0.0, description="Floor eta_min for the learning rate")


def reduce_on_plateau(optimizer, config: PlateauConfig | None = None, total_steps: int = 1) -> ReduceLROnPlateau:
    """torch's ReduceLROnPlateau, with ``.monitor`` naming the value to pass to ``step``."""
    c = config or PlateauConfig()
    scheduler = ReduceLROnPlateau(
        optimizer,
        mode=c.mode or "min",
        factor=c.factor,
        patience=c.patience,
        threshold=c.threshold,
        cooldown=c.cooldown,
        min_lr=c.min_lr,
    )
    scheduler.monitor = c.monitor
    return scheduler


reduce_on_plateau.Config = PlateauConfig
