"""Huber loss (chapters 2.4 and 9): squared error near zero, absolute error beyond.

With d = y_hat - y and threshold delta,

    l_delta(d) = 0.5 d^2                    if |d| < delta
                 delta (|d| - 0.5 delta)    otherwise.

At delta = 1 this is the book's smooth L1 loss, 0.5 d^2 inside the unit band
and |d| - 0.5 outside: the L1 loss relaxed so that its gradient shrinks
smoothly to zero instead of flipping sign at the origin. Large errors count
linearly, so outliers pull less than under MSE.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target, like_output


class HuberConfig(LossConfig):
    delta: float = Field(1.0, gt=0.0, description="Threshold delta where the loss turns from quadratic to linear")


class Huber(dpzoo.Loss):
    """Huber (smooth L1 at delta = 1) loss between the output and ``batch[target]``."""

    Config = HuberConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        c = self.config
        y = like_output(batch_target(batch, c.target, "loss 'huber'"), output)
        return dpzoo.LossOutput(F.huber_loss(output, y, reduction=c.reduction, delta=c.delta))
