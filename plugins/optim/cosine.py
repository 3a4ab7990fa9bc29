"""Cosine annealing with an optional linear warm-up (chapter 6's learning-rate schedules).

For optimiser step s = 0, 1, ..., T - 1 of a run of T steps, with W warm-up
steps, base learning rate eta and floor eta_min:

    eta_s = eta (s + 1) / (W + 1)                                        s < W
    eta_s = eta_min + (eta - eta_min) (1 + cos(pi (s - W) / (T - W))) / 2    s >= W

The warm-up climbs in equal steps to eta at s = W; the cosine then decays it
smoothly to eta_min at the end of the run (and stays there past it).
"""

from __future__ import annotations

import math

from pydantic import Field
from torch.optim.lr_scheduler import LRScheduler

import dpzoo


class CosineConfig(dpzoo.Config):
    warmup_steps: int = Field(0, ge=0, description="Optimiser steps W of linear warm-up before the cosine")
    min_lr: float = Field(0.0, ge=0.0, description="Learning rate eta_min at the end of the run")


class WarmupCosine(LRScheduler):
    """The schedule above in closed form, so a resumed run continues it exactly."""

    def __init__(self, optimizer, total_steps: int, warmup_steps: int = 0, min_lr: float = 0.0):
        self.total_steps, self.warmup_steps, self.min_lr = total_steps, warmup_steps, min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.last_epoch, eta) for eta in self.base_lrs]

    def lr_at(self, s: int, eta: float) -> float:
        T, W = self.total_steps, self.warmup_steps
        if s < W:
            return eta * (s + 1) / (W + 1)
        progress = min(1.0, (s - W) / (T - W))
        return self.min_lr + (eta - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine(optimizer, config: CosineConfig | None = None, total_steps: int = 1) -> WarmupCosine:
    """Linear warm-up over W steps, then a half cosine from eta down to eta_min."""
    c = config or CosineConfig()
    if c.warmup_steps >= total_steps:
        raise dpzoo.ConfigError(
            f"scheduler 'cosine': warmup_steps ({c.warmup_steps}) must be smaller than the run's "
            f"{total_steps} optimiser steps; lower warmup_steps or train for longer"
        )
    return WarmupCosine(optimizer, total_steps, c.warmup_steps, c.min_lr)


cosine.Config = CosineConfig
