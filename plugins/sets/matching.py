"""Set losses: Chamfer and Hungarian distances (section 1.3.2, chapter 16).

A loss between a predicted set Y^ = {y^_1..y^_n} and a target set
Y = {y_1..y_n} must not depend on either set's order. With the pairwise costs
C_ij = ||y^_i - y_j||^2 (squared Euclidean),

    Chamfer:   L_C(Y^, Y) = mean_i min_j C_ij + mean_j min_i C_ij
    Hungarian: L_H(Y^, Y) = min over permutations pi of mean_i C_{i, pi(i)}

The Hungarian minimum is an optimal assignment, found exactly by
scipy.optimize.linear_sum_assignment (scikit-learn depends on SciPy, so it
is always installed); the loss is then the mean cost of the matched pairs,
so gradients reach exactly the matched elements. Chamfer lets several
predictions share one target; Hungarian is a bijection.

Sets of different sizes. With masks, each function compares only the present
elements (m > 0): padding never matters. For set *prediction* with a fixed
capacity of N slots, the ``*_with_presence`` forms follow DSPN: each
predicted slot carries a presence m^_i in [0, 1] as an extra feature, the
target's n elements get presence 1 and are padded to N slots with the
all-zero element [0, 0] (coordinates 0, presence 0), so a prediction pays
for a wrong presence as for a wrong position. A target larger than the
capacity (n > N) is an error. The N - n padding slots are identical, so the
Hungarian matching is solved as an N x n assignment of the real targets
against costs C_ij - A_i, where A_i = ||y^_i||^2 + m^_i^2 is slot i's cost
of matching padding; this is exact and much faster than N x N.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .masks import SetError


def pairwise(a: Tensor, b: Tensor) -> Tensor:
    """C [B, N, M] with C_ij = ||a_i - b_j||^2, from a [B, N, d] and b [B, M, d].

    Expanded as ||a_i||^2 + ||b_j||^2 - 2 a_i.b_j: one matrix product instead of a
    [B, N, M, d] tensor of differences (342-point sets, ten inner steps: 15x
    less memory traffic). The rounding this costs is clamped at 0.
    """
    return (a.pow(2).sum(-1).unsqueeze(2) + b.pow(2).sum(-1).unsqueeze(1) - 2 * a @ b.transpose(1, 2)).clamp_min(0)


def _present(x: Tensor, mask: Tensor | None) -> Tensor:
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask > 0


def chamfer(pred: Tensor, target: Tensor, pred_mask: Tensor | None = None, target_mask: Tensor | None = None) -> Tensor:
    """L_C per example [B] over the present elements of both sets."""
    p, t = _present(pred, pred_mask), _present(target, target_mask)
    C = pairwise(pred, target)
    hidden = ~(p.unsqueeze(2) & t.unsqueeze(1))
    C = C.masked_fill(hidden, float("inf"))
    to_target = torch.where(p, C.min(dim=2).values, 0.0).sum(1) / p.sum(1)
    to_pred = torch.where(t, C.min(dim=1).values, 0.0).sum(1) / t.sum(1)
    return to_target + to_pred


def assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of an [n, m] cost matrix (n >= m matches every column)."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


def hungarian(
    pred: Tensor, target: Tensor, pred_mask: Tensor | None = None, target_mask: Tensor | None = None
) -> Tensor:
    """L_H per example [B] over the present elements; both sets of an example must have as many."""
    p, t = _present(pred, pred_mask), _present(target, target_mask)
    n_p, n_t = p.sum(1), t.sum(1)
    if not torch.equal(n_p, n_t):
        b = int((n_p != n_t).nonzero()[0])
        raise SetError(
            f"hungarian: example {b} has {int(n_p[b])} predicted and {int(n_t[b])} target elements; a matching "
            "needs equal sizes: use the presence form (the 'presence' option of the loss) for sets of different sizes"
        )
    C = pairwise(pred, target)
    costs = C.detach().double().cpu().numpy()
    rows, cols, batch = [], [], []
    for b in range(len(C)):
        i = p[b].nonzero().flatten().cpu().numpy()
        j = t[b].nonzero().flatten().cpu().numpy()
        r, c = assignment(costs[b][np.ix_(i, j)])
        rows.append(i[r]), cols.append(j[c]), batch.append(np.full(len(r), b))
    matched = C[_index(batch, C), _index(rows, C), _index(cols, C)]
    return torch.zeros(len(C), dtype=C.dtype, device=C.device).index_add(0, _index(batch, C), matched) / n_p.to(C.dtype)


def _index(parts: list[np.ndarray], like: Tensor) -> Tensor:
    return torch.from_numpy(np.concatenate(parts)).long().to(like.device)


# -- fixed capacity: presence as a feature (DSPN) ------------------------------------------
def with_presence(x: Tensor, m: Tensor) -> Tensor:
    """[x_i, m_i] for every slot: [B, N, d + 1]."""
    return torch.cat([x, m.unsqueeze(-1).to(x.dtype)], dim=-1)


def _padded_target(pred: Tensor, target: Tensor, target_mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """The target's elements with presence 1, padding zeroed, and its presence [B, M]; checks n <= N."""
    t = _present(target, target_mask)
    used = t.any(dim=0)
    if not bool(used.all()):  # slots that are padding in every example of the batch: drop them (exact, cheaper)
        target, t = target[:, used], t[:, used]
    n, capacity = t.sum(1), pred.shape[1]
    if bool((n > capacity).any()):
        raise SetError(
            f"a target set has {int(n.max())} elements but the prediction has {capacity} slots: "
            "raise the model's set size (max_elements) to at least the data's largest set"
        )
    t = t.to(target.dtype)
    return with_presence(target * t.unsqueeze(-1), t), t


