"""Adam and AdamW (chapter 6): momentum and RMSProp with bias correction.

Adam keeps leaky averages of the gradient (first moment, as in momentum) and
of its square (second moment, as in RMSProp), and corrects both for their
start at zero:

    g_t     = grad_theta L_b(t)(theta_{t-1}) + lambda theta_{t-1}
    m_t     = beta_1 m_{t-1} + (1 - beta_1) g_t                 (m_0 = 0)
    v_t     = beta_2 v_{t-1} + (1 - beta_2) g_t^2               (v_0 = 0)
    m_hat_t = m_t / (1 - beta_1^t)
    v_hat_t = v_t / (1 - beta_2^t)
    theta_t = theta_{t-1} - eta m_hat_t / (sqrt(v_hat_t) + eps)

AdamW decouples the weight decay from the gradient: g_t is the plain gradient
and the weights shrink directly, theta_{t-1} <- (1 - eta lambda) theta_{t-1},
before the step above. ``amsgrad`` divides by the running maximum of v_hat_t.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch.optim import Adam, AdamW

from .common import OptimiserConfig

Beta = Annotated[float, Field(ge=0.0, lt=1.0)]


class AdamConfig(OptimiserConfig):
    lr: float = Field(1e-3, gt=0.0, description="Learning rate eta")
    betas: tuple[Beta, Beta] = Field(
        (0.9, 0.999), description="Decays (beta_1, beta_2) of the first and second moments"
    )
    eps: float = Field(1e-8, gt=0.0, description="eps added to sqrt(v_hat_t) so the step stays finite")
    amsgrad: bool = Field(False, description="Divide by the running maximum of v_hat_t (AMSGrad)")


class AdamWConfig(AdamConfig):
    weight_decay: float = Field(0.01, ge=0.0, description="Decoupled decay lambda: theta <- (1 - eta lambda) theta")


def adam(params, config: AdamConfig | None = None) -> Adam:
    """theta_t = theta_{t-1} - eta m_hat_t / (sqrt(v_hat_t) + eps)."""
    c = config or AdamConfig()
    return Adam(params, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay, amsgrad=c.amsgrad)


def adamw(params, config: AdamWConfig | None = None) -> AdamW:
    """Adam with decoupled weight decay: theta <- (1 - eta lambda) theta, then Adam's step."""
    c = config or AdamWConfig()
    return AdamW(params, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay, amsgrad=c.amsgrad)


adam.Config = AdamConfig
adamw.Config = AdamWConfig
