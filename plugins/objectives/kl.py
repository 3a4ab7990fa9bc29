"""Kullback-Leibler divergence to a target distribution (chapter 2.4).

The batch holds a target distribution p over K classes per example (soft
labels, a teacher's probabilities); the model outputs logits z, and
q = softmax(z). The loss is

    KL(p || q) = sum_k p_k (log p_k - log q_k),

with 0 log 0 = 0. It is the cross-entropy -sum_k p_k log q_k less the entropy
of p, which does not depend on the model; for a one-hot p it equals the
cross-entropy loss. ``reduction="mean"`` averages the per-example divergence
over examples (PyTorch's ``"batchmean"``), ``"sum"`` adds it. Classes are the
last dimension; ``log_target`` says the batch holds log p instead of p.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target


class KLConfig(LossConfig):
    log_target: bool = Field(False, description="The target holds log-probabilities log p rather than p")


class KLDivergence(dpzoo.Loss):
    """KL(p || softmax(output)) with the target distribution p in ``batch[target]``."""

    Config = KLConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        c = self.config
        p = batch_target(batch, c.target, "loss 'kl'").to(output.dtype)
        log_q = F.log_softmax(output, dim=-1).reshape(-1, output.shape[-1])
        p = p.reshape(log_q.shape)
        reduction = "batchmean" if c.reduction == "mean" else "sum"
        return dpzoo.LossOutput(F.kl_div(log_q, p, reduction=reduction, log_target=c.log_target))
