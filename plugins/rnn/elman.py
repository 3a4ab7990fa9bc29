"""The Elman cell ("vanilla RNN"), chapter 12:

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          (the state update g)
    y_t = W_y h_t + b_y                                          (the head, in the language model)

with h_0 = 0. The weights are stored as ``torch.nn.RNN`` stores them
(``weight_ih_lK`` [H, I], ``weight_hh_lK`` [H, H], ``bias_ih_lK``, ``bias_hh_lK``),
so a state dict moves between this cell and the fused kernel unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

GATES = 1  # rows of W_ih per hidden unit


def initial_state(batch: int, hidden: int, like: Tensor) -> Tensor:
    """h_0 = 0."""
    return like.new_zeros(batch, hidden)


def step(x_t: Tensor, h_prev: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> tuple[Tensor, Tensor]:
    """(output h_t, new state h_t) for one time step."""
    h_t = torch.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)
    return h_t, h_t
