"""The diagonal Gaussian of a VAE's encoder and prior (chapters 9.3 and 14.2).

The encoder outputs the sufficient statistics of q(z|x) = N(mu, diag(sigma^2)),
as ``mu`` and ``logvar`` = log sigma^2 (unconstrained, so any real output is
valid). The prior is p(z) = N(0, I).

Reparameterisation (chapter 9): z = mu + sigma * eps, eps ~ N(0, I), so z is
a differentiable function of (mu, logvar) and the randomness is an input.

Log density of a diagonal Gaussian, summed over the d coordinates:
    log N(z; mu, sigma^2) = -1/2 sum_j [log 2 pi + log sigma_j^2 + (z_j - mu_j)^2 / sigma_j^2]

KL divergence to the prior, in closed form:
    KL(q(z|x) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)
and its single-sample Monte-Carlo estimate at z ~ q(z|x):
    KL_hat = log q(z|x) - log p(z),
unbiased, with a variance that the closed form avoids.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def reparameterise(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """z = mu + sigma * eps with sigma = exp(logvar / 2)."""
    return mu + torch.exp(0.5 * logvar) * eps


def log_normal(z: Tensor, mu: Tensor | float = 0.0, logvar: Tensor | float = 0.0) -> Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def kl_analytic(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per example: 1/2 sum_j (mu^2 + sigma^2 - log sigma^2 - 1)."""
    return 0.5 * (mu**2 + torch.exp(logvar) - logvar - 1).sum(-1)


def kl_monte_carlo(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log q(z|x) - log p(z) at a sample z ~ q(z|x): an unbiased estimate of the KL, per example."""
    return log_normal(z, mu, logvar) - log_normal(z)
