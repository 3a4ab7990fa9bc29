"""Softplus, a relaxation of ReLU (chapter 9).

ReLU, max(0, x), is continuous but has no derivative at 0. Softplus with
temperature tau is smooth everywhere:

    softplus_tau(x) = tau log(1 + exp(x / tau)),
    d/dx softplus_tau(x) = sigmoid(x / tau),

so at tau = 1 (the book's softplus, log(1 + e^x)) its derivative is the
logistic sigmoid, and as tau -> 0 it tends to max(0, x). Element-wise.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .common import TemperatureRelaxation


class Softplus(TemperatureRelaxation):
    """hard: max(0, x); soft: tau log(1 + exp(x / tau))."""

    def hard(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        tau = self.temperature(tau)
        return tau * F.softplus(x / tau)
