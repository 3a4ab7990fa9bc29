"""The multilayer perceptron (chapters 2-4 and 7).

Each hidden layer computes h_l = sigma(W_l h_{l-1} + b_l), with h_0 = x
flattened; the output layer is affine, z = W_L h_{L-1} + b_L, and gives the
logits of a softmax classifier. With no hidden layers the model is softmax
regression, z = W x + b. With ``residual`` on, a hidden layer whose width
equals its input's adds a skip connection, h_l = h_{l-1} + sigma(W_l h_{l-1} + b_l)
(chapter 7's remedy for depth); dropout follows each hidden activation and,
like every dropout, is off in evaluation mode.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field
from torch import Tensor, nn

import dpzoo

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


class MLPConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(None, description="Shape of one input example; read from the data when unset")
    num_classes: int | None = Field(None, description="Number of output logits; read from the data when unset")
    hidden: list[int] = Field([128], description="Width of each hidden layer; [] is softmax regression")
    activation: Literal["relu", "tanh", "sigmoid", "softplus", "identity"] = Field(
        "relu", description="Nonlinearity sigma after each hidden layer"
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout probability after each hidden activation")
    residual: bool = Field(False, description="Skip connection around hidden layers whose width is unchanged")


class HiddenLayer(nn.Module):
    """h = sigma(W h_prev + b), plus h_prev when residual."""

    def __init__(self, d_in: int, d_out: int, activation: str, dropout: float, residual: bool):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.sigma = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual and d_in == d_out

    def forward(self, h: Tensor) -> Tensor:
        out = self.dropout(self.sigma(self.linear(h)))
        return h + out if self.residual else out


class MLP(dpzoo.Model):
    """Multilayer perceptron classifier over flattened inputs."""

    Config = MLPConfig
    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)
    data_fields = ("input_shape", "num_classes")

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        widths = [math.prod(c.input_shape), *c.hidden]
        self.hidden = nn.Sequential(
            *(HiddenLayer(a, b, c.activation, c.dropout, c.residual) for a, b in zip(widths, widths[1:]))
        )
        self.output = nn.Linear(widths[-1], c.num_classes)

    def forward(self, batch) -> Tensor:
        x = self.inputs(batch).flatten(1)
        return self.output(self.hidden(x))
