"""Adagrad (chapter 6): a learning rate per weight, shrinking with its gradient history.

Each weight accumulates its squared gradients, so weights that have seen
large gradients take smaller steps (useful for sparse features):

    g_t     = grad_theta L_b(t)(theta_{t-1}) + lambda theta_{t-1}
    G_t     = G_{t-1} + g_t^2                       (G_0 = initial_accumulator_value)
    eta_t   = eta / (1 + (t - 1) lr_decay)
    theta_t = theta_{t-1} - eta_t g_t / (sqrt(G_t) + eps)

Squares, roots and divisions are element-wise.
"""

from __future__ import annotations

from pydantic import Field
from torch.optim import Adagrad

from .common import OptimiserConfig


class AdagradConfig(OptimiserConfig):
    lr: float = Field(0.01, gt=0.0, description="Learning rate eta")
    lr_decay: float = Field(0.0, ge=0.0, description="eta_t = eta / (1 + (t - 1) lr_decay)")
    initial_accumulator_value: float = Field(0.0, ge=0.0, description="Starting sum of squared gradients G_0")
    eps: float = Field(1e-10, gt=0.0, description="eps added to sqrt(G_t) so the step stays finite")


def adagrad(params, config: AdagradConfig | None = None) -> Adagrad:
    """G_t = G_{t-1} + g_t^2; theta_t = theta_{t-1} - eta_t g_t / (sqrt(G_t) + eps)."""
    c = config or AdagradConfig()
    return Adagrad(
        params,
        lr=c.lr,
        lr_decay=c.lr_decay,
        weight_decay=c.weight_decay,
        initial_accumulator_value=c.initial_accumulator_value,
        eps=c.eps,
    )


adagrad.Config = AdagradConfig
