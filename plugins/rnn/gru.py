"""The gated recurrent unit (GRU), chapter 12:

    z(t) = sigma(W_z (x(t), h(t-1)) + b_z)             update gate
    r(t) = sigma(W_r (x(t), h(t-1)) + b_r)             reset gate
    n(t) = tanh(W_n (x(t), r(t) * h(t-1)) + b_n)       new state, before the update
    h(t) = (1 - z(t)) * h(t-1) + z(t) * n(t)           (h(0) = 0)

The weights are stored as ``torch.nn.GRU`` stores them, so a state dict moves
between this cell and the fused kernel unchanged. Two conventions differ
between the book and PyTorch (and cuDNN), and this cell follows the book in the
first and PyTorch in the second:

* **z versus 1 - z.** The book's z(t) is the fraction of the *new* state kept;
  PyTorch's gate z'(t) is the fraction of the *old* one:
  h(t) = (1 - z'(t)) * n(t) + z'(t) * h(t-1). So z(t) = 1 - z'(t) =
  sigma(-(pre-activation of z')): the book's update-gate weights are the
  negated rows PyTorch stores (W_z = -W_z', b_z = -b_z'). The code below reads
  PyTorch's rows, forms the book's z(t) from them and applies the book's update.
* **Where the reset gate acts.** The book resets h(t-1) before the product,
  W_nh (r * h(t-1)); PyTorch resets after it, r * (W_nh h(t-1) + b_nh). These
  are different functions, so no shared weights could make the book's placement
  equal to ``nn.GRU``; to keep one weight layout the cell uses PyTorch's
  placement: n(t) = tanh(W_nx x(t) + b_nx + r(t) * (W_nh h(t-1) + b_nh)).

Gate rows in ``weight_ih_lK`` / ``weight_hh_lK`` are in PyTorch's order r, z', n.
"""

from __future__ import annotations

import torch
from torch import Tensor

GATES = 3  # r, z', n


def initial_state(batch: int, hidden: int, like: Tensor) -> Tensor:
    """h(0) = 0."""
    return like.new_zeros(batch, hidden)


def step(x_t: Tensor, h_prev: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> tuple[Tensor, Tensor]:
    """(output h(t), new state h(t)) for one time step."""
    ax_r, ax_z, ax_n = (x_t @ W_ih.T + b_ih).chunk(GATES, dim=-1)
    ah_r, ah_z, ah_n = (h_prev @ W_hh.T + b_hh).chunk(GATES, dim=-1)
    r = torch.sigmoid(ax_r + ah_r)
    z = torch.sigmoid(-(ax_z + ah_z))  # the book's update gate: 1 - PyTorch's z'
    n = torch.tanh(ax_n + r * ah_n)
    h = (1 - z) * h_prev + z * n
    return h, h
