"""REINFORCE, the score-function estimator (chapter 9, eqs. 9.1-9.4).

The expected loss over a discrete y ~ p(y; omega) is smooth in omega even
though L(y) is a step function of the sample. Differentiating eq. 9.1,

    d E[L(y)] / d omega = sum_y L(y) p(y) d log p(y) / d omega          (9.3)
                        ~ (1/m) sum_i L(y^(i)) d log p(y^(i)) / d omega   (9.4)

with y^(i) ~ p(y): an unbiased Monte Carlo estimate, but a noisy one. Since
E[d log p(y) / d omega] = sum_y d p(y) / d omega = 0, subtracting any constant
b from L leaves the estimate unbiased; a b close to E[L] lowers its variance.
The baseline here is a moving average of past losses,

    b <- decay * b + (1 - decay) * mean(L),

updated *after* it is used, so b never depends on the samples it multiplies.

Autograd computes the estimate from a surrogate whose value is L and whose
gradient is eq. 9.4 (plus L's own gradient through any other path, such as a
decoder's weights):

    surrogate = L + stopgrad(L - b) * (log p(y) - stopgrad(log p(y))).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from dpzoo.plugins.relaxations.common import RelaxationConfig

from .estimator import Estimator
from .noise import sample_one_hot


def categorical_log_prob(x: Tensor, z: Tensor) -> Tensor:
    """log q(z) = sum_k z_k log softmax(x)_k for one-hot rows z, summed over every latent but the batch's."""
    log_p = (z * torch.log_softmax(x, dim=-1)).sum(dim=-1)
    return log_p.flatten(1).sum(dim=1) if log_p.dim() > 1 else log_p


def reinforce(f: Tensor, log_q: Tensor, baseline: float | Tensor = 0.0) -> Tensor:
    """Per-sample surrogate: value f, gradient df + (f - b) d log q (eq. 9.4 with a baseline b)."""
    return f + (f - baseline).detach() * (log_q - log_q.detach())


class MovingAverageBaseline(nn.Module):
    """b, an exponential moving average of the mean loss; its state is in the model's ``state_dict``."""

    def __init__(self, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("value", torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, f: Tensor) -> None:
        mean = f.detach().mean().to(self.value.dtype)
        # the first update starts the average at the first batch's mean, not at 0
        weight = torch.where(self.updates > 0, self.decay, 0.0)
        self.value.copy_(weight * self.value + (1 - weight) * mean)
        self.updates += 1


class ReinforceConfig(RelaxationConfig):
    baseline: bool = Field(
        True, description="Subtract a moving-average baseline b from the loss (unbiased, lower variance)"
    )
    decay: float = Field(
        0.99, ge=0.0, lt=1.0, description="Weight of the old baseline in b <- decay b + (1 - decay) mean(L)"
    )


class Reinforce(Estimator):
    """Exact one-hot samples with no pathwise gradient; ``surrogate`` carries the score-function gradient.

    REINFORCE relaxes nothing: ``hard``, ``soft`` and ``straight_through`` all
    return a fresh sample onehot(argmax(x + g)); tau is accepted and ignored.
    """

    Config = ReinforceConfig

    def __init__(self, config: ReinforceConfig | None = None) -> None:
        super().__init__(config)
        self.baseline = MovingAverageBaseline(self.config.decay) if self.config.baseline else None

    def hard(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sample_one_hot(x, generator)

    def soft(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        self.temperature(tau)  # still an error when tau <= 0, as for every relaxation
        return sample_one_hot(x, generator)

    def straight_through(
        self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        return self.soft(x, tau, generator)

    def sample(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return self.soft(x, tau, generator)

    def surrogate(self, f: Tensor, log_q: Tensor) -> Tensor:
        if self.baseline is None:
            return reinforce(f, log_q)
        b = self.baseline.value.clone()  # the value before this batch updates it
        self.baseline.update(f)
        return reinforce(f, log_q, b)
