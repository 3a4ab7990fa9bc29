"""Mini-batch stochastic gradient descent, plain and with momentum (chapter 6).

``sgd`` steps against the gradient g_t of the mini-batch loss L_b(t):

    g_t     = grad_theta L_b(t)(theta_{t-1}) + lambda theta_{t-1}
    theta_t = theta_{t-1} - eta g_t

``momentum`` follows a leaky average of the gradients, the velocity v_t
(PyTorch's variant, which the book follows; v_1 = g_1):

    v_t     = beta v_{t-1} + g_t
    theta_t = theta_{t-1} - eta v_t

With Nesterov's look-ahead the step uses the gradient plus the new velocity,
theta_t = theta_{t-1} - eta (g_t + beta v_t). The book suggests beta = 0.9.
"""

from __future__ import annotations

from pydantic import Field
from torch.optim import SGD

from .common import OptimiserConfig


class SGDConfig(OptimiserConfig):
    lr: float = Field(0.1, gt=0.0, description="Learning rate eta")


class MomentumConfig(OptimiserConfig):
    lr: float = Field(0.01, gt=0.0, description="Learning rate eta")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="Momentum beta in v_t = beta v_{t-1} + g_t")
    nesterov: bool = Field(False, description="Step with g_t + beta v_t (Nesterov) instead of v_t")


def sgd(params, config: SGDConfig | None = None) -> SGD:
    """theta_t = theta_{t-1} - eta g_t."""
    c = config or SGDConfig()
    return SGD(params, lr=c.lr, weight_decay=c.weight_decay)


def momentum(params, config: MomentumConfig | None = None) -> SGD:
    """v_t = beta v_{t-1} + g_t; theta_t = theta_{t-1} - eta v_t (or eta (g_t + beta v_t) with Nesterov)."""
    c = config or MomentumConfig()
    return SGD(params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay)


sgd.Config = SGDConfig
momentum.Config = MomentumConfig
