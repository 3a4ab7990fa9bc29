"""A relaxation of max (chapter 9).

Softmax with temperature tau weighs each element of x by how close it is to
being the largest; the weighted sum relaxes the maximum value:

    softmax(x / tau)^T x    -> max(x) as tau -> 0

(for x = [1.1, 4.0, -0.1, 2.3]: 3.571 at tau = 1, 3.9996 at tau = 0.2).
It works along the last dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import TemperatureRelaxation


class SoftMax(TemperatureRelaxation):
    """hard: max(x); soft: softmax(x / tau) . x."""

    def hard(self, x: Tensor) -> Tensor:
        return x.amax(dim=-1)

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        p = torch.softmax(x / self.temperature(tau), dim=-1)
        return (p * x).sum(dim=-1)
