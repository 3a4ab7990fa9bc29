"""DeepSets' pooling (Zaheer et al., 2017; chapter 16): the sum or the mean over a set.

A function of a set is permutation-invariant when it can be written
f(X) = rho( sum_i phi(x_i) ); with a mask m over padded slots the sum runs over
the set's own elements only,

    sum:  s = sum_i m_i phi(x_i)
    mean: s = sum_i m_i phi(x_i) / sum_i m_i

Addition is commutative, so s does not depend on the order of the elements,
and a padded slot (m_i = 0) adds nothing.
"""

from __future__ import annotations

from torch import Tensor, nn


class SumPool(nn.Module):
    """s = sum_i m_i h_i over the element axis of h [B, N, D]."""

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        return (h * mask.unsqueeze(-1)).sum(dim=1)


class MeanPool(nn.Module):
    """s = sum_i m_i h_i / sum_i m_i over the element axis of h [B, N, D]."""

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        # an all-absent relaxed set (DSPN's mask driven to 0) pools to 0, not 0/0
        return (h * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1e-12)
