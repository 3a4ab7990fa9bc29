"""Binary cross-entropy on logits (chapter 2.4).

For a label y in {0, 1} and predicted probability y_hat = sigmoid(z),

    l_BCE(y_hat, y) = -y log(y_hat) - (1 - y) log(1 - y_hat),

the negative log-likelihood of a Bernoulli. With K independent labels (multi-
label classification) the losses of the K outputs are added. The loss takes the
logits z, not y_hat: sigmoid and log are fused with the log-sum-exp trick,
log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), so a confident wrong prediction
gives a large finite loss instead of log(0). ``reduction="mean"`` divides the
sum over examples and labels by their number.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target, like_output


class BCEWithLogits(dpzoo.Loss):
    """Binary cross-entropy between sigmoid(output) and the 0/1 targets in ``batch[target]``."""

    Config = LossConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        y = like_output(batch_target(batch, self.config.target, "loss 'bce_logits'"), output)
        return dpzoo.LossOutput(F.binary_cross_entropy_with_logits(output, y, reduction=self.config.reduction))
