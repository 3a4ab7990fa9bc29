"""A stack of recurrent layers unrolled in time: the book's cells or PyTorch's fused kernels.

Chapter 12: a recurrent network is a recursive function invocation,
y(t) = f(x(t), c(t-1) | W) with state c(t) = g(x(t), c(t-1) | W); stacking is
function composition, the outputs of layer k at time t being the inputs of
layer k + 1 at time t. Dropout (when set) acts on the outputs of every layer
but the last, as ``torch.nn.LSTM``'s ``dropout`` does.

``impl="book"`` runs the cells of ``elman.py``, ``lstm.py`` and ``gru.py``
one time step at a time in Python (readable; slow). ``impl="fused"`` runs
``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (one kernel per layer). Both hold the
same parameters under the same names (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ...) and take and return the state in the same
form ([layers, batch, hidden]; a pair (h, c) for the LSTM), so a state dict
moves between them unchanged.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import elman, gru, lstm

Cell = Literal["elman", "lstm", "gru"]
CELLS: dict[str, ModuleType] = {"elman": elman, "lstm": lstm, "gru": gru}
FUSED: dict[str, type[nn.RNNBase]] = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

State = Any  # Tensor [L, B, H], or a pair of them for the LSTM


class BookRecurrence(nn.Module):
    """``layers`` stacked book cells over a [B, T, I] input (batch first), with ``nn.RNNBase``'s parameters."""

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.cell, self.module = cell, CELLS[cell]
        self.input_size, self.hidden_size, self.num_layers, self.dropout = input_size, hidden_size, num_layers, dropout
        rows = self.module.GATES * hidden_size
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(rows, width)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(rows, hidden_size)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(rows)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, PyTorch's initialisation for its fused layers."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_weights(self, k: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return tuple(getattr(self, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Outputs of the last layer [B, T, H] and the final state of every layer."""
        B = x.shape[0]
        finals = []
        for k in range(self.num_layers):
            s = self.module.initial_state(B, self.hidden_size, x) if state is None else layer_state(state, k)
            outputs = []
            for t in range(x.shape[1]):  # back-propagation through time unrolls this loop
                y_t, s = self.module.step(x[:, t], s, *self.layer_weights(k))
                outputs.append(y_t)
            x = torch.stack(outputs, dim=1)
            if self.dropout and self.training and k < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, training=True)
            finals.append(s)
        if self.cell == "lstm":
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return x, torch.stack(finals)


def layer_state(state: State, k: int) -> State:
    """Layer ``k``'s slice of a stacked state."""
    return (state[0][k], state[1][k]) if isinstance(state, tuple) else state[k]


def recurrence(
    cell: Cell, impl: Literal["book", "fused"], input_size: int, hidden_size: int, num_layers: int, dropout: float
) -> nn.Module:
    """The stack for ``cell``: ``BookRecurrence`` or the fused ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (batch first)."""
    if impl == "book":
        return BookRecurrence(cell, input_size, hidden_size, num_layers, dropout)
    extra = {"nonlinearity": "tanh"} if cell == "elman" else {}
    return FUSED[cell](
        input_size, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0, **extra
    )