def chamfer_with_presence(
    pred: Tensor, pred_presence: Tensor, target: Tensor, target_mask: Tensor | None = None
) -> Tensor:
    """L_C [B] between N slots [y^_i, m^_i] and the target padded to N slots with [0, 0]."""
    P = with_presence(pred, pred_presence)
    T, t = _padded_target(pred, target, target_mask)
    A = P.pow(2).sum(-1)  # [B, N]: cost of each slot against padding [0, 0]
    C = pairwise(P, T).masked_fill(t.unsqueeze(1) == 0, float("inf"))
    N = pred.shape[1]
    pads = N - t.sum(1, keepdim=True)  # how many padding slots the target has: N - n
    nearest = C.min(dim=2).values  # inf for every slot when n = 0
    to_target = torch.where(pads > 0, torch.minimum(nearest, A), nearest).mean(1)
    to_pred = (torch.where(t > 0, C.min(dim=1).values, 0.0).sum(1) + pads.squeeze(1) * A.min(dim=1).values) / N
    return to_target + to_pred


def hungarian_with_presence(
    pred: Tensor, pred_presence: Tensor, target: Tensor, target_mask: Tensor | None = None
) -> Tensor:
    """L_H [B] between N slots [y^_i, m^_i] and the target padded to N slots with [0, 0] (see the docstring)."""
    P = with_presence(pred, pred_presence)
    T, t = _padded_target(pred, target, target_mask)
    A = P.pow(2).sum(-1)  # [B, N]
    C = pairwise(P, T)
    reduced = (C - A.unsqueeze(2)).detach().double().cpu().numpy()
    present = t > 0
    rows, cols, batch = [], [], []
    for b in range(len(C)):
        j = present[b].nonzero().flatten().cpu().numpy()
        r, c = assignment(reduced[b][:, j])
        rows.append(r), cols.append(j[c]), batch.append(np.full(len(r), b))
    bi, ri, ci = _index(batch, C), _index(rows, C), _index(cols, C)
    gain = torch.zeros(len(C), dtype=C.dtype, device=C.device).index_add(0, bi, C[bi, ri, ci] - A[bi, ri])
    return (A.sum(1) + gain) / pred.shape[1]
