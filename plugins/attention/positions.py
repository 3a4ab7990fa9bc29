"""Position embeddings (chapter 15): attention alone is blind to order, so each position adds a vector.

* ``learned``: a table P [context, D] trained with the rest (GPT's choice);
  inputs longer than ``context`` have no row.
* ``sinusoidal``: fixed, P[t, 2i] = sin(t / 10000^(2i/D)), P[t, 2i+1] = cos(t / 10000^(2i/D))
  (Vaswani et al.): no parameters, any length, and P[t + k] is a linear
  function of P[t] for each offset k.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal(T: int, D: int) -> Tensor:
    """The [T, D] table above (D even or odd: the last cosine column is dropped when D is odd)."""
    t = torch.arange(T, dtype=torch.float32)[:, None]
    rates = torch.exp(-math.log(10000.0) * torch.arange(0, D, 2, dtype=torch.float32) / D)
    table = torch.zeros(T, D)
    table[:, 0::2] = torch.sin(t * rates)
    table[:, 1::2] = torch.cos(t * rates)[:, : D // 2]
    return table


class Positions(nn.Module):
    """P[0..T-1] for an input of T positions."""

    def __init__(self, kind: str, context: int, width: int):
        super().__init__()
        self.kind, self.context, self.width = kind, context, width
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(context, width))
            nn.init.normal_(self.table, std=0.02)
        else:  # computed, not stored: the state dict holds weights only
            self.register_buffer("table", sinusoidal(context, width), persistent=False)

    def forward(self, T: int) -> Tensor:
        if T > self.context and self.kind == "sinusoidal":
            return sinusoidal(T, self.width).to(self.table.device)
        return self.table[:T]
