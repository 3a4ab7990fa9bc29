"""Cyclic learning rates (chapter 6; Smith, arXiv:1506.01186).

The learning rate sweeps up and down between eta_low and eta_high, a new value
each optimiser step, to shake the weights out of poor minima. In the
``triangular`` mode, with a half-cycle of S steps, at optimiser step s

    c     = floor(1 + s / (2 S))
    x     = |s / S - 2 c + 1|
    eta_s = eta_low + (eta_high - eta_low) max(0, 1 - x),

so eta_s climbs from eta_low at s = 0 to eta_high at s = S and back by s = 2 S.
``triangular2`` halves the height of each new cycle; ``exp_range`` scales it
by gamma^s. Unset, eta_high is the optimiser's learning rate, eta_low a tenth
of it, and S a quarter of the run (two full cycles).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch.optim.lr_scheduler import CyclicLR

import dpzoo


class CyclicConfig(dpzoo.Config):
    base_lr: float | None = Field(
        None, gt=0.0, description="Lowest learning rate eta_low; unset = a tenth of the optimiser's lr"
    )
    max_lr: float | None = Field(None, gt=0.0, description="Highest learning rate eta_high; unset = the optimiser's lr")
    step_size_up: int | None = Field(
        None, ge=1, description="Optimiser steps S from eta_low to eta_high; unset = a quarter of the run"
    )
    mode: Literal["triangular", "triangular2", "exp_range"] = Field(
        "triangular", description="Shape of successive cycles"
    )
    gamma: float = Field(1.0, gt=0.0, description="Per-step factor gamma of the exp_range mode")
    cycle_momentum: bool = Field(
        False, description="Cycle the momentum (or Adam's beta_1) inversely to the learning rate"
    )


def cyclic(optimizer, config: CyclicConfig | None = None, total_steps: int = 1) -> CyclicLR:
    """Triangular waves between eta_low and eta_high, S optimiser steps up and S down."""
    c = config or CyclicConfig()
    peak = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    return CyclicLR(
        optimizer,
        base_lr=c.base_lr if c.base_lr is not None else [eta / 10 for eta in peak],
        max_lr=c.max_lr if c.max_lr is not None else peak,
        step_size_up=c.step_size_up or max(1, total_steps // 4),
        mode=c.mode,
        gamma=c.gamma,
        cycle_momentum=c.cycle_momentum,
    )


cyclic.Config = CyclicConfig
