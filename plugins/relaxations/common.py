"""What every relaxation here shares: a default temperature and an exact straight-through."""

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
        """Forward ``hard(x)``, backward the gradient of ``soft(x, tau)``.

        Written hard + (soft - stopgrad(soft)) rather than the book's
        soft + stopgrad(hard - soft): the gradients are the same, but
        soft - soft is exactly zero while soft + (hard - soft) can be off from
        hard by a rounding error, and the forward value should be hard, exactly.
        """
        soft = self.soft(x, tau)
        return self.hard(x).detach() + (soft - soft.detach())
