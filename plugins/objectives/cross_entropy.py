"""Categorical cross-entropy on logits (chapter 2.4).

The model outputs logits z in R^K; softmax turns them into class probabilities
y_hat_k = exp(z_k) / sum_j exp(z_j). For a one-hot target y the negative
log-likelihood of the categorical distribution is

    l_NLL = -sum_k y_k log(y_hat_k) = -log(y_hat_l)     (l the target class)
          = -z_l + log sum_j exp(z_j),

computed from the logits with the log-sum-exp trick (PyTorch's LogSoftmax +
NLLLoss). Minimising it is minimising KL(y || y_hat). Label smoothing with
weight epsilon replaces the one-hot y by (1 - epsilon) y + epsilon / K.

Classes are the last dimension of the output: ``(N, K)`` logits with ``(N,)``
targets, or ``(N, T, K)`` with ``(N, T)`` for sequence models, where every
position counts as one example.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target, classes_last


class CrossEntropyConfig(LossConfig):
    label_smoothing: float = Field(
        0.0, ge=0.0, le=1.0, description="Weight epsilon of the uniform distribution mixed into the one-hot target"
    )
    ignore_index: int = Field(-100, description="Target value that contributes nothing (padding, say)")


class CrossEntropy(dpzoo.Loss):
    """Cross-entropy between softmax(output) and the class indices in ``batch[target]``."""

    Config = CrossEntropyConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        c = self.config
        z, y = classes_last(output, batch_target(batch, c.target, "loss 'cross_entropy'"))
        total = F.cross_entropy(
            z, y, reduction=c.reduction, label_smoothing=c.label_smoothing, ignore_index=c.ignore_index
        )
        return dpzoo.LossOutput(total)
