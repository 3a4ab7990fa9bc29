"""RMSProp (chapter 6): Adagrad with a leaky average of squared gradients.

Adagrad's sum G_t only grows, so its steps shrink for ever; RMSProp forgets
old gradients at rate alpha, which decouples the step size from the history:

    g_t     = grad_theta L_b(t)(theta_{t-1}) + lambda theta_{t-1}
    s_t     = alpha s_{t-1} + (1 - alpha) g_t^2                 (s_0 = 0)
    theta_t = theta_{t-1} - eta g_t / (sqrt(s_t) + eps)

``centered`` divides by an estimate of the gradient's variance instead,
sqrt(s_t - gbar_t^2) with gbar_t = alpha gbar_{t-1} + (1 - alpha) g_t; with
``momentum`` mu the scaled gradient feeds a velocity,
b_t = mu b_{t-1} + g_t / (sqrt(s_t) + eps) and theta_t = theta_{t-1} - eta b_t.
"""

from __future__ import annotations

from pydantic import Field
from torch.optim import RMSprop

from .common import OptimiserConfig


class RMSPropConfig(OptimiserConfig):
    lr: float = Field(1e-3, gt=0.0, description="Learning rate eta")
    alpha: float = Field(0.99, ge=0.0, lt=1.0, description="Decay alpha of the running average s_t of g_t^2")
    eps: float = Field(1e-8, gt=0.0, description="eps added to sqrt(s_t) so the step stays finite")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum mu applied to the scaled gradient")
    centered: bool = Field(False, description="Scale by the gradient's estimated variance, not its second moment")


def rmsprop(params, config: RMSPropConfig | None = None) -> RMSprop:
    """s_t = alpha s_{t-1} + (1 - alpha) g_t^2; theta_t = theta_{t-1} - eta g_t / (sqrt(s_t) + eps)."""
    c = config or RMSPropConfig()
    return RMSprop(
        params,
        lr=c.lr,
        alpha=c.alpha,
        eps=c.eps,
        weight_decay=c.weight_decay,
        momentum=c.momentum,
        centered=c.centered,
    )


rmsprop.Config = RMSPropConfig
