"""The negative ELBO as a loss (chapter 14.2), for any VAE whose output follows this API.

For one example x, the evidence lower bound is

    ELBO(x) = E_{z ~ q(z|x)} log p(x|z) - KL(q(z|x) || p(z))  <=  log p(x),

estimated with the sample z the model drew by reparameterisation. The loss
is its negative, in nats per example, averaged over the batch:

    loss = mean_n [ -log p(x_n|z_n) + beta * KL_n ]

with terms ``reconstruction`` (mean -log p(x|z)) and ``kl`` (mean KL) logged
separately. ``beta`` weights the KL while training (KL warm-up: the trainer's
schedule named ``beta`` sets the model's ``beta``, and the model passes it on
in its output); evaluation outputs carry no ``beta``, so evaluated losses are
always the true negative ELBO, beta = 1.

The output API (a dict), which any model may fill (the Gaussian VAE here, a
categorical VAE elsewhere):

* the decoder's parameters: ``"x_logits"`` (Bernoulli) or ``"x_mean"`` and
  ``"x_logvar"`` (Gaussian), shaped like x (see ``likelihood``);
* ``"kl"``: KL(q(z|x) || p(z)) per example, [N], computed by the model,
  which knows its posterior and prior (analytic or a Monte-Carlo estimate);
* optionally ``"beta"``: a scalar weight on the KL (training only).

``negative_elbo(output, x)`` gives the per-example pair (reconstruction, kl)
for metrics and tests.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field
from torch import Tensor

import dpzoo
from dpzoo.plugins.autoencoders.checks import check_unit_interval

from .likelihood import negative_log_likelihood


class ELBOConfig(dpzoo.Config):
    target: str = Field("x", description="Batch key that holds the data x the decoder reconstructs")


def negative_elbo(output: Mapping[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """(-log p(x|z), KL) per example; their sum is the single-sample negative ELBO."""
    if "kl" not in output:
        raise KeyError(f"a VAE's output must hold the per-example 'kl'; it has {sorted(output)}")
    return negative_log_likelihood(output, x), output["kl"]


class ELBO(dpzoo.Loss):
    """Negative ELBO: reconstruction -log p(x|z) plus beta times KL(q(z|x) || p(z)), nats per example."""

    Config = ELBOConfig

    def __init__(self, config: ELBOConfig | None = None) -> None:
        super().__init__(config)
        self._checked = False  # the data's range is checked once, on the first batch

    def __call__(self, output: Mapping[str, Tensor], batch) -> dpzoo.LossOutput:
        x = batch[self.config.target]
        if not self._checked and "x_logits" in output:
            check_unit_interval(x, "model.decoder=bernoulli", "model.decoder=gaussian")
            self._checked = True
        reconstruction, kl = negative_elbo(output, x)
        reconstruction, kl = reconstruction.mean(), kl.mean()
        beta = output.get("beta")
        total = reconstruction + (kl if beta is None else beta * kl)
        return dpzoo.LossOutput(total, {"reconstruction": reconstruction, "kl": kl})
