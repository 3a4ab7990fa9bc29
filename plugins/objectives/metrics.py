"""Classification metrics, one value per example (chapters 1.3 and 2.4).

The predicted class is the arg max of the logits, l_hat = argmax_k z_k
(z > 0 for a single binary logit per example). Per example:

    accuracy   = [l_hat = l]           (1. or 0.)
    error_rate = [l_hat != l] = 1 - accuracy
    nll        = -log softmax(z)_l = -z_l + log sum_k exp(z_k)

The trainer averages the values over an epoch, so the epoch's nll is the
cross-entropy loss without label smoothing. Classes are the last dimension;
a sequence model's ``(N, T, K)`` logits give ``N * T`` values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

import dpzoo

from .common import TargetConfig, batch_target, classes_last


def predicted_class(output: Tensor, target: Tensor) -> Tensor:
    """arg max over the last dimension, or ``output > 0`` when there is one logit per target."""
    if output.numel() == target.numel():
        return (output.reshape(target.shape) > 0).long()
    return output.argmax(dim=-1)


class Accuracy(dpzoo.Metric):
    """1. where the predicted class is ``batch[target]``, else 0."""

    Config = TargetConfig
    higher_is_better = True

    def __call__(self, output: Tensor, batch) -> Tensor:
        y = batch_target(batch, self.config.target, "metric 'accuracy'")
        return (predicted_class(output, y) == y).reshape(-1).float()


class ErrorRate(dpzoo.Metric):
    """1. where the predicted class differs from ``batch[target]``, else 0."""

    Config = TargetConfig
    higher_is_better = False

    def __call__(self, output: Tensor, batch) -> Tensor:
        y = batch_target(batch, self.config.target, "metric 'error_rate'")
        return (predicted_class(output, y) != y).reshape(-1).float()


class NLL(dpzoo.Metric):
    """Negative log-likelihood -log softmax(output)_l of the target class l, in nats."""

    Config = TargetConfig
    higher_is_better = False

    def __call__(self, output: Tensor, batch) -> Tensor:
        z, y = classes_last(output, batch_target(batch, self.config.target, "metric 'nll'"))
        z = z.detach().to(torch.promote_types(z.dtype, torch.float32))  # at least float32 under autocast
        return F.cross_entropy(z, y, reduction="none")
