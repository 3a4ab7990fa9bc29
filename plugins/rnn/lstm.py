"""The LSTM cell, chapter 12's update equations:

    z(t) = (x(t), h(t-1))                                   (h(0) = c(0) = 0)
    f(t) = sigma(W_f z(t) + b_f)        forget gate
    i(t) = sigma(W_i z(t) + b_i)        input gate
    g(t) = tanh(W_g z(t) + b_g)         candidate memory
    o(t) = sigma(W_o z(t) + b_o)        output gate
    c(t) = f(t) * c(t-1) + g(t) * i(t)  long-term memory
    h(t) = o(t) * tanh(c(t))            output and hidden state

W_* z(t) + b_* is computed as W_*x x(t) + b_*x + W_*h h(t-1) + b_*h, with the
weights stored as ``torch.nn.LSTM`` stores them: ``weight_ih_lK`` is
[W_ix; W_fx; W_gx; W_ox] (4H x I, PyTorch's gate order i, f, g, o),
``weight_hh_lK`` likewise for h(t-1), and the two biases b_*x, b_*h (their sum
is the book's b_*). A state dict therefore moves between this cell and the
fused kernel unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

GATES = 4  # i, f, g, o


def initial_state(batch: int, hidden: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """(h(0), c(0)) = (0, 0)."""
    zero = like.new_zeros(batch, hidden)
    return zero, zero


def step(
    x_t: Tensor, state: tuple[Tensor, Tensor], W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """(output h(t), new state (h(t), c(t))) for one time step."""
    h_prev, c_prev = state
    a_i, a_f, a_g, a_o = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).chunk(GATES, dim=-1)
    f = torch.sigmoid(a_f)
    i = torch.sigmoid(a_i)
    g = torch.tanh(a_g)
    o = torch.sigmoid(a_o)
    c = f * c_prev + g * i
    h = o * torch.tanh(c)
    return h, (h, c)
