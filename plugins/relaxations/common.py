"""What every relaxation here shares: a default temperature tau from the config."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor

import dpzoo


class RelaxationConfig(dpzoo.Config):
    tau: float = Field(1.0, gt=0.0, description="Temperature tau used when soft() is called without one")


class TemperatureRelaxation(dpzoo.Relaxation):
    """A relaxation whose ``soft(x)`` defaults to the configured temperature."""

    Config = RelaxationConfig

    def temperature(self, tau: float | Tensor | None) -> float | Tensor:
        return self.config.tau if tau is None else tau

    def straight_through(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        """``dpzoo.Relaxation.straight_through`` at the configured tau when none is given."""
        return super().straight_through(x, tau)
