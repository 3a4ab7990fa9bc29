"""Options shared by every optimiser."""

from __future__ import annotations

from pydantic import Field

import dpzoo


class OptimiserConfig(dpzoo.Config):
    lr: float = Field(0.1, gt=0.0, description="Learning rate eta")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty lambda: g_t <- g_t + lambda theta_{t-1}")
