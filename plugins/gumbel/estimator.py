"""What every estimator here shares: a relaxation that samples, and a surrogate loss.

An estimator is a ``dpzoo.Relaxation`` (``hard``, ``soft``, ``straight_through``
over logits x, all random) with two more methods a model calls while training:

* ``sample(x, tau)`` draws z, one (possibly relaxed) one-hot vector per row of
  the last dimension, from Cat(softmax(x));
* ``surrogate(f, log_q)`` turns the per-sample loss f(z) and the sample's
  log-probability log q(z) into a tensor whose value is f and whose gradient
  is the estimator's. Reparameterised estimators differentiate through z, so
  their surrogate is f itself; REINFORCE adds the score-function term.

Estimators are ``nn.Module``s so that state (REINFORCE's baseline) lives in
the model's ``state_dict``, moves with ``.to(device)`` and is restored on resume.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dpzoo.plugins.relaxations.common import RelaxationConfig, TemperatureRelaxation

from .noise import check_categories


def check_temperature(tau: float | Tensor) -> float | Tensor:
    """tau itself, or an error when it is not a positive number (a tensor tau costs one device sync)."""
    bad = bool((tau <= 0).any() | ~torch.isfinite(tau).all()) if isinstance(tau, Tensor) else not (0 < tau < math.inf)
    if bad:
        raise ValueError(
            f"the temperature tau must be a positive finite number, got {tau!r}; anneal towards a floor such as 0.5, not to 0"
        )
    return tau


class Estimator(nn.Module, TemperatureRelaxation):
    """A gradient estimator for categorical samples; see the module docstring."""

    Config = RelaxationConfig

    def __init__(self, config: RelaxationConfig | None = None) -> None:
        nn.Module.__init__(self)
        TemperatureRelaxation.__init__(self, config)

    def temperature(self, tau: float | Tensor | None) -> float | Tensor:
        return check_temperature(super().temperature(tau))

    def sample(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """z ~ Cat(softmax(x)) as (relaxed) one-hot rows; differentiable as the estimator allows."""
        raise NotImplementedError  # pragma: no cover - interface

    def forward(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        check_categories(x)
        return self.sample(x, tau, generator)

    def surrogate(self, f: Tensor, log_q: Tensor) -> Tensor:
        """Per-sample loss whose gradient is the estimator's; f itself for a reparameterised sample."""
        return f
