"""Relaxations of arg max (chapter 9).

The one-hot arg max of x in R^N is a step function: its derivatives are zero
almost everywhere. Softmax with temperature tau relaxes it,

    softmax(x / tau)_i = exp(x_i / tau) / sum_j exp(x_j / tau),

and tends to the one-hot arg max as tau -> 0 (for x = [1.1, 4.0, -0.1, 2.3]:
[0.044, 0.797, 0.013, 0.146] at tau = 1). Taking the dot product with the
index vector i = [0, 1, ..., N - 1] relaxes the arg max *index*:

    softargmax(x) = softmax(x / tau)^T i    -> argmax(x) as tau -> 0.

The straight-through arg max returns the exact one-hot vector forwards and
passes the softmax's gradient backwards:

    STargmax(x) = softmax(x / tau) + stopgrad(onehot(argmax x) - softmax(x / tau)).

Everything works along the last dimension.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import TemperatureRelaxation


def one_hot_argmax(x: Tensor) -> Tensor:
    """The one-hot vector of arg max over the last dimension (the first index on ties), in x's dtype."""
    return F.one_hot(x.argmax(dim=-1), x.shape[-1]).to(x.dtype)


class Softmax(TemperatureRelaxation):
    """hard: one-hot arg max; soft: softmax(x / tau)."""

    def hard(self, x: Tensor) -> Tensor:
        return one_hot_argmax(x)

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        return torch.softmax(x / self.temperature(tau), dim=-1)


class SoftArgmax(TemperatureRelaxation):
    """hard: the arg max index as a float; soft: softmax(x / tau) . [0, 1, ..., N - 1]."""

    def hard(self, x: Tensor) -> Tensor:
        return x.argmax(dim=-1).to(x.dtype)

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        i = torch.arange(x.shape[-1], dtype=x.dtype, device=x.device)
        return torch.softmax(x / self.temperature(tau), dim=-1) @ i


class StraightThroughArgmax(Softmax):
    """The exact one-hot arg max forwards, the gradient of softmax(x / tau) backwards.

    ``soft`` is the straight-through estimate itself, so a model that calls
    ``relaxation.soft(x, tau)`` while training gets discrete values with a usable
    gradient; ``hard`` is the plain one-hot arg max.
    """

    def soft(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        return self.straight_through(x, tau)

    def straight_through(self, x: Tensor, tau: float | Tensor | None = None) -> Tensor:
        p = super().soft(x, tau)
        return self.hard(x) + (p - p.detach())
