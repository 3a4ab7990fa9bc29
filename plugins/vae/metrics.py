"""Likelihood metrics of a VAE, in nats per example (chapter 14.2).

``neg_elbo``: the single-sample negative ELBO, -log p(x|z) + KL, beta = 1.

``iw_nll``: the importance-weighted estimate of -log p(x) (Burda, Grosse and
Salakhutdinov's IWAE bound). With z_1..z_k drawn from q(z|x) and log weights

    log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x),

    L_k = log (1/k) sum_j w_j = logsumexp_j(log w_j) - log k  <=  log p(x).

By Jensen's inequality L_k >= mean_j log w_j (an ELBO estimate); E[L_k]
rises with k and tends to log p(x) as k -> infinity. The model supplies the
k log weights in evaluation as ``output["log_w"]`` ([N, k], k =
``model.iw_samples``); the metric is -L_k.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

import dpzoo

from .elbo import ELBOConfig, negative_elbo


def iw_bound(log_w: Tensor) -> Tensor:
    """L_k = logsumexp(log w) - log k per example, from log weights [N, k]."""
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


class NegativeELBO(dpzoo.Metric):
    """-ELBO per example: -log p(x|z) + KL(q(z|x) || p(z)), in nats."""

    Config = ELBOConfig
    higher_is_better = False

    def __call__(self, output, batch) -> Tensor:
        reconstruction, kl = negative_elbo(output, batch[self.config.target])
        return reconstruction + kl


class ImportanceWeightedNLL(dpzoo.Metric):
    """-L_k per example: the importance-weighted upper bound on -log p(x), in nats (k = model.iw_samples)."""

    higher_is_better = False

    def __call__(self, output, batch) -> Tensor:
        if "log_w" not in output:
            raise dpzoo.ConfigError(
                "metric 'iw_nll' needs the model's importance log weights in evaluation: set model.iw_samples "
                "to the number of samples k (e.g. --set model.iw_samples=1000)"
            )
        return -iw_bound(output["log_w"].double()).float()
