"""The Huber function, a relaxation of the absolute value |x| (chapter 9).

|x| (the L1 norm, summed) has gradients -1 and +1 on either side of 0, which
makes descent oscillate around the origin. Huber's function replaces it with
a parabola inside a band of half-width tau:

    huber_tau(x) = 0.5 x^2 / tau     if |x| < tau
                   |x| - 0.5 tau     otherwise.

Value and slope agree where the pieces meet, the slope x / tau shrinks to zero
at the origin, and as tau -> 0 the function tends to |x|. At tau = 1 it is the
book's smooth L1: 0.5 x^2 inside the unit band, |x| - 0.5 outside. Element-wise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import TemperatureRelaxation


class Huber(TemperatureRelaxation):
    """hard: |x|; soft: smooth L1 with threshold tau."""

    def hard(self, x: Tensor) -> Tensor:
        return x.abs()

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        tau = self.temperature(tau)
        a = x.abs()
        return torch.where(a < tau, 0.5 * x * x / tau, a - 0.5 * tau)
