"""The decoder's likelihood p(x|z) (chapter 14.2), read from a model's output dict.

A decoder says which distribution it outputs by the keys it fills:

* Bernoulli, for binary x: ``"x_logits"`` = l, with p(x_i = 1 | z) = sigmoid(l_i);
      -log p(x|z) = sum_i [softplus(l_i) - x_i l_i]   (binary cross-entropy on logits);
* Gaussian, for real x: ``"x_mean"`` = m and ``"x_logvar"`` = log s^2;
      -log p(x|z) = 1/2 sum_i [log 2 pi + log s_i^2 + (x_i - m_i)^2 / s_i^2].

Sums run over every dimension but the first (the example), so each value is
in nats per example. A Bernoulli likelihood is only defined for x in [0, 1]
(and is a true likelihood only for x in {0, 1}): the model and the loss
refuse other data with ``autoencoders.checks.check_unit_interval`` (``model.decoder=gaussian`` suits them).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor

from .gaussian import LOG_2PI


def negative_log_likelihood(output: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """-log p(x|z) per example, for the decoder distribution named by ``output``'s keys."""
    if "x_logits" in output:
        logits = output["x_logits"]
        return (
            F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape).to(logits.dtype), reduction="none")
            .flatten(1)
            .sum(1)
        )
    if "x_mean" in output:
        mean, logvar = output["x_mean"], output["x_logvar"]
        x = x.reshape(mean.shape).to(mean.dtype)
        return (0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * (-logvar).exp())).flatten(1).sum(1)
    raise KeyError(
        "a VAE's output must hold the decoder's parameters: 'x_logits' (Bernoulli) or 'x_mean' and 'x_logvar' "
        f"(Gaussian); it has {sorted(output)}"
    )
