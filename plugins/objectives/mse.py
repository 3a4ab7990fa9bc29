"""Mean squared error (chapter 2.4), the default objective for regression.

For one example with prediction y_hat and target y (vectors or scalars)

    l_MSE(y_hat, y) = sum_i (y_hat_i - y_i)^2 = (y_hat - y)^T (y_hat - y).

``reduction="sum"`` adds this over the batch; ``"mean"`` (the default, as in
``torch.nn.MSELoss``) divides the sum by the number of elements, so the scale
does not grow with the batch or the output size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target, like_output


class MSE(dpzoo.Loss):
    """Squared error between the output and ``batch[target]``."""

    Config = LossConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        y = like_output(batch_target(batch, self.config.target, "loss 'mse'"), output)
        return dpzoo.LossOutput(F.mse_loss(output, y, reduction=self.config.reduction))
