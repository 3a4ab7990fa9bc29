"""The Gumbel-softmax relaxation and its straight-through form (chapter 9).

Relaxing the arg max of the Gumbel-max trick with a temperature tau gives a
differentiable sample of Cat(softmax(x)):

    y = softmax((x + g) / tau),   g_i = -log(-log U_i).

As tau -> 0, y tends to onehot(argmax(x + g)), an exact categorical sample;
as tau grows, y tends to the uniform vector 1/K. y is biased for every tau > 0
(it is never one-hot), but its gradient flows through x with low variance.

The straight-through Gumbel-softmax passes the exact sample forwards and y's
gradient backwards, with the *same* noise g in both:

    z = y + stopgrad(onehot(argmax(x + g)) - y).

Everything works along the last dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .estimator import Estimator
from .noise import check_categories, gumbel_noise, one_hot, sample_one_hot


def gumbel_softmax(
    x: Tensor, tau: float | Tensor, generator: torch.Generator | None = None, *, hard: bool = False
) -> Tensor:
    """One Gumbel-softmax sample y per row; with ``hard``, the straight-through one-hot z."""
    check_categories(x)
    s = x + gumbel_noise(x, generator)  # x_i + g_i
    y = torch.softmax(s / tau, dim=-1)
    if not hard:
        return y
    # the value is exactly the one-hot sample (no rounding from adding and
    # subtracting y), the gradient exactly y's
    return one_hot(s.detach().argmax(dim=-1), x.shape[-1], y) + (y - y.detach())


class GumbelSoftmax(Estimator):
    """hard: onehot(argmax(x + g)); soft: softmax((x + g) / tau); each call draws fresh noise g."""

    def hard(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sample_one_hot(x, generator)

    def soft(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return gumbel_softmax(x, self.temperature(tau), generator)

    def straight_through(
        self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        # not the base class's hard(x) + (soft - stopgrad soft): that would draw two different g
        return gumbel_softmax(x, self.temperature(tau), generator, hard=True)

    def sample(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return self.soft(x, tau, generator)


class StraightThroughGumbelSoftmax(GumbelSoftmax):
    """The straight-through Gumbel-softmax: ``sample`` and ``soft`` return exact one-hot samples with y's gradient."""

    def soft(self, x: Tensor, tau: float | Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return self.straight_through(x, tau, generator)
