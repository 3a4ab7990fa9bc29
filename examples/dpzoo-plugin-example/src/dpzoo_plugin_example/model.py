"""A one-hidden-layer perceptron: z = W_2 tanh(W_1 x + b_1) + b_2.

The smallest model that can bend a decision boundary around two moons; the
output z holds the logits of a softmax classifier.
"""

from __future__ import annotations

import math

from pydantic import Field
from torch import Tensor, nn

import dpzoo


class TinyMLPConfig(dpzoo.Config):
    # Fields named like keys of the dataset's info() are filled from the data when left unset.
    input_shape: list[int] | None = Field(None, description="Shape of one input example; read from the data when unset")
    num_classes: int | None = Field(None, description="Number of output logits; read from the data when unset")
    hidden: int = Field(64, ge=1, description="Width of the hidden layer")


class TinyMLP(dpzoo.Model):
    """z = W_2 tanh(W_1 x + b_1) + b_2 over flattened inputs."""

    Config = TinyMLPConfig
    # What `tools/train.py` uses when the command line names no loss or metric.
    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)
    data_fields = ("input_shape", "num_classes")  # filled from the data by `dpzoo train`

    def __init__(self, config: TinyMLPConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.hidden = nn.Sequential(nn.Linear(math.prod(c.input_shape), c.hidden), nn.Tanh())
        self.output = nn.Linear(c.hidden, c.num_classes)

    def forward(self, batch) -> Tensor:
        x = self.inputs(batch).flatten(1)
        return self.output(self.hidden(x))
